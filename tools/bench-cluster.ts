/**
 * Clusters for the tools that measure etcd and Synod side by side (`bench:compare`,
 * `bench:gateway`, `bench:tls`): start either server with the same etcd flags on free loopback
 * ports, find the member that leads, read what each member process has used from /proc, and
 * stop the members by pid.
 *
 * Every member and helper process started here is tracked by pid. Ctrl-C (SIGINT) or SIGTERM
 * stops them as `stop()` does (SIGTERM, SIGKILL 5 s later) and removes their data before the
 * tool exits; if the tool exits any other way they are killed with SIGKILL on the way out.
 */
import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {MaintenanceDefinition} from '@synod/proto';
import {freePorts} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import type {ChannelCredentials} from 'nice-grpc';

export type ServerKind = 'etcd' | 'synod';

/**
 * How Synod runs: `dist` is the build (`apps/server/bin/synod.js`, `npm run build` first), as
 * in production; `source` is the TypeScript sources through tsx, as the tests run it.
 */
export type SynodBuild = 'dist' | 'source';

/** What {@link BenchCluster.start} starts. */
export interface BenchClusterOptions {
  readonly server: ServerKind;
  readonly members: number;
  /** How Synod runs, `source` by default; etcd is the `etcd` binary on the PATH. */
  readonly synod?: SynodBuild;
  /** etcd's default, 100 ms, unless set. */
  readonly heartbeatIntervalMs?: number;
  /** etcd's default, 1000 ms, unless set. */
  readonly electionTimeoutMs?: number;
  /** Flags given to every member of either server after the common ones. */
  readonly extraFlags?: readonly string[];
  /** Synod only: each member also serves ZooKeeper clients on a port of its own. */
  readonly zookeeper?: boolean;
  /** Synod only: flags for node itself, before the script (`--cpu-prof`, `--trace-gc`). */
  readonly nodeFlags?: readonly string[];
  /** Where each member's stdout goes, as `<dir>/<name>.stdout` (`--trace-gc` writes there). */
  readonly stdoutDir?: string;
}

/** One member process. */
export interface BenchMember {
  readonly name: string;
  /** `127.0.0.1:<port>`, without scheme. */
  readonly clientAddress: string;
  /** `127.0.0.1:<port>` of its ZooKeeper listener, when the cluster was started with one. */
  readonly zkAddress?: string;
  readonly pid: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const synodBuilt = join(root, 'apps/server/bin/synod.js');
const synodBuiltRun = join(root, 'apps/server/dist/run.js');
const synodSource = join(root, 'apps/server/src/run.ts');

/** How long a member has to exit after SIGTERM before it gets SIGKILL. */
const termGraceMs = 5000;
const startTimeoutMs = 30_000;

/** Children still running, killed on the way out; the data of every cluster is under one dir. */
const liveChildren = new Set<ChildProcess>();
const liveClusters = new Set<BenchCluster>();
let dataRoot: string | undefined;

function dataRootDir(): string {
  if (dataRoot === undefined) {
    dataRoot = mkdtempSync(join(tmpdir(), 'synod-side-by-side-'));
    installExitHooks();
  }
  return dataRoot;
}

let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) signal(child, 'SIGKILL');
    if (dataRoot !== undefined) rmSync(dataRoot, {recursive: true, force: true});
  });
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.once(name, () => {
      process.stderr.write(`\n${name}: stopping the members\n`);
      void Promise.all([...liveClusters].map(c => c.stop())).finally(() => process.exit(130));
    });
  }
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, name);
  } catch {
    // Gone between the check and the signal.
  }
}

/**
 * Kills `child` (SIGKILL) if it still runs when the tool exits or is interrupted: for the load
 * generators a tool starts beside the members.
 */
export function killOnExit(child: ChildProcess): void {
  installExitHooks();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Stops a process by pid: SIGTERM, then SIGKILL if it has not exited after 5 s. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise(resolve => child.once('exit', resolve));
  signal(child, 'SIGTERM');
  const timer = setTimeout(() => {
    signal(child, 'SIGKILL');
  }, termGraceMs);
  await exited;
  clearTimeout(timer);
}

/** The unit of the times in /proc/<pid>/stat, from `getconf CLK_TCK` (100 on Linux). */
export const clockTicksPerSecond: number = (() => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout);
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
})();

