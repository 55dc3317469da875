import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {freePorts} from './etcd-process.js';
import {installExitHook, liveChildren, tempDirs} from './process-registry.js';

/**
 * Starts the real ZooKeeper 3.8 (Debian's `zookeeper` package on a Java runtime) as the
 * oracle of the ZooKeeper differential tests: one standalone server or a 3-server ensemble
 * on loopback ports, each with a temp data dir and a generated `zoo.cfg`, run as
 * `java -cp <Debian's zookeeper.jar> org.apache.zookeeper.server.quorum.QuorumPeerMain`.
 *
 * What the generated configuration turns on, and why:
 * - `4lw.commands.whitelist=*`: every four-letter word answers, as Synod's port must.
 * - `zookeeper.extendedTypesEnabled=true`: TTL nodes exist (off by default in ZooKeeper).
 * - `znode.container.checkIntervalMs` (200 ms here, 60 s by default): empty containers and
 *   expired TTL nodes go in test time.
 * - `admin.enableServer=false`: no Jetty on port 8080, which would collide across files.
 *
 * Java starts slowly (seconds on a small machine): start one oracle per test file and reuse
 * it. Every process started here is tracked by pid, killed by `stop()`, and killed when the
 * test process exits, even if a test crashes before calling `stop()`.
 */

/** Where Debian installed ZooKeeper, or why it is not usable. */
interface ZooKeeperInstall {
  readonly java: string;
  readonly classpath: string;
  /** Debian's `zkCli.sh`. */
  readonly zkCli: string;
}

function packageFiles(name: string): string[] {
  const listed = spawnSync('dpkg', ['-L', name], {encoding: 'utf8'});
  return listed.status === 0 ? listed.stdout.split('\n') : [];
}

function findInstall(): ZooKeeperInstall | string {
  const java = process.env.JAVA ?? 'java';
  if (spawnSync(java, ['-version'], {stdio: 'ignore'}).status !== 0) {
    return `no Java runtime ("${java} -version" failed): install default-jre-headless`;
  }
  // zookeeper's file list names the scripts; the jar comes with its libzookeeper-java.
  const files = [...packageFiles('zookeeper'), ...packageFiles('libzookeeper-java')];
  const jar =
    process.env.ZOOKEEPER_CLASSPATH ??
    files.find(file => file.endsWith('/zookeeper.jar') && existsSync(file));
  const zkCli = files.find(file => file.endsWith('/bin/zkCli.sh'));
  if (jar === undefined || zkCli === undefined) {
    return 'ZooKeeper is not installed (no zookeeper.jar or zkCli.sh in "dpkg -L zookeeper"): install the Debian package zookeeper';
  }
  // The jar's manifest names its dependencies (netty, jute, slf4j, ...) by their Debian paths,
  // all but netty-codec and netty-resolver, without which Netty's sockets (which the TLS ports
  // and TLS clients use) fail.
  const missing = ['/usr/share/java/netty-codec.jar', '/usr/share/java/netty-resolver.jar'];
  const classpath = [jar, ...missing.filter(file => existsSync(file))].join(':');
  return {java, classpath, zkCli};
}

const install = findInstall();

/** Why the ZooKeeper suites are skipped on this machine, or undefined when they can run. */
export const zookeeperSkipReason: string | undefined = ((): string | undefined => {
  if (typeof install !== 'string') return undefined;
  // On CI a missing oracle must fail the build rather than silently skip the suites.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(install);
  return install;
})();

/** Debian's `zkCli.sh`, or undefined when ZooKeeper is not installed. */
export const zkCliPath: string | undefined =
  typeof install === 'string' ? undefined : install.zkCli;

/** The java binary and classpath that run ZooKeeper's own classes (zkCli's `ZooKeeperMain`). */
export function zookeeperJava(): {readonly java: string; readonly classpath: string} {
  if (typeof install === 'string') throw new Error(install);
  return {java: install.java, classpath: install.classpath};
}

/** Options for {@link startZooKeeper}. */
/**
 * How often the oracle's container manager runs unless told otherwise: tests start Synod with
 * the same `--zk-container-check-interval-ms`, so both delete empty containers and expired
 * TTL nodes on the same clock.
 */
export const TEST_CONTAINER_CHECK_INTERVAL_MS = 200;

export interface ZooKeeperOptions {
  /** 1 (standalone, the default) or 3 (an ensemble with an elected leader). */
  readonly servers?: 1 | 3;
  /** `tickTime`, ZooKeeper's default 2000 ms: sessions are clamped to [2, 20] ticks. */
  readonly tickTimeMs?: number;
  /** How often empty containers and expired TTL nodes are removed, 200 ms by default. */
  readonly containerCheckIntervalMs?: number;
  /** Extra `zoo.cfg` lines, `key=value`. */
  readonly extraConfig?: readonly string[];
  /** How long to wait for every server to serve, 60 s by default. */
  readonly startTimeoutMs?: number;
  /**
   * `zookeeper.DigestAuthenticationProvider.superDigest`: `user:base64(sha1(user:password))`
   * of the super user, who passes every ACL check once authenticated with `addauth digest`.
   */
  readonly superDigest?: string;
  /**
   * The JVM's heap, GC and JIT flags, in place of the small, quick-starting JVM the tests use
   * (128 MB of heap, serial GC, C1 only); `[]` runs the JVM's defaults, as a benchmark must.
   */
  readonly jvmFlags?: readonly string[];
  /**
   * Give each `server.N` line its client address (`...:participant;127.0.0.1:<clientPort>`),
   * so that `/zookeeper/config` lists it and Curator's ensemble tracker follows it.
   */
  readonly clientAddressesInConfig?: boolean;
}

