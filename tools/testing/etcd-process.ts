import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import https from 'node:https';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {installExitHook, liveChildren, tempDirs} from './process-registry.js';

/**
 * Starts real etcd members as child processes for integration tests: one member or a
 * cluster, on loopback ports, with short raft timings so that elections and lease
 * expiry happen in test time.
 *
 * Every process started here is tracked by pid and killed when the test process exits,
 * even if a test crashes before calling `stop()`.
 */

/** Why the etcd suites are skipped on this machine, or undefined when etcd is installed. */
export const etcdSkipReason: string | undefined = findEtcdSkipReason();

function findEtcdSkipReason(): string | undefined {
  const binary = process.env.ETCD_BIN ?? 'etcd';
  const probe = spawnSync(binary, ['--version'], {encoding: 'utf8'});
  if (probe.error === undefined && probe.status === 0) return undefined;
  const reason =
    `etcd is not installed (running "${binary} --version" failed): install etcd 3.4+ ` +
    '(Debian package etcd-server) or point ETCD_BIN at the binary to run these tests';
  // On CI a missing etcd must fail the build rather than silently skip the suites.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(reason);
  return reason;
}

/** Options for {@link startEtcd}. */
export interface EtcdClusterOptions {
  /** Number of members, 1 by default. */
  readonly members?: number;
  /** Raft heartbeat, 50 ms by default (etcd's default is 100). */
  readonly heartbeatIntervalMs?: number;
  /** Raft election timeout, 500 ms by default (etcd's default is 1000). */
  readonly electionTimeoutMs?: number;
  /** Extra flags passed to every member. */
  readonly extraArgs?: readonly string[];
  /** Extra flags for one member, by its name (`m0`, `m1`, ...), such as its own port. */
  readonly memberArgs?: (memberName: string) => readonly string[];
  /** How long to wait for the cluster to become healthy, 20 s by default. */
  readonly startTimeoutMs?: number;
  /**
   * Serve clients, or peers, on `https://` URLs. The certificate flags go in `extraArgs`;
   * `healthTls` is what the start-up health check connects with.
   */
  readonly clientScheme?: 'http' | 'https';
  readonly peerScheme?: 'http' | 'https';
  readonly healthTls?: HealthTls;
  /**
   * Listen on each member's client address with both schemes, `http://` and `https://`
   * (etcd serves both on one port); clients and the health check use `http://`.
   */
  readonly bothSchemesOnClientPort?: boolean;
}

