import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * Apache Curator's recipes, run unchanged against a ZooKeeper connect string (ZooKeeper's or
 * Synod's), each checking the guarantee it promises. Every line printed is one of:
 *
 * <pre>
 * CHECK &lt;name&gt; ok|FAIL &lt;detail&gt;    a guarantee held, or not
 * FACT &lt;name&gt; &lt;value&gt;              what a server answered, for comparing two servers
 * STATE &lt;word&gt; [value]              progress the driving process waits for
 * TIME &lt;name&gt; &lt;ms&gt;                 a measured duration
 * </pre>
 *
 * Modes: {@code recipes} (every recipe on one server), {@code hold} (take a mutex and a
 * latch, then wait to be killed), {@code takeover} (wait for what {@code hold} holds, reading
 * "killed" on stdin when the holder is dead), {@code faults} (recipes under load while the
 * driver kills a member; "killed" on stdin), {@code bench-mutex} (mutex throughput).
 */
public final class CuratorChecks {
  private static final int SESSION_TIMEOUT_MS = 4000;
  private static final BlockingQueue<String> stdin = new LinkedBlockingQueue<>();
  private static final AtomicInteger failures = new AtomicInteger();
  private static final List<CuratorFramework> clients = Collections.synchronizedList(new ArrayList<>());
  private static String connectString;

