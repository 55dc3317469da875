"""Runs kazoo's recipes against one ZooKeeper server, as an application would, and prints
what each recipe handed back as JSON lines, so two servers' transcripts can be compared.

Usage: python3 kazoo_recipes.py <host:port> <root path>
"""
import json
import sys
import threading

from kazoo.client import KazooClient

hosts, root = sys.argv[1], sys.argv[2]


def say(step, result):
    print(json.dumps({"step": step, "result": result}), flush=True)


def client():
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    return zk


a, b = client(), client()
a.ensure_path(root)
version = a.server_version()
say("server_version is a tuple of ints", all(isinstance(n, int) for n in version) and len(version) >= 3)

# Lock: b waits while a holds it; a second holder never overlaps the first.
held = []
lock_a, lock_b = a.Lock(root + "/lock", "a"), b.Lock(root + "/lock", "b")
lock_a.acquire()
say("lock contenders while a holds it", sorted(lock_a.contenders()))
say("b acquires without waiting", lock_b.acquire(blocking=False))
waiter = threading.Thread(target=lambda: (lock_b.acquire(timeout=10), held.append("b")))
waiter.start()
held.append("a")
lock_a.release()
waiter.join(15)
say("holders in order", held)
lock_b.release()

# Election: the first candidate leads; when it leaves, the next one does.
leaders = []
election_a, election_b = a.Election(root + "/election", "a"), b.Election(root + "/election", "b")
leading = threading.Event()
stop_a = threading.Event()
def lead_a():
    leaders.append("a")
    leading.set()
    stop_a.wait(10)
thread_a = threading.Thread(target=election_a.run, args=(lead_a,))
thread_a.start()
leading.wait(10)
thread_b = threading.Thread(target=election_b.run, args=(lambda: leaders.append("b"),))
thread_b.start()
for _ in range(100):
    if len(election_a.contenders()) == 2:
        break
    threading.Event().wait(0.05)
say("contenders", sorted(election_a.contenders()))
stop_a.set()
thread_a.join(10)
thread_b.join(10)
say("leaders in order", leaders)

# Barrier: waiting times out while it stands, returns once it is removed.
barrier = a.Barrier(root + "/barrier")
barrier.create()
say("wait while the barrier stands", b.Barrier(root + "/barrier").wait(0.5))
barrier.remove()
say("wait after removal", b.Barrier(root + "/barrier").wait(1))

# Counter: increments and decrements from two clients.
counter_a, counter_b = a.Counter(root + "/counter"), b.Counter(root + "/counter")
counter_a += 5
counter_b -= 2
counter_a += 10
say("counter", counter_b.value)

# Queue: priorities first, then arrival order.
queue = a.LockingQueue(root + "/queue")
queue.put(b"low", priority=100)
queue.put(b"high", priority=1)
queue.put(b"mid", priority=50)
say("queue length", len(queue))
taken = []
consumer = b.LockingQueue(root + "/queue")
for _ in range(3):
    taken.append(consumer.get(5).decode())
    consumer.consume()
say("queue order", taken)
simple = a.Queue(root + "/simple")
for item in (b"1", b"2", b"3"):
    simple.put(item)
say("simple queue", [b.Queue(root + "/simple").get().decode() for _ in range(3)])

# Partitioner: one member gets every partition.
partitioner = a.SetPartitioner(root + "/partition", set=("p1", "p2", "p3"), time_boundary=0.2)
while not (partitioner.acquired or partitioner.failed):
    partitioner.wait_for_acquire(5)
say("partitions acquired", sorted(partitioner))
partitioner.finish()

say("root children", sorted(a.get_children(root)))
a.stop()
b.stop()
a.close()
b.close()