/** The files a health check over TLS uses: the CA to trust, and a client certificate if needed. */
export interface HealthTls {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

/** One member of a test cluster. */
export interface EtcdMember {
  readonly name: string;
  /** Client URL, `http://127.0.0.1:<port>`. */
  readonly clientUrl: string;
  /** Client address without scheme, `127.0.0.1:<port>`. */
  readonly clientAddress: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The pid of the running process, or undefined while the member is down. */
  readonly pid: number | undefined;
  /** Whether the process is running (possibly stopped by SIGSTOP). */
  readonly running: boolean;
  /** The last few kilobytes the process wrote to stdout and stderr. */
  readonly output: string;
  /** Resolves once the process has exited (at once when it is not running). */
  exited(): Promise<void>;
  /** Sends a signal to the member. SIGKILL and SIGTERM leave it down until `restart()`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the member again on its data dir and ports, and waits until it is healthy;
   * `extraFlags` are added to its flags for this start only (`--force-new-cluster`, say).
   */
  restart(extraFlags?: readonly string[]): Promise<void>;
}

/** Where a member to be added to a running cluster will live. */
export interface NewMemberSpec {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

/** A running test cluster. */
export interface EtcdCluster {
  /** The founding members, then those started with {@link startAdded}. */
  readonly members: readonly EtcdMember[];
  /** Client URLs of all members, in member order. */
  readonly endpoints: readonly string[];
  /** Pids of the running members. */
  readonly pids: readonly number[];
  /** Kills every member and removes the data dirs. Safe to call twice. */
  stop(): Promise<void>;
  /** Fresh ports and a data dir for a member to add with `member add`. */
  newMemberSpec(name: string): Promise<NewMemberSpec>;
  /**
   * Starts a member already added with `member add`, with
   * `--initial-cluster-state existing` and the given `--initial-cluster`, and
   * waits until it is healthy.
   */
  startAdded(spec: NewMemberSpec, initialCluster: string): Promise<EtcdMember>;
}

/**
 * Ports below the kernel's ephemeral range (32768–60999 on Linux), cut into one slice per
 * vitest worker. A port the kernel hands out for port 0 is free only until the next outgoing
 * connection or the next test worker takes it: with three test files running at once, a
 * member told to listen on such a port sometimes found it taken (EADDRINUSE). A port in this
 * worker's own slice is never handed out as an ephemeral port nor picked by another worker.
 */
const portSliceBase = 12_000;
const portSliceSize = 2_500;
const portSliceCount = 8;
/** Where this process continues in its slice: its pid spreads child processes of one worker. */
let nextPortOffset = (process.pid * 7_919) % portSliceSize;

/**
 * Finds `count` distinct loopback ports nothing listens on: from this vitest worker's slice
 * (each one checked by binding it), or the kernel's choice outside vitest.
 */
export async function freePorts(count: number): Promise<number[]> {
  const poolId = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(poolId) || poolId < 1) return kernelChosenPorts(count);
  const sliceStart = portSliceBase + ((poolId - 1) % portSliceCount) * portSliceSize;
  const ports: number[] = [];
  for (let tried = 0; ports.length < count; tried++) {
    if (tried === portSliceSize) {
      throw new Error(`no free port left in ${sliceStart}–${sliceStart + portSliceSize - 1}`);
    }
    const port = sliceStart + nextPortOffset;
    nextPortOffset = (nextPortOffset + 1) % portSliceSize;
    if (await canListen(port)) ports.push(port);
  }
  return ports;
}

function canListen(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

async function kernelChosenPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      {length: count},
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            resolve(server);
          });
        }),
    ),
  );
  const ports = servers.map(server => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port bound');
    return address.port;
  });
  await Promise.all(
    servers.map(
      server =>
        new Promise<void>(resolve => {
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
  return ports;
}

async function sleep(ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms));
}

async function isHealthy(clientUrl: string, healthTls: HealthTls | undefined): Promise<boolean> {
  if (clientUrl.startsWith('https:')) return isHealthyOverTls(clientUrl, healthTls);
  try {
    const response = await fetch(`${clientUrl}/health`, {signal: AbortSignal.timeout(1000)});
    if (!response.ok) return false;
    const body = (await response.json()) as {health?: unknown};
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

function isHealthyOverTls(clientUrl: string, files: HealthTls | undefined): Promise<boolean> {
  return new Promise(resolve => {
    const request = https.get(
      `${clientUrl}/health`,
      {
        timeout: 1000,
        ...(files === undefined
          ? {rejectUnauthorized: false}
          : {
              ca: readFileSync(files.ca),
              ...(files.cert === undefined ? {} : {cert: readFileSync(files.cert)}),
              ...(files.key === undefined ? {} : {key: readFileSync(files.key)}),
            }),
      },
      response => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        response.on('end', () => {
          try {
            const parsed = JSON.parse(body) as {health?: unknown};
            resolve(response.statusCode === 200 && String(parsed.health) === 'true');
          } catch {
            resolve(false);
          }
        });
      },
    );
    request.on('error', () => {
      resolve(false);
    });
    request.on('timeout', () => {
      request.destroy();
    });
  });
}

/** @internal One member's process: spawned, health-checked, signalled, restarted. */
export class Member implements EtcdMember {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    private readonly command: ServerCommand,
    private readonly startTimeoutMs: number,
    private readonly healthTls?: HealthTls,
  ) {}

  get clientAddress(): string {
    return this.clientUrl.replace(/^https?:\/\//, '');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  exited(): Promise<void> {
    const child = this.child;
    if (child === undefined) return Promise.resolve();
    return new Promise(resolve => {
      child.once('exit', () => {
        resolve();
      });
    });
  }

  spawn(extraFlags: readonly string[] = []): void {
    const child = spawn(this.command.file, [...this.command.args, ...extraFlags], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.output = '';
    const keep = (chunk: Buffer): void => {
      // Keep the tail only: enough to explain a failed start.
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

  async waitHealthy(): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (this.child === undefined) {
        throw new Error(`member ${this.name} exited during start:\n${this.output}`);
      }
      if (await isHealthy(this.clientUrl, this.healthTls)) return;
      await sleep(50);
    }
    throw new Error(
      `member ${this.name} was not healthy after ${this.startTimeoutMs} ms:\n${this.output}`,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) return;
    const exited =
      signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT'
        ? new Promise<void>(resolve => {
            child.once('exit', () => {
              resolve();
            });
          })
        : Promise.resolve();
    process.kill(child.pid, signal);
    await exited;
    if (signal === 'SIGSTOP') await untilStopped(child.pid);
  }

  async restart(extraFlags: readonly string[] = []): Promise<void> {
    if (this.child !== undefined) await this.kill('SIGKILL');
    this.spawn(extraFlags);
    await this.waitHealthy();
  }
}

/** How to start one member's process. */
/** @internal */
export interface ServerCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/** The etcd-style flags both servers take, for one member of a cluster. */
interface MemberFlags {
  readonly flags: readonly string[];
}

/**
 * Starts an etcd cluster on 127.0.0.1 with fresh ports and data dirs and waits until every
 * member reports healthy (which needs an elected leader).
 */
export async function startEtcd(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  if (etcdSkipReason !== undefined) throw new Error(etcdSkipReason);
  const binary = process.env.ETCD_BIN ?? 'etcd';
  return startCluster(options, 'etcd-test-', ({flags}) => ({
    file: binary,
    args: [...flags, '--logger=zap', '--log-level=error'],
  }));
}

/** @internal The etcd flags that start one member of a test cluster. */
export function memberFlags(
  spec: NewMemberSpec,
  initial: {readonly cluster: string; readonly token: string; readonly state: 'new' | 'existing'},
  options: EtcdClusterOptions,
): string[] {
  return [
    `--name=${spec.name}`,
    `--data-dir=${spec.dataDir}`,
    `--listen-client-urls=${
      options.bothSchemesOnClientPort === true
        ? `${spec.clientUrl},${spec.clientUrl.replace(/^http:/, 'https:')}`
        : spec.clientUrl
    }`,
    `--advertise-client-urls=${spec.clientUrl}`,
    `--listen-peer-urls=${spec.peerUrl}`,
    `--initial-advertise-peer-urls=${spec.peerUrl}`,
    `--initial-cluster=${initial.cluster}`,
    `--initial-cluster-token=${initial.token}`,
    `--initial-cluster-state=${initial.state}`,
    `--heartbeat-interval=${options.heartbeatIntervalMs ?? 50}`,
    `--election-timeout=${options.electionTimeoutMs ?? 500}`,
    ...(options.extraArgs ?? []),
    ...(options.memberArgs?.(spec.name) ?? []),
  ];
}

/**
 * @internal With `SYNOD_TEST_PEER_TLS=1`, Synod clusters that asked for no peer scheme run
 * their members' traffic over TLS (`--peer-auto-tls`), so that any suite — the fault tests
 * above all — can be run again with peer TLS: `SYNOD_TEST_PEER_TLS=1 npx vitest run <dir>`.
 */
export function peerTlsFromEnvironment(options: EtcdClusterOptions): EtcdClusterOptions {
  if (process.env.SYNOD_TEST_PEER_TLS !== '1' || options.peerScheme !== undefined) return options;
  return {
    ...options,
    peerScheme: 'https',
    extraArgs: ['--peer-auto-tls', ...(options.extraArgs ?? [])],
  };
}

/** @internal The `synod` entry point in the sources, run through tsx. */
export const synodEntry = fileURLToPath(new URL('../../apps/server/src/run.ts', import.meta.url));

/**
 * Starts a Synod cluster the same way, each member a real `synod` process run from the
 * TypeScript sources (through tsx), so tests need no build. The flags are etcd's, which is
 * the point: the same script starts either server.
 */
export async function startSynod(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const entry = synodEntry;
  return startCluster(peerTlsFromEnvironment(options), 'synod-test-', ({flags}) => ({
    file: process.execPath,
    // The log level comes first, so a test's extra flags can override it.
    args: [
      '--conditions=@synod/source',
      '--import',
      'tsx',
      entry,
      `--log-level=${process.env.SYNOD_TEST_LOG ?? 'error'}`,
      ...flags,
    ],
  }));
}

async function startCluster(
  options: EtcdClusterOptions,
  dirPrefix: string,
  commandFor: (member: MemberFlags) => ServerCommand,
): Promise<EtcdCluster> {
  installExitHook();
  const count = options.members ?? 1;
  const ports = await freePorts(count * 2);
  const root = mkdtempSync(join(tmpdir(), dirPrefix));
  tempDirs.add(root);
  const token = `test-${process.pid}-${ports[0] ?? 0}`;
  const clientScheme = options.clientScheme ?? 'http';
  const peerScheme = options.peerScheme ?? 'http';
  const specs = Array.from({length: count}, (_, i) => ({
    name: `m${i}`,
    clientUrl: `${clientScheme}://127.0.0.1:${ports[2 * i] ?? 0}`,
    peerUrl: `${peerScheme}://127.0.0.1:${ports[2 * i + 1] ?? 0}`,
    dataDir: join(root, `m${i}`),
  }));
  const initialCluster = specs.map(s => `${s.name}=${s.peerUrl}`).join(',');
  const memberFor = (spec: NewMemberSpec, cluster: string, state: 'new' | 'existing') =>
    new Member(
      spec.name,
      spec.clientUrl,
      spec.peerUrl,
      spec.dataDir,
      commandFor({flags: memberFlags(spec, {cluster, token, state}, options)}),
      options.startTimeoutMs ?? 20_000,
      options.healthTls,
    );
  const members = specs.map(spec => memberFor(spec, initialCluster, 'new'));
  let stopped = false;
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map(m => m.clientUrl),
    get pids() {
      return members.flatMap(m => (m.pid === undefined ? [] : [m.pid]));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const member of members) {
        // A stopped (SIGSTOP) process still dies by SIGKILL.
        await member.kill('SIGKILL');
      }
      rmSync(root, {recursive: true, force: true});
      tempDirs.delete(root);
    },
    async newMemberSpec(name) {
      const [clientPort, peerPort] = await freePorts(2);
      return {
        name,
        clientUrl: `${clientScheme}://127.0.0.1:${clientPort ?? 0}`,
        peerUrl: `${peerScheme}://127.0.0.1:${peerPort ?? 0}`,
        dataDir: join(root, name),
      };
    },
    async startAdded(spec, cluster) {
      const member = memberFor(spec, cluster, 'existing');
      members.push(member);
      member.spawn();
      await member.waitHealthy();
      return member;
    },
  };
  try {
    for (const member of members) member.spawn();
    await Promise.all(members.map(m => m.waitHealthy()));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * The servers a suite runs against when it must hold for etcd and Synod alike:
 * `describe.each(testServers)('... against $name', ({start}) => ...)`.
 */
export const testServers = [
  {name: 'etcd', start: startEtcd},
  {name: 'synod', start: startSynod},
] as const;

/**
 * Waits until every thread of `pid` is stopped (state `T` in `/proc/<pid>/task/<tid>/stat`),
 * for at most 2 s. `kill` returns once SIGSTOP is queued; on a loaded machine the threads of a
 * multi-threaded process (etcd's Go runtime) can still run for a while, and read and answer a
 * request sent to a member the test believes stopped.
 */
async function untilStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 2000;
  const stopped = () => {
    try {
      return readdirSync(`/proc/${pid}/task`).every(tid => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
      });
    } catch {
      return true;
    }
  };
  while (!stopped() && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 1));
  }
}
