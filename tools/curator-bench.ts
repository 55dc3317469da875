/**
 * `npm run bench:curator`: Apache Curator's recipes on the real ZooKeeper 3.8 and on Synod's
 * ZooKeeper port, both alive on this machine for the whole run, measured in alternation A-B-B-A
 * (ZooKeeper then Synod in odd repetitions, Synod then ZooKeeper in even ones), so that the
 * machine's load falls on both.
 *
 * - **InterProcessMutex throughput**: `--clients` Curator clients (one session each, in one JVM)
 *   contend for one lock, acquiring and releasing it as fast as they can; after a warm-up, the
 *   acquire/release pairs completed in `--duration` are counted. Each server process's user +
 *   system time (/proc/<pid>/stat, every thread) is read when the measured window opens and
 *   when it closes and divided by the pairs: server CPU per acquire/release, leader and all
 *   members. The client JVM's CPU is shown beside it.
 * - **LeaderLatch fail-over**: one JVM leads a LeaderLatch (and holds the mutex), a second one
 *   waits on both; the leader's JVM is killed by pid (SIGKILL, so its session is not closed),
 *   and the time from the kill to the second JVM's leadership is taken. Both sessions ask for
 *   4 s, the least either server grants (2 ticks of 2 s), so this is the servers' session
 *   expiry plus the recipe's reaction.
 *
 * Each figure is printed per repetition, as the median (min–max) over repetitions, and as the
 * ratio Synod ÷ ZooKeeper taken within each repetition. ZooKeeper runs with the heap its
 * `zkServer.sh` gives it and the JVM's own GC and JIT; the Curator JVMs run with full JIT.
 *
 * Flags: --reps=N (3) --members=1|3 (3) --clients=N (16) --duration=S (10, seconds)
 * --synod=source|dist (source: the TypeScript sources through tsx; dist: `npm run build` first).
 */
import {parseArgs} from 'node:util';

import {compileCuratorChecks, fourLetterWord, runCurator, startZooKeeper} from '@synod/testing';
import type {CuratorRun} from '@synod/testing';

import {BenchCluster, cpuPerOperation, cpuSeconds, cpuSnapshot} from './bench-cluster.js';
import {describeMachine, spread} from './side-by-side.js';

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    members: {type: 'string', default: '3'},
    clients: {type: 'string', default: '16'},
    duration: {type: 'string', default: '10'},
    synod: {type: 'string', default: 'source'},
  },
});