  private CuratorChecks() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CuratorChecks recipes|hold|takeover|faults|bench-mutex <connect string> <root> [args]");
      System.exit(2);
    }
    connectString = args[1];
    String root = args[2];
    Thread reader = new Thread(CuratorChecks::readStdin, "stdin");
    reader.setDaemon(true);
    reader.start();
    switch (args[0]) {
      case "recipes":
        recipes(root);
        break;
      case "hold":
        hold(root);
        break;
      case "takeover":
        takeover(root);
        break;
      case "faults":
        faults(root, Integer.parseInt(args.length > 3 ? args[3] : "3000"));
        break;
      case "bench-mutex":
        benchMutex(root, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        break;
      default:
        System.err.println("unknown mode " + args[0]);
        System.exit(2);
    }
    for (CuratorFramework client : clients) client.close();
    System.out.flush();
    System.exit(failures.get() == 0 ? 0 : 1);
  }

  private static void readStdin() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) stdin.add(line.trim());
    } catch (Exception e) {
      // The driver went away: nothing more will come.
    }
  }

  private static synchronized void print(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static void check(String name, boolean ok, String detail) {
    if (!ok) failures.incrementAndGet();
    print("CHECK " + name + " " + (ok ? "ok" : "FAIL") + " " + detail);
  }

  private static void fact(String name, Object value) {
    print("FACT " + name + " " + value);
  }

  private static CuratorFramework newClient(int sessionTimeoutMs) throws InterruptedException {
    CuratorFramework client =
        CuratorFrameworkFactory.builder()
            .connectString(connectString)
            .sessionTimeoutMs(sessionTimeoutMs)
            .connectionTimeoutMs(15_000)
            .retryPolicy(new ExponentialBackoffRetry(50, 29, 1000))
            .build();
    clients.add(client);
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("no connection to " + connectString + " within 30 s");
    }
    return client;
  }

  private static List<CuratorFramework> newClients(int count, int sessionTimeoutMs) throws InterruptedException {
    List<CuratorFramework> list = new ArrayList<>();
    for (int i = 0; i < count; i++) list.add(newClient(sessionTimeoutMs));
    return list;
  }

  private static void joinAll(List<Thread> threads, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    for (Thread thread : threads) thread.join(Math.max(1, deadline - System.currentTimeMillis()));
    for (Thread thread : threads) {
      if (!thread.isAlive()) continue;
      StringBuilder where = new StringBuilder();
      for (StackTraceElement frame : thread.getStackTrace()) where.append("\n  at ").append(frame);
      throw new IllegalStateException(thread.getName() + " did not finish in time:" + where);
    }
  }

  private static boolean waitUntil(java.util.function.BooleanSupplier condition, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) return false;
      Thread.sleep(10);
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // recipes: every recipe once, on a healthy server

  private static void recipes(String root) throws Exception {
    long started = System.nanoTime();
    List<CuratorFramework> pool = newClients(6, 10_000);
    started = timed("connect", started);
    mutex(pool, root + "/mutex", 10);
    started = timed("mutex", started);
    semaphore(pool, root + "/semaphore", 2, 4);
    started = timed("semaphore", started);
    leaderLatch(pool, root + "/latch");
    started = timed("latch", started);
    leaderSelector(pool, root + "/selector");
    started = timed("selector", started);
    atomicLong(pool, root + "/counter", 10);
    started = timed("atomic-long", started);
    cache(pool.get(0), pool.get(1), root + "/cache");
    started = timed("cache", started);
    persistentNode(pool.get(2), pool.get(3), root + "/persistent");
    started = timed("persistent-node", started);
    containers(pool.get(4), root + "/containers");
    started = timed("containers", started);
    config(pool.get(5));
    timed("config", started);
  }

  private static long timed(String section, long startedNanos) {
    long now = System.nanoTime();
    print("TIME section-" + section + " " + TimeUnit.NANOSECONDS.toMillis(now - startedNanos));
    return now;
  }

  /** InterProcessMutex: no two clients ever inside together; each lock is also re-entrant. */
  private static void mutex(List<CuratorFramework> pool, String path, int rounds) throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    AtomicInteger acquired = new AtomicInteger();
    AtomicBoolean reentrant = new AtomicBoolean(true);
    List<Thread> threads = new ArrayList<>();
    for (CuratorFramework client : pool) {
      InterProcessMutex lock = new InterProcessMutex(client, path);
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < rounds; i++) {
            lock.acquire();
            int now = inside.incrementAndGet();
            maxInside.accumulateAndGet(now, Math::max);
            if (i == 0 && !(lock.acquire(1, TimeUnit.SECONDS) && lock.isOwnedByCurrentThread())) reentrant.set(false);
            if (i == 0) lock.release();
            acquired.incrementAndGet();
            Thread.sleep(1);
            inside.decrementAndGet();
            lock.release();
          }
        } catch (Exception e) {
          print("ERROR mutex " + e);
        }
      }, "mutex"));
    }
    threads.forEach(Thread::start);
    joinAll(threads, 60_000);
    int expected = pool.size() * rounds;
    check("mutex-exclusion", maxInside.get() == 1, "at most " + maxInside.get() + " holder(s) at once over " + acquired.get() + " acquisitions");
    check("mutex-all-acquired", acquired.get() == expected, acquired.get() + " of " + expected + " acquisitions");
    check("mutex-reentrant", reentrant.get(), "the holder re-acquires its own lock");
    // The lock's parent is a container: the server may already have removed it.
    List<String> left;
    try {
      left = pool.get(0).getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      left = List.of();
    }
    check("mutex-nodes-cleaned", left.isEmpty(), "lock nodes left: " + left);
  }

  /** InterProcessSemaphoreV2: never more than maxLeases holders, and the limit is reached. */
  private static void semaphore(List<CuratorFramework> pool, String path, int maxLeases, int rounds) throws Exception {
    AtomicInteger holding = new AtomicInteger();
    AtomicInteger maxHolding = new AtomicInteger();
    AtomicInteger leases = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (CuratorFramework client : pool) {
      InterProcessSemaphoreV2 semaphore = new InterProcessSemaphoreV2(client, path, maxLeases);
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < rounds; i++) {
            Lease lease = semaphore.acquire();
            maxHolding.accumulateAndGet(holding.incrementAndGet(), Math::max);
            leases.incrementAndGet();
            // Hold on until another holder comes (or 100 ms pass), so the limit is reached
            // whatever the server's latency.
            waitUntil(() -> holding.get() >= maxLeases, 100);
            holding.decrementAndGet();
            semaphore.returnLease(lease);
          }
        } catch (Exception e) {
          print("ERROR semaphore " + e);
        }
      }, "semaphore"));
    }
    threads.forEach(Thread::start);
    joinAll(threads, 60_000);
    int expected = pool.size() * rounds;
    check("semaphore-limit", maxHolding.get() <= maxLeases, "at most " + maxHolding.get() + " of " + maxLeases + " leases held at once");
    check("semaphore-limit-reached", maxHolding.get() == maxLeases, "the limit of " + maxLeases + " was reached (" + maxHolding.get() + ")");
    check("semaphore-all-leased", leases.get() == expected, leases.get() + " of " + expected + " leases");
  }

  /** LeaderLatch: exactly one leader at a time, and a new one when the leader closes. */
  private static void leaderLatch(List<CuratorFramework> pool, String path) throws Exception {
    List<LeaderLatch> latches = new ArrayList<>();
    for (int i = 0; i < pool.size(); i++) latches.add(new LeaderLatch(pool.get(i), path, "c" + i));
    for (LeaderLatch latch : latches) latch.start();
    Set<String> leaders = new HashSet<>();
    int maxLeaders = 0;
    boolean settled = true;
    for (int round = 0; round < 3; round++) {
      List<LeaderLatch> open = latches.subList(round, latches.size());
      if (!waitUntil(() -> open.stream().filter(LeaderLatch::hasLeadership).count() == 1, 10_000)) settled = false;
      for (int sample = 0; sample < 20; sample++) {
        maxLeaders = Math.max(maxLeaders, (int) latches.stream().filter(LeaderLatch::hasLeadership).count());
        Thread.sleep(5);
      }
      LeaderLatch leader = open.stream().filter(LeaderLatch::hasLeadership).findFirst().orElse(null);
      if (leader == null) break;
      leaders.add(leader.getId());
      // The leader gives way; the latch recipe has the oldest remaining node lead next.
      Collections.swap(latches, latches.indexOf(leader), round);
      leader.close();
    }
    check("latch-one-leader", settled && maxLeaders == 1, "exactly one leader in each of 3 rounds (at most " + maxLeaders + " seen at once)");
    check("latch-hand-over", leaders.size() == 3, "3 different leaders after 2 closes: " + leaders.size());
    for (LeaderLatch latch : latches.subList(3, latches.size())) latch.close();
  }

  /**
   * LeaderSelector: one takeLeadership at a time, and every requeued client gets a turn.
   * Requeueing puts a client behind those already waiting, but a client whose start is still
   * on Curator's executor when the first terms end can be overtaken by one requeueing: so the
   * check waits until each client has led, not for a fixed number of terms.
   */
  private static void leaderSelector(List<CuratorFramework> pool, String path) throws Exception {
    AtomicInteger leading = new AtomicInteger();
    AtomicInteger maxLeading = new AtomicInteger();
    Set<Integer> turns = Collections.synchronizedSet(new HashSet<>());
    List<Integer> order = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger terms = new AtomicInteger();
    CountDownLatch everyClientLed = new CountDownLatch(pool.size());
    List<LeaderSelector> selectors = new ArrayList<>();
    for (int i = 0; i < pool.size(); i++) {
      int id = i;
      LeaderSelector selector = new LeaderSelector(pool.get(i), path, new LeaderSelectorListenerAdapter() {
        @Override
        public void takeLeadership(CuratorFramework client) throws Exception {
          maxLeading.accumulateAndGet(leading.incrementAndGet(), Math::max);
          terms.incrementAndGet();
          order.add(id);
          Thread.sleep(10);
          leading.decrementAndGet();
          if (turns.add(id)) everyClientLed.countDown();
        }
      });
      selector.autoRequeue();
      selectors.add(selector);
    }
    selectors.forEach(LeaderSelector::start);
    boolean done = everyClientLed.await(30, TimeUnit.SECONDS);
    for (LeaderSelector selector : selectors) selector.close();
    check("selector-one-leader", maxLeading.get() == 1, "at most " + maxLeading.get() + " in takeLeadership at once over " + terms.get() + " terms");
    check("selector-every-client", done, turns.size() + " of " + pool.size() + " clients led within 30 s; leaders in turn: " + order);
  }

  /** DistributedAtomicLong: concurrent increments, none lost, each result unique. */
  private static void atomicLong(List<CuratorFramework> pool, String path, int perClient) throws Exception {
    Set<Long> results = Collections.synchronizedSet(new HashSet<>());
    AtomicInteger succeeded = new AtomicInteger();
    AtomicInteger duplicates = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (CuratorFramework client : pool) {
      DistributedAtomicLong counter = new DistributedAtomicLong(
          client,
          path,
          new ExponentialBackoffRetry(5, 20, 200),
          PromotedToLock.builder().lockPath(path + "-lock").retryPolicy(new ExponentialBackoffRetry(5, 20, 200)).build());
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < perClient; i++) {
            AtomicValue<Long> value = counter.increment();
            if (!value.succeeded()) continue;
            succeeded.incrementAndGet();
            if (value.postValue() != value.preValue() + 1 || !results.add(value.postValue())) duplicates.incrementAndGet();
          }
        } catch (Exception e) {
          print("ERROR atomic-long " + e);
        }
      }, "counter"));
    }
    threads.forEach(Thread::start);
    joinAll(threads, 60_000);
    syncBeforeRead(pool.get(0), path);
    long end = new DistributedAtomicLong(pool.get(0), path, new ExponentialBackoffRetry(5, 3)).get().postValue();
    int expected = pool.size() * perClient;
    check("atomic-long-all-succeeded", succeeded.get() == expected, succeeded.get() + " of " + expected + " increments succeeded");
    check("atomic-long-no-lost-update", end == succeeded.get() && duplicates.get() == 0, "value " + end + " after " + succeeded.get() + " increments, " + duplicates.get() + " repeated results");
  }

  /**
   * A sync before reading what other clients wrote: ZooKeeper promises a session its own writes
   * in order, and another session's only after a sync (its server may be a follower one write
   * behind, on ZooKeeper as on Synod).
   */
  private static void syncBeforeRead(CuratorFramework client, String path) throws Exception {
    CountDownLatch synced = new CountDownLatch(1);
    client.sync().inBackground((c, event) -> synced.countDown()).forPath(path);
    if (!synced.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("sync " + path + " did not finish");
  }

  /** CuratorCache: every create, change and delete reaches the listener, in order. */
  private static void cache(CuratorFramework watcher, CuratorFramework writer, String path) throws Exception {
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    writer.create().creatingParentsIfNeeded().forPath(path, "root".getBytes(StandardCharsets.UTF_8));
    CuratorCache cache = CuratorCache.build(watcher, path);
    CountDownLatch initialized = new CountDownLatch(1);
    cache.listenable().addListener(new CuratorCacheListener() {
      @Override
      public void event(Type type, ChildData oldData, ChildData data) {
        ChildData node = data != null ? data : oldData;
        String value = data == null ? "" : " " + new String(data.getData(), StandardCharsets.UTF_8);
        events.add(type + " " + node.getPath().substring(path.length()) + value);
      }

      @Override
      public void initialized() {
        initialized.countDown();
      }
    });
    cache.start();
    boolean ready = initialized.await(10, TimeUnit.SECONDS);
    String first = events.poll(5, TimeUnit.SECONDS);
    List<String> missed = new ArrayList<>();
    if (!("NODE_CREATED  root".equals(first))) missed.add("initial root: " + first);
    String[][] steps = {
      {"create", "/a", "1", "NODE_CREATED /a 1"},
      {"set", "/a", "2", "NODE_CHANGED /a 2"},
      {"create", "/a/b", "x", "NODE_CREATED /a/b x"},
      {"set", "", "root2", "NODE_CHANGED  root2"},
      {"set", "/a/b", "y", "NODE_CHANGED /a/b y"},
      {"delete", "/a/b", "", "NODE_DELETED /a/b"},
      {"set", "/a", "3", "NODE_CHANGED /a 3"},
      {"delete", "/a", "", "NODE_DELETED /a"},
      {"create", "/a", "4", "NODE_CREATED /a 4"},
    };
    for (String[] step : steps) {
      byte[] data = step[2].getBytes(StandardCharsets.UTF_8);
      switch (step[0]) {
        case "create":
          writer.create().forPath(path + step[1], data);
          break;
        case "set":
          writer.setData().forPath(path + step[1], data);
          break;
        default:
          writer.delete().forPath(path + step[1]);
      }
      String seen = events.poll(5, TimeUnit.SECONDS);
      if (!step[3].equals(seen)) missed.add(step[3] + " (saw " + seen + ")");
    }
    // A burst of writes: the cache may merge changes but must end on the last one.
    for (int i = 0; i < 30; i++) writer.setData().forPath(path + "/a", ("burst" + i).getBytes(StandardCharsets.UTF_8));
    boolean converged = waitUntil(() -> cache.get(path + "/a")
        .map(d -> new String(d.getData(), StandardCharsets.UTF_8).equals("burst29") && d.getStat().getVersion() == 30)
        .orElse(false), 10_000);
    cache.close();
    check("cache-initialized", ready, "the cache reported its initial load");
    check("cache-every-change", missed.isEmpty(), missed.isEmpty() ? steps.length + " changes seen in order" : "missed " + missed);
    check("cache-converges", converged, "after 30 quick setData the cache holds the last data and version");
  }

  /** PersistentNode (ephemeral): recreated when its session is ended by another handle. */
  private static void persistentNode(CuratorFramework owner, CuratorFramework observer, String path) throws Exception {
    PersistentNode node = new PersistentNode(owner, CreateMode.EPHEMERAL, false, path + "/member", "here".getBytes(StandardCharsets.UTF_8));
    node.start();
    boolean created = node.waitForInitialCreate(10, TimeUnit.SECONDS);
    Stat before = observer.checkExists().forPath(path + "/member");
    long firstOwner = before == null ? 0 : before.getEphemeralOwner();
    endSession(owner);
    long started = System.currentTimeMillis();
    boolean recreated = waitUntil(() -> {
      try {
        Stat stat = observer.checkExists().forPath(path + "/member");
        return stat != null && stat.getEphemeralOwner() != firstOwner && stat.getEphemeralOwner() != 0;
      } catch (Exception e) {
        return false;
      }
    }, 20_000);
    print("TIME persistent-node-recreate " + (System.currentTimeMillis() - started));
    byte[] data = recreated ? observer.getData().forPath(path + "/member") : new byte[0];
    node.close();
    boolean gone = waitUntil(() -> {
      try {
        return observer.checkExists().forPath(path + "/member") == null;
      } catch (Exception e) {
        return false;
      }
    }, 10_000);
    check("persistent-node-created", created && firstOwner != 0, "the ephemeral node exists, owned by the session");
    check("persistent-node-recreated", recreated && "here".equals(new String(data, StandardCharsets.UTF_8)), "a new session recreated it with its data after the first one ended");
    check("persistent-node-closed", gone, "closing the recipe deletes the node");
  }

  /** Ends a client's session from outside, as a server would on expiry: a second handle closes it. */
  private static void endSession(CuratorFramework client) throws Exception {
    ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
    CountDownLatch connected = new CountDownLatch(1);
    ZooKeeper twin = new ZooKeeper(connectString, SESSION_TIMEOUT_MS, event -> {
      if (event.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
    }, zk.getSessionId(), zk.getSessionPasswd());
    if (!connected.await(10, TimeUnit.SECONDS)) throw new IllegalStateException("the twin handle did not connect");
    twin.close();
  }

  /**
   * Curator creates a recipe's parents as containers: once their last child goes, the server
   * removes them; parents made with creatingParentsIfNeeded stay.
   */
  private static void containers(CuratorFramework client, String path) throws Exception {
    client.create().creatingParentContainersIfNeeded().forPath(path + "/c/leaf");
    client.create().creatingParentsIfNeeded().forPath(path + "/p/leaf");
    InterProcessMutex lock = new InterProcessMutex(client, path + "/lock/deep");
    lock.acquire();
    fact("lock-parent-children", client.getChildren().forPath(path + "/lock/deep").size());
    lock.release();
    client.delete().forPath(path + "/c/leaf");
    client.delete().forPath(path + "/p/leaf");
    boolean containerGone = waitUntil(() -> exists(client, path + "/c") == null, 15_000);
    boolean lockGone = waitUntil(() -> exists(client, path + "/lock/deep") == null && exists(client, path + "/lock") == null, 15_000);
    Thread.sleep(500);
    boolean persistentStays = exists(client, path + "/p") != null;
    fact("container-removed-when-empty", containerGone);
    fact("lock-parents-removed-when-empty", lockGone);
    fact("persistent-parent-stays", persistentStays);
    check("containers", containerGone && lockGone && persistentStays, "empty container parents removed (" + containerGone + ", lock " + lockGone + "), persistent parent kept (" + persistentStays + ")");
    // A container created by creatingParentContainersIfNeeded holds a child for ever while it has one.
    client.create().creatingParentContainersIfNeeded().forPath(path + "/kept/child");
    Thread.sleep(500);
    check("container-kept-with-child", exists(client, path + "/kept") != null, "a container with a child stays");
  }

  private static Stat exists(CuratorFramework client, String path) {
    try {
      return client.checkExists().forPath(path);
    } catch (Exception e) {
      return new Stat();
    }
  }

  /** /zookeeper/config, as Curator's getConfig and its ensemble tracker read it. */
  private static void config(CuratorFramework client) throws Exception {
    Stat stat = new Stat();
    byte[] data = client.getConfig().storingStatIn(stat).forEnsemble();
    fact("config-data", "'" + new String(data, StandardCharsets.UTF_8).replace("\n", "\\n") + "'");
    fact("config-stat", String.format(Locale.ROOT, "version=%d aversion=%d cversion=%d numChildren=%d ephemeralOwner=%d dataLength=%s",
        stat.getVersion(), stat.getAversion(), stat.getCversion(), stat.getNumChildren(), stat.getEphemeralOwner(),
        data != null && stat.getDataLength() == data.length ? "<data's length>" : String.valueOf(stat.getDataLength())));
    List<String> acl = new ArrayList<>();
    for (org.apache.zookeeper.data.ACL entry : client.getACL().forPath("/zookeeper/config")) {
      acl.add(entry.getId().getScheme() + ":" + entry.getId().getId() + ":" + entry.getPerms());
    }
    fact("config-acl", acl);
    fact("zookeeper-children", new java.util.TreeSet<>(client.getChildren().forPath("/zookeeper")));
    String denied;
    try {
      client.setData().forPath("/zookeeper/config", "x".getBytes(StandardCharsets.UTF_8));
      denied = "allowed";
    } catch (KeeperException e) {
      denied = e.code().toString();
    }
    fact("config-setData", denied);
    // Curator watches the config node through getConfig().usingWatcher(): the watch is accepted.
    CountDownLatch never = new CountDownLatch(1);
    client.getConfig().usingWatcher((Watcher) event -> never.countDown()).forEnsemble();
    fact("config-watch-set", true);
    // Curator's EnsembleTracker reads the same node and, as its server lines name client
    // addresses, makes its connect string of them (in the config's order, which may not be the
    // one it was given): the same servers, and the client still works on it.
    boolean tracked = waitUntil(() -> client.getCurrentConfig().getAllMembers().size() == 3, 10_000);
    fact("curator-config-servers", client.getCurrentConfig().getAllMembers().size());
    java.util.function.Function<String, java.util.Set<String>> servers =
        s -> new java.util.TreeSet<>(java.util.Arrays.asList(s.split(",")));
    String current = client.getZookeeperClient().getCurrentConnectionString();
    fact("ensemble-connect-string-same-servers", servers.apply(current).equals(servers.apply(connectString)));
    String probe = client.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath("/config-probe-", new byte[0]);
    client.delete().forPath(probe);
    fact("works-on-tracked-connect-string", true);
    check("config-tracked", tracked, "Curator's ensemble tracker took the config: " + client.getCurrentConfig() + ", connect string " + current);
    check("config-readable", data != null, "getConfig().forEnsemble() answered " + (data == null ? "null" : data.length + " bytes"));
  }

  // ---------------------------------------------------------------------------------------
  // hold / takeover: a client killed while it holds a mutex and leads

  private static void hold(String root) throws Exception {
    CuratorFramework client = newClient(SESSION_TIMEOUT_MS);
    InterProcessMutex lock = new InterProcessMutex(client, root + "/mutex");
    if (!lock.acquire(20, TimeUnit.SECONDS)) throw new IllegalStateException("the mutex was not free");
    LeaderLatch latch = new LeaderLatch(client, root + "/latch", "holder");
    latch.start();
    if (!latch.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("the holder did not lead");
    print("STATE held " + client.getZookeeperClient().getZooKeeper().getSessionId());
    Thread.sleep(Long.MAX_VALUE);
  }

  private static void takeover(String root) throws Exception {
    CuratorFramework client = newClient(SESSION_TIMEOUT_MS);
    AtomicBoolean killed = new AtomicBoolean();
    AtomicLong killedAt = new AtomicLong();
    InterProcessMutex lock = new InterProcessMutex(client, root + "/mutex");
    LeaderLatch latch = new LeaderLatch(client, root + "/latch", "taker");
    boolean blocked = !lock.acquire(300, TimeUnit.MILLISECONDS);
    latch.start();
    Thread.sleep(200);
    boolean notLeader = !latch.hasLeadership();
    print("STATE waiting");
    Thread watcher = new Thread(() -> {
      try {
        if ("killed".equals(stdin.take())) {
          killedAt.set(System.nanoTime());
          killed.set(true);
        }
      } catch (InterruptedException e) {
        // Ends with the run.
      }
    }, "killed");
    watcher.setDaemon(true);
    watcher.start();
    AtomicLong latchAt = new AtomicLong();
    AtomicBoolean latchEarly = new AtomicBoolean();
    Thread leading = new Thread(() -> {
      try {
        if (latch.await(60, TimeUnit.SECONDS)) {
          latchAt.set(System.nanoTime());
          latchEarly.set(!killed.get());
          print("STATE leader");
        }
      } catch (Exception e) {
        print("ERROR latch " + e);
      }
    }, "latch");
    leading.start();
    boolean got = lock.acquire(60, TimeUnit.SECONDS);
    long lockAt = System.nanoTime();
    boolean lockEarly = got && !killed.get();
    print("STATE acquired");
    leading.join(60_000);
    check("takeover-waited", blocked && notLeader, "while the holder lived the mutex was taken (" + blocked + ") and the latch led elsewhere (" + notLeader + ")");
    check("takeover-mutex", got && !lockEarly, "the mutex was acquired " + (lockEarly ? "BEFORE" : "after") + " the holder was killed");
    check("takeover-latch", latchAt.get() != 0 && !latchEarly.get(), "leadership came " + (latchEarly.get() ? "BEFORE" : "after") + " the holder was killed");
    if (killed.get()) {
      print("TIME takeover-mutex " + TimeUnit.NANOSECONDS.toMillis(lockAt - killedAt.get()));
      if (latchAt.get() != 0) print("TIME takeover-latch " + TimeUnit.NANOSECONDS.toMillis(latchAt.get() - killedAt.get()));
    }
    lock.release();
    latch.close();
  }

  // ---------------------------------------------------------------------------------------
  // faults: recipes under load while a member dies

  private static void faults(String root, int afterKillMs) throws Exception {
    List<CuratorFramework> pool = newClients(6, 10_000);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    AtomicInteger lockOps = new AtomicInteger();
    AtomicInteger counterOps = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    Set<Long> results = Collections.synchronizedSet(new HashSet<>());
    AtomicInteger repeated = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < pool.size(); i++) {
      CuratorFramework client = pool.get(i);
      InterProcessMutex lock = new InterProcessMutex(client, root + "/mutex");
      threads.add(new Thread(() -> {
        while (!stop.get()) {
          try {
            if (!lock.acquire(20, TimeUnit.SECONDS)) continue;
            try {
              maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
              Thread.sleep(2);
              inside.decrementAndGet();
              lockOps.incrementAndGet();
            } finally {
              lock.release();
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        }
      }, "mutex-" + i));
      DistributedAtomicLong counter = new DistributedAtomicLong(client, root + "/counter", new ExponentialBackoffRetry(10, 20, 500),
          PromotedToLock.builder().lockPath(root + "/counter-lock").retryPolicy(new ExponentialBackoffRetry(10, 20, 500)).build());
      threads.add(new Thread(() -> {
        while (!stop.get()) {
          try {
            AtomicValue<Long> value = counter.increment();
            if (value.succeeded()) {
              counterOps.incrementAndGet();
              if (!results.add(value.postValue())) repeated.incrementAndGet();
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        }
      }, "counter-" + i));
    }
    List<LeaderLatch> latches = new ArrayList<>();
    for (int i = 0; i < 3; i++) latches.add(new LeaderLatch(pool.get(i), root + "/latch", "l" + i));
    latches.forEach(latch -> {
      try {
        latch.start();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    AtomicInteger maxLeaders = new AtomicInteger();
    Thread sampler = new Thread(() -> {
      while (!stop.get()) {
        maxLeaders.accumulateAndGet((int) latches.stream().filter(LeaderLatch::hasLeadership).count(), Math::max);
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "sampler");
    threads.forEach(Thread::start);
    sampler.start();
    // The kill must come under load: wait for the recipes to be well under way.
    waitUntil(() -> lockOps.get() >= 30 && counterOps.get() >= 30, 30_000);
    int lockBefore = lockOps.get();
    int counterBefore = counterOps.get();
    print("STATE running");
    String word = stdin.poll(60, TimeUnit.SECONDS);
    if (!"killed".equals(word)) throw new IllegalStateException("no kill was announced");
    int lockAtKill = lockOps.get();
    int counterAtKill = counterOps.get();
    Thread.sleep(afterKillMs);
    boolean progressed = waitUntil(() -> lockOps.get() >= lockAtKill + 20 && counterOps.get() >= counterAtKill + 20, 30_000);
    if (!progressed) {
      // Who holds the mutex up: each lock node and its owner, against the clients' sessions.
      for (String child : pool.get(0).getChildren().forPath(root + "/mutex")) {
        Stat stat = pool.get(0).checkExists().forPath(root + "/mutex/" + child);
        print("STUCK " + child + " czxid=0x" + Long.toHexString(stat == null ? 0 : stat.getCzxid()) + " owner=0x" + Long.toHexString(stat == null ? 0 : stat.getEphemeralOwner()));
      }
      for (CuratorFramework client : pool) print("STUCK session 0x" + Long.toHexString(client.getZookeeperClient().getZooKeeper().getSessionId()));
    }
    stop.set(true);
    joinAll(threads, 40_000);
    sampler.join();
    boolean oneLeader = waitUntil(() -> latches.stream().filter(LeaderLatch::hasLeadership).count() == 1, 20_000);
    syncBeforeRead(pool.get(0), root + "/counter");
    long end = new DistributedAtomicLong(pool.get(0), root + "/counter", new ExponentialBackoffRetry(10, 10)).get().postValue();
    for (LeaderLatch latch : latches) latch.close();
    print("TIME faults-ops-before-kill " + (lockBefore + counterBefore));
    check("faults-progress", progressed, "after the kill: " + (lockOps.get() - lockAtKill) + " mutex and " + (counterOps.get() - counterAtKill) + " counter operations (before: " + lockAtKill + ", " + counterAtKill + ")");
    check("faults-mutex-exclusion", maxInside.get() == 1, "at most " + maxInside.get() + " holder(s) at once over " + lockOps.get() + " acquisitions");
    check("faults-latch-at-most-one", maxLeaders.get() <= 1, "at most " + maxLeaders.get() + " leader(s) at once");
    check("faults-latch-one-leader", oneLeader, "exactly one leader after the fail-over");
    // An increment whose reply was lost with the member can be retried by Curator and count
    // twice; none may be lost, and no two increments may both have returned the same value.
    check("faults-atomic-long", end >= counterOps.get() && repeated.get() == 0, "value " + end + " after " + counterOps.get() + " successful increments, " + repeated.get() + " repeated results");
    print("TIME faults-errors " + errors.get());
  }

  // ---------------------------------------------------------------------------------------
  // bench-mutex: acquire/release throughput with contending clients

  private static void benchMutex(String root, int clientCount, int durationMs) throws Exception {
    List<CuratorFramework> pool = newClients(clientCount, 10_000);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean counting = new AtomicBoolean();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    AtomicLong ops = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (CuratorFramework client : pool) {
      InterProcessMutex lock = new InterProcessMutex(client, root + "/mutex");
      threads.add(new Thread(() -> {
        try {
          while (!stop.get()) {
            lock.acquire();
            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            inside.decrementAndGet();
            lock.release();
            if (counting.get()) ops.incrementAndGet();
          }
        } catch (Exception e) {
          print("ERROR bench " + e);
        }
      }, "bench"));
    }
    threads.forEach(Thread::start);
    // A short warm-up (JIT, connections), then the measured window between two STATE lines.
    Thread.sleep(Math.min(2000, durationMs / 4));
    print("STATE measuring");
    long started = System.nanoTime();
    counting.set(true);
    Thread.sleep(durationMs);
    counting.set(false);
    long elapsed = System.nanoTime() - started;
    print("STATE measured " + ops.get() + " " + TimeUnit.NANOSECONDS.toMillis(elapsed));
    stop.set(true);
    joinAll(threads, 30_000);
    check("bench-mutex-exclusion", maxInside.get() == 1, "at most " + maxInside.get() + " holder(s) at once");
  }
}