/** One server of the oracle. */
export interface ZooKeeperServer {
  readonly id: number;
  readonly host: string;
  readonly clientPort: number;
  /** `127.0.0.1:<clientPort>`. */
  readonly address: string;
  /** The server's directory: its `zoo.cfg` and its `data/`. */
  readonly dir: string;
  /** The pid of the running JVM, or undefined once it is stopped. */
  readonly pid: number | undefined;
  /** The last few kilobytes the JVM wrote. */
  readonly output: string;
}

/** A running oracle. */
export interface ZooKeeperEnsemble {
  readonly servers: readonly ZooKeeperServer[];
  /** `host:port,host:port,...`, as clients take it. */
  readonly connectString: string;
  /** Kills every JVM by pid and removes the data dirs. Safe to call twice. */
  stop(): Promise<void>;
  /** Kills every JVM by pid and keeps the data dirs (`<dir>/data`), to read or restart. */
  halt(): Promise<void>;
  /** Starts every halted server again on its data dir and waits until all serve. */
  resume(timeoutMs?: number): Promise<void>;
}

/**
 * Sends a four-letter word on a new connection and returns everything the server writes
 * before closing it ('' when nothing came within `timeoutMs`).
 */
export function fourLetterWord(
  host: string,
  port: number,
  word: string,
  timeoutMs = 2000,
): Promise<string> {
  return new Promise(resolve => {
    const chunks: Buffer[] = [];
    const socket = net.connect({host, port});
    const timer = setTimeout(() => {
      socket.destroy();
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(word);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

class Server implements ZooKeeperServer {
  private child: ChildProcess | undefined;
  output = '';
  readonly host = '127.0.0.1';

  constructor(
    readonly id: number,
    readonly clientPort: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  get address(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  spawn(java: string): void {
    const child = spawn(java, this.args, {stdio: ['ignore', 'pipe', 'pipe']});
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('exit', () => {
      liveChildren.delete(child);
      if (this.child === child) this.child = undefined;
    });
    liveChildren.add(child);
    this.child = child;
  }

  /** Waits until `ruok` answers `imok` and `srvr` names a mode (a quorum is formed). */
  async waitServing(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      if (this.child === undefined) {
        throw new Error(`ZooKeeper server ${this.id} exited during start:\n${this.output}`);
      }
      if ((await fourLetterWord(this.host, this.clientPort, 'ruok', 1000)) === 'imok') {
        const srvr = await fourLetterWord(this.host, this.clientPort, 'srvr', 1000);
        if (/^Mode: (standalone|leader|follower)$/m.test(srvr)) return;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    throw new Error(`ZooKeeper server ${this.id} was not serving in time:\n${this.output}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) return;
    const exited = new Promise<void>(resolve =>
      child.once('exit', () => {
        resolve();
      }),
    );
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

/** Starts the oracle and waits until every server serves clients. */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperEnsemble> {
  if (typeof install === 'string') throw new Error(install);
  installExitHook();
  const count = options.servers ?? 1;
  const ports = await freePorts(count * 3);
  const root = mkdtempSync(join(tmpdir(), 'zookeeper-test-'));
  tempDirs.add(root);
  const quorumLines =
    count === 1
      ? []
      : Array.from(
          {length: count},
          (_, i) =>
            `server.${i + 1}=127.0.0.1:${ports[3 * i + 1] ?? 0}:${ports[3 * i + 2] ?? 0}` +
            (options.clientAddressesInConfig === true
              ? `:participant;127.0.0.1:${ports[3 * i] ?? 0}`
              : ''),
        );
  const servers = Array.from({length: count}, (_, i) => {
    const id = i + 1;
    const dir = join(root, `zk${id}`);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, {recursive: true});
    if (count > 1) writeFileSync(join(dataDir, 'myid'), `${id}\n`);
    const config = join(dir, 'zoo.cfg');
    writeFileSync(
      config,
      [
        `tickTime=${options.tickTimeMs ?? 2000}`,
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${dataDir}`,
        `clientPort=${ports[3 * i] ?? 0}`,
        'clientPortAddress=127.0.0.1',
        '4lw.commands.whitelist=*',
        'admin.enableServer=false',
        ...quorumLines,
        ...(options.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    const args = [
      // A small, quick-starting JVM: these servers hold a few hundred nodes.
      ...(options.jvmFlags ?? ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']),
      '-Djava.net.preferIPv4Stack=true',
      '-Dzookeeper.extendedTypesEnabled=true',
      `-Dznode.container.checkIntervalMs=${options.containerCheckIntervalMs ?? TEST_CONTAINER_CHECK_INTERVAL_MS}`,
      ...(options.superDigest === undefined
        ? []
        : [`-Dzookeeper.DigestAuthenticationProvider.superDigest=${options.superDigest}`]),
      '-cp',
      install.classpath,
      'org.apache.zookeeper.server.quorum.QuorumPeerMain',
      config,
    ];
    return new Server(id, ports[3 * i] ?? 0, dir, args);
  });
  let stopped = false;
  const ensemble: ZooKeeperEnsemble = {
    servers,
    connectString: servers.map(s => s.address).join(','),
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(servers.map(s => s.kill()));
      rmSync(root, {recursive: true, force: true});
      tempDirs.delete(root);
    },
    async halt() {
      await Promise.all(servers.map(s => s.kill()));
    },
    async resume(timeoutMs = 60_000) {
      for (const server of servers) if (server.pid === undefined) server.spawn(install.java);
      const deadline = Date.now() + timeoutMs;
      await Promise.all(servers.map(s => s.waitServing(deadline)));
    },
  };
  try {
    for (const server of servers) server.spawn(install.java);
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    await Promise.all(servers.map(s => s.waitServing(deadline)));
  } catch (error) {
    await ensemble.stop();
    throw error;
  }
  return ensemble;
}