/**
 * User plus system CPU time of a process and all its threads, in seconds (fields 14 and 15
 * of /proc/<pid>/stat).
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it are counted from its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** Resident memory of a process (`VmRSS` in /proc/<pid>/status), in MiB. */
export function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

/** Each process's CPU time at one moment, by pid: take one before a load and one after. */
export function cpuSnapshot(pids: readonly number[]): ReadonlyMap<number, number> {
  return new Map(pids.map(pid => [pid, cpuSeconds(pid)]));
}

/** Server CPU one load cost, per operation completed, in µs. */
export interface CpuPerOperation {
  readonly leaderUs: number;
  /** Each follower's, in member order. */
  readonly followersUs: readonly number[];
  /** The followers' mean; NaN on a one-member cluster. */
  readonly followerMeanUs: number;
  /** Every member's together. */
  readonly allUs: number;
}

/**
 * What each member used between two {@link cpuSnapshot}s, divided by the operations the load
 * completed, split into the leader's and the followers'.
 */
export function cpuPerOperation(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  leaderPid: number,
  ops: number,
): CpuPerOperation {
  const perOpUs = (pid: number): number => {
    const used = (after.get(pid) ?? Number.NaN) - (before.get(pid) ?? Number.NaN);
    return ops > 0 ? (used * 1e6) / ops : Number.NaN;
  };
  const pids = [...before.keys()];
  const followersUs = pids.filter(pid => pid !== leaderPid).map(perOpUs);
  return {
    leaderUs: perOpUs(leaderPid),
    followersUs,
    followerMeanUs:
      followersUs.length === 0
        ? Number.NaN
        : followersUs.reduce((a, b) => a + b, 0) / followersUs.length,
    allUs: pids.map(perOpUs).reduce((a, b) => a + b, 0),
  };
}

/**
 * The client address (`host:port`) of the member that leads, asked of each member in turn
 * over gRPC (Maintenance.Status) until one says it is the leader; up to 10 s while an
 * election settles.
 */
export async function leaderOf(
  addresses: readonly string[],
  credentials?: ChannelCredentials,
): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const address of addresses) {
      const channel = createChannel(address, credentials);
      try {
        const status = await createClient(MaintenanceDefinition, channel).status(
          {},
          {signal: AbortSignal.timeout(2000)},
        );
        if (status.leader !== 0n && status.leader === status.header?.memberId) return address;
      } catch {
        // Not ready yet.
      } finally {
        channel.close();
      }
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(`no leader among ${addresses.join(', ')} after 10 s`);
}

/** A running member: its process, and the last of what it wrote to stderr. */
interface RunningMember extends BenchMember {
  readonly child: ChildProcess;
  stderrTail: string;
}

/**
 * A cluster of real etcd or Synod members on loopback, each with a fresh data dir under one
 * temporary directory shared by every cluster of the run (the same disk for both servers).
 * Both servers get the same etcd flags: the raft timings are spelled out, etcd's defaults
 * unless the options say otherwise, and the log level is `error`.
 */