function whole(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} takes a whole number, not "${value}"`);
  return n;
}

const reps = whole('reps', args.reps);
const members = whole('members', args.members);
if (members !== 1 && members !== 3) throw new Error('--members is 1 or 3');
const clients = whole('clients', args.clients);
const durationMs = whole('duration', args.duration) * 1000;
const synodBuild = args.synod;
if (synodBuild !== 'source' && synodBuild !== 'dist') throw new Error('--synod is source or dist');

type Side = 'zookeeper' | 'synod';
const sideName: Record<Side, string> = {zookeeper: 'ZooKeeper', synod: 'Synod'};

/** A running service: its connect string, its processes and which of them leads. */
interface Service {
  readonly connectString: string;
  /** `host:port` of each server's ZooKeeper port. */
  readonly addresses: readonly string[];
  readonly pids: readonly number[];
  leaderPid(): Promise<number>;
  stop(): Promise<void>;
}

async function startZooKeeperService(): Promise<Service> {
  const ensemble = await startZooKeeper({
    servers: members as 1 | 3,
    // The heap zkServer.sh gives ZooKeeper; GC and JIT as the JVM's own.
    jvmFlags: ['-Xmx1000m'],
    extraConfig: ['maxClientCnxns=0'],
    // As Synod's /zookeeper/config does, name the client addresses: Curator's ensemble tracker
    // then takes its connect string from the config on both.
    clientAddressesInConfig: true,
  });
  return {
    connectString: ensemble.connectString,
    addresses: ensemble.servers.map(s => s.address),
    pids: ensemble.servers.map(s => s.pid ?? 0),
    async leaderPid() {
      for (const s of ensemble.servers) {
        const srvr = await fourLetterWord(s.host, s.clientPort, 'srvr');
        if (/^Mode: (leader|standalone)$/m.test(srvr)) return s.pid ?? 0;
      }
      throw new Error('no ZooKeeper server says it leads');
    },
    stop: () => ensemble.stop(),
  };
}

async function startSynodService(): Promise<Service> {
  const cluster = await BenchCluster.start({
    server: 'synod',
    members,
    synod: synodBuild as 'source' | 'dist',
    zookeeper: true,
  });
  return {
    connectString: cluster.members.map(m => m.zkAddress ?? '').join(','),
    addresses: cluster.members.map(m => m.zkAddress ?? ''),
    pids: cluster.pids,
    leaderPid: async () => (await cluster.leader()).pid,
    stop: () => cluster.stop(),
  };
}

interface MutexFigures {
  readonly pairsPerSecond: number;
  readonly leaderCpuUs: number;
  readonly allCpuUs: number;
  readonly clientCpuUs: number;
  /** Requests the servers received per acquire/release (mntr's zk_packets_received, pings too). */
  readonly requests: number;
}

/** Every server's `zk_packets_received` (from `mntr`), summed. */
async function packetsReceived(service: Service): Promise<number> {
  let total = 0;
  for (const address of service.addresses) {
    const [host = '', port = ''] = address.split(':');
    const mntr = await fourLetterWord(host, Number(port), 'mntr');
    total += Number(/^zk_packets_received\t(\d+)$/m.exec(mntr)?.[1] ?? Number.NaN);
  }
  return total;
}

async function measureMutex(
  service: Service,
  root: string,
  windowMs: number,
): Promise<MutexFigures> {
  const run = await runCurator('bench-mutex', service.connectString, root, {
    args: [String(clients), String(windowMs)],
    fullJit: true,
  });
  try {
    const leader = await service.leaderPid();
    await run.waitForLine(/^STATE measuring/);
    const packetsBefore = await packetsReceived(service);
    const before = cpuSnapshot(service.pids);
    const clientBefore = cpuSeconds(run.pid ?? 0);
    const measured = await run.waitForLine(/^STATE measured /, windowMs + 60_000);
    const after = cpuSnapshot(service.pids);
    const clientAfter = cpuSeconds(run.pid ?? 0);
    const packetsAfter = await packetsReceived(service);
    const [, , ops = '0', ms = '1'] = measured.split(' ');
    const pairs = Number(ops);
    const cpu = cpuPerOperation(before, after, leader, pairs);
    const result = await run.result(60_000);
    const failed = result.checks.filter(c => !c.ok);
    if (failed.length > 0 || result.code !== 0) {
      throw new Error(`the mutex run failed: ${JSON.stringify(failed)}\n${result.stderr}`);
    }
    return {
      pairsPerSecond: (pairs * 1000) / Number(ms),
      leaderCpuUs: cpu.leaderUs,
      allCpuUs: cpu.allUs,
      clientCpuUs: ((clientAfter - clientBefore) * 1e6) / pairs,
      requests: (packetsAfter - packetsBefore) / pairs,
    };
  } finally {
    await run.kill();
  }
}

async function measureFailover(service: Service, root: string): Promise<number> {
  const started: CuratorRun[] = [];
  try {
    const holder = await runCurator('hold', service.connectString, root, {fullJit: true});
    started.push(holder);
    await holder.waitForLine(/^STATE held/);
    const taker = await runCurator('takeover', service.connectString, root, {fullJit: true});
    started.push(taker);
    await taker.waitForLine(/^STATE waiting/);
    const killedAt = performance.now();
    await holder.kill();
    taker.tell('killed');
    await taker.waitForLine(/^STATE leader/, 60_000);
    const failoverMs = performance.now() - killedAt;
    const result = await taker.result(60_000);
    const failed = result.checks.filter(c => !c.ok);
    if (failed.length > 0) throw new Error(`the takeover failed: ${JSON.stringify(failed)}`);
    return failoverMs;
  } finally {
    for (const run of started) await run.kill();
  }
}

interface Repetition {
  readonly mutex: Record<Side, MutexFigures>;
  readonly failoverMs: Record<Side, number>;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.log(
    `curator-bench: ${machine.cpu}, Node ${machine.node}, commit ${machine.commit}; ` +
      `${members} member(s) each, ${clients} mutex clients, ${durationMs / 1000} s windows, ` +
      `${reps} repetitions, Synod from ${synodBuild}`,
  );
  await compileCuratorChecks();
  const services: Partial<Record<Side, Service>> = {};
  try {
    services.zookeeper = await startZooKeeperService();
    services.synod = await startSynodService();
    // Warm both (JIT, the first sessions and nodes) before anything is measured.
    for (const side of ['zookeeper', 'synod'] as const) {
      const service = services[side];
      if (service !== undefined) await measureMutex(service, '/warm-up', 3000);
    }
    const repetitions: Repetition[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const order: Side[] = rep % 2 === 1 ? ['zookeeper', 'synod'] : ['synod', 'zookeeper'];
      const mutex: Partial<Record<Side, MutexFigures>> = {};
      const failoverMs: Partial<Record<Side, number>> = {};
      for (const side of order) {
        const service = services[side];
        if (service === undefined) continue;
        mutex[side] = await measureMutex(service, `/bench-${rep}`, durationMs);
        failoverMs[side] = await measureFailover(service, `/failover-${rep}`);
        const m = mutex[side];
        console.log(
          `rep ${rep} ${sideName[side].padEnd(9)} mutex ${m.pairsPerSecond.toFixed(1)} acquire/release/s, ` +
            `server CPU ${m.allCpuUs.toFixed(0)} µs/pair (leader ${m.leaderCpuUs.toFixed(0)}), ` +
            `client ${m.clientCpuUs.toFixed(0)} µs/pair, ${m.requests.toFixed(1)} requests/pair; LeaderLatch fail-over ${failoverMs[side].toFixed(0)} ms`,
        );
      }
      repetitions.push({
        mutex: mutex as Record<Side, MutexFigures>,
        failoverMs: failoverMs as Record<Side, number>,
      });
    }
    report(repetitions);
  } finally {
    await services.synod?.stop();
    await services.zookeeper?.stop();
  }
}

function report(repetitions: readonly Repetition[]): void {
  const rows: [string, (r: Repetition, side: Side) => number, number][] = [
    ['InterProcessMutex acquire/release per s', (r, s) => r.mutex[s].pairsPerSecond, 1],
    ['server CPU per acquire/release, all members (µs)', (r, s) => r.mutex[s].allCpuUs, 0],
    ['server CPU per acquire/release, leader (µs)', (r, s) => r.mutex[s].leaderCpuUs, 0],
    ['client CPU per acquire/release (µs)', (r, s) => r.mutex[s].clientCpuUs, 0],
    ['requests received per acquire/release', (r, s) => r.mutex[s].requests, 1],
    ['LeaderLatch fail-over after a client kill (ms)', (r, s) => r.failoverMs[s], 0],
  ];
  console.log('\nfigure | ZooKeeper | Synod | Synod ÷ ZooKeeper');
  console.log('--- | --- | --- | ---');
  for (const [name, of, digits] of rows) {
    const zk = repetitions.map(r => of(r, 'zookeeper'));
    const synod = repetitions.map(r => of(r, 'synod'));
    const ratios = repetitions.map(r => of(r, 'synod') / of(r, 'zookeeper'));
    console.log(
      `${name} | ${spread(zk, digits)} | ${spread(synod, digits)} | ${spread(ratios, 2)}`,
    );
  }
  console.log(
    `\nmedian (min–max) over ${repetitions.length} repetitions; ratios within each repetition`,
  );
}

await main();