export class BenchCluster {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly server: ServerKind,
    private readonly running: readonly RunningMember[],
    private readonly dataDir: string,
  ) {}

  /** Starts the members and waits until each answers `/health` (which needs a leader). */
  static async start(options: BenchClusterOptions): Promise<BenchCluster> {
    const dataDir = mkdtempSync(join(dataRootDir(), `${options.server}-${options.members}-`));
    const ports = await freePorts(options.members * 3);
    const specs = Array.from({length: options.members}, (_, i) => ({
      name: `m${i}`,
      client: `http://127.0.0.1:${ports[2 * i] ?? 0}`,
      peer: `http://127.0.0.1:${ports[2 * i + 1] ?? 0}`,
      zk:
        options.zookeeper === true ? `127.0.0.1:${ports[2 * options.members + i] ?? 0}` : undefined,
    }));
    const initialCluster = specs.map(s => `${s.name}=${s.peer}`).join(',');
    const running = specs.map(spec => {
      const memberDir = join(dataDir, spec.name);
      mkdirSync(memberDir);
      const flags = [
        `--name=${spec.name}`,
        `--data-dir=${memberDir}`,
        `--listen-client-urls=${spec.client}`,
        `--advertise-client-urls=${spec.client}`,
        `--listen-peer-urls=${spec.peer}`,
        `--initial-advertise-peer-urls=${spec.peer}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=side-by-side-${options.server}-${ports[0] ?? 0}`,
        '--initial-cluster-state=new',
        `--heartbeat-interval=${options.heartbeatIntervalMs ?? 100}`,
        `--election-timeout=${options.electionTimeoutMs ?? 1000}`,
        '--log-level=error',
        ...(spec.zk === undefined ? [] : [`--listen-zk-urls=http://${spec.zk}`]),
        ...(options.extraFlags ?? []),
      ];
      const [file, argv] = memberCommand(
        options.server,
        options.synod ?? 'source',
        flags,
        options.nodeFlags ?? [],
      );
      const stdout =
        options.stdoutDir === undefined
          ? 'ignore'
          : openSync(join(options.stdoutDir, `${spec.name}.stdout`), 'w');
      const child = spawn(file, argv, {stdio: ['ignore', stdout, 'pipe']});
      if (typeof stdout === 'number') closeSync(stdout);
      if (child.pid === undefined) throw new Error(`could not start ${file}`);
      liveChildren.add(child);
      const member: RunningMember = {
        name: spec.name,
        clientAddress: spec.client.slice('http://'.length),
        ...(spec.zk === undefined ? {} : {zkAddress: spec.zk}),
        pid: child.pid,
        child,
        stderrTail: '',
      };
      child.stderr?.on('data', (chunk: Buffer) => {
        member.stderrTail = (member.stderrTail + chunk.toString('utf8')).slice(-4000);
      });
      child.once('exit', () => liveChildren.delete(child));
      return member;
    });
    const cluster = new BenchCluster(options.server, running, dataDir);
    liveClusters.add(cluster);
    try {
      await Promise.all(running.map(m => cluster.waitHealthy(m)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get members(): readonly BenchMember[] {
    return this.running;
  }

  get addresses(): readonly string[] {
    return this.running.map(m => m.clientAddress);
  }

  get pids(): readonly number[] {
    return this.running.map(m => m.pid);
  }

  /** The member that leads now, found as {@link leaderOf} finds it. */
  async leader(): Promise<BenchMember> {
    const address = await leaderOf(this.addresses);
    const member = this.running.find(m => m.clientAddress === address);
    if (member === undefined) throw new Error(`${address} is no member of this cluster`);
    return member;
  }

  /**
   * Each member's CPU time now ({@link cpuSnapshot}); a member that has died makes it throw
   * with what the member last wrote to stderr.
   */
  cpuSnapshot(): ReadonlyMap<number, number> {
    this.assertRunning();
    return cpuSnapshot(this.pids);
  }

  /** Each member's resident memory in MiB, in member order. */
  residentMiB(): number[] {
    this.assertRunning();
    return this.pids.map(residentMiB);
  }

  /** Stops every member by pid (SIGTERM, SIGKILL after 5 s) and removes the data. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(this.running.map(m => terminate(m.child))).then(() => {
      rmSync(this.dataDir, {recursive: true, force: true});
      liveClusters.delete(this);
    });
    return this.stopping;
  }

  private assertRunning(): void {
    for (const m of this.running) {
      if (m.child.exitCode !== null || m.child.signalCode !== null) {
        throw new Error(
          `${this.server} member ${m.name} (pid ${m.pid}) exited ` +
            `(${m.child.exitCode ?? m.child.signalCode ?? ''}):\n${m.stderrTail}`,
        );
      }
    }
  }

  private async waitHealthy(member: RunningMember): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      this.assertRunning();
      try {
        const response = await fetch(`http://${member.clientAddress}/health`, {
          signal: AbortSignal.timeout(1000),
        });
        const body = (await response.json()) as {health?: unknown};
        if (String(body.health) === 'true') return;
      } catch {
        // Not listening yet.
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    throw new Error(
      `${this.server} member ${member.name} not healthy after ${startTimeoutMs / 1000} s:\n` +
        member.stderrTail,
    );
  }
}

function memberCommand(
  server: ServerKind,
  synod: SynodBuild,
  flags: readonly string[],
  nodeFlags: readonly string[],
): [string, string[]] {
  if (server === 'etcd') return ['etcd', [...flags, '--logger=zap']];
  if (synod === 'dist') {
    if (!existsSync(synodBuiltRun)) {
      throw new Error('Synod is not built: run `npm run build` first, or run it from the sources');
    }
    return [process.execPath, [...nodeFlags, synodBuilt, ...flags]];
  }
  return [
    process.execPath,
    [...nodeFlags, '--conditions=@synod/source', '--import', 'tsx', synodSource, ...flags],
  ];
}
