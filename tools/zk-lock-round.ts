/**
 * Where the time of one InterProcessMutex acquire/release goes, on the real ZooKeeper 3.8 and on
 * Synod's ZooKeeper port, both alive for the whole run and measured in alternation A-B-B-A.
 *
 * Curator's lock recipe (LockInternals) is replayed request by request with the test client, so
 * each step can be timed: `--clients` sessions, spread over the servers, each loop on
 * create (ephemeral sequential) -> getChildren -> if not first: getData with a watch on the node
 * before its own, wait for NodeDeleted, getChildren again -> holding -> delete. For each request
 * kind the latency is recorded, and for each hand-over of the lock:
 * - `wake`: from the holder sending its delete to the next client receiving NodeDeleted;
 * - `hand-over`: from that delete being sent to the next client holding the lock (its wake, then
 *   its getChildren).
 * The lock's throughput is one hand-over per pair, so the hand-over is the round's critical path.
 * Server CPU (user + system, every thread, /proc/<pid>/stat) is divided by the pairs.
 *
 * Flags: --reps=N (2) --members=1|3 (3) --clients=N (16) --duration=S (10)
 */
import {parseArgs} from 'node:util';

import {CreateMode, startZooKeeper, ZooKeeperClient} from '@synod/testing';

import {BenchCluster, cpuSeconds} from './bench-cluster.js';
import {describeMachine, spread} from './side-by-side.js';

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '2'},
    members: {type: 'string', default: '3'},
    clients: {type: 'string', default: '16'},
    duration: {type: 'string', default: '10'},
  },
});
const reps = Number(args.reps);
const members = ((): 1 | 3 => {
  if (args.members === '1') return 1;
  if (args.members === '3') return 3;
  throw new Error('--members is 1 or 3');
})();
const clients = Number(args.clients);
const durationMs = Number(args.duration) * 1000;
for (const [name, v] of [
  ['reps', reps],
  ['clients', clients],
  ['duration', durationMs],
] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a whole number`);
}

type Side = 'zookeeper' | 'synod';
const steps = ['create', 'getChildren', 'getData+watch', 'delete', 'wake', 'hand-over'] as const;
type Step = (typeof steps)[number];

interface Service {
  readonly addresses: readonly string[];
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

interface RoundFigures {
  readonly pairsPerSecond: number;
  readonly cpuUsPerPair: number;
  /** Median latency of each step, ms. */
  readonly p50Ms: Readonly<Record<Step, number>>;
  /** Requests of each kind per pair. */
  readonly perPair: Readonly<Record<Step, number>>;
}

const NO_NODE = -101;

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function measure(service: Service, root: string): Promise<RoundFigures> {
  const sessions = await Promise.all(
    Array.from({length: clients}, (_, i) => {
      const [host = '', port = ''] = (service.addresses[i % service.addresses.length] ?? '').split(
        ':',
      );
      return ZooKeeperClient.connect({host, port: Number(port), replyTimeoutMs: 30_000});
    }),
  );
  const first = sessions[0];
  if (first === undefined) throw new Error('no session');
  await first.create(root, '');
  const samples = Object.fromEntries(steps.map(s => [s, [] as number[]])) as Record<Step, number[]>;
  let deleteSentAt = Number.NaN;
  let pairs = 0;
  let measuring = false;
  const timed = async <T>(step: Step, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await call();
    if (measuring) samples[step].push(performance.now() - started);
    return result;
  };
  let stopAt = Number.POSITIVE_INFINITY;
  const loop = async (c: ZooKeeperClient): Promise<void> => {
    while (performance.now() < stopAt) {
      const created = await timed('create', () =>
        c.create(`${root}/lock-`, '', CreateMode.ephemeralSequential),
      );
      if (created.kind !== 'reply' || created.value === undefined) throw new Error('create failed');
      const path = created.value.path;
      const mine = path.slice(root.length + 1);
      for (;;) {
        const listed = await timed('getChildren', () => c.getChildren(root));
        if (listed.kind !== 'reply' || listed.value === undefined) throw new Error('ls failed');
        const sorted = [...listed.value.children].sort();
        const at = sorted.indexOf(mine);
        if (at === 0) break;
        const before = `${root}/${sorted[at - 1] ?? ''}`;
        const watched = await timed('getData+watch', () => c.getData(before, true));
        if (watched.kind === 'reply' && watched.err === NO_NODE) continue;
        await c.takeEvents(1, 60_000, 0);
        if (measuring) samples.wake.push(performance.now() - deleteSentAt);
      }
      if (measuring && Number.isFinite(deleteSentAt)) {
        samples['hand-over'].push(performance.now() - deleteSentAt);
      }
      deleteSentAt = performance.now();
      await timed('delete', () => c.delete(path));
      if (measuring) pairs++;
    }
  };
  const running = sessions.map(loop);
  // Warm-up, then the measured window.
  await new Promise(resolve => setTimeout(resolve, 3000));
  const cpuBefore = service.pids.map(cpuSeconds);
  const startedAt = performance.now();
  measuring = true;
  await new Promise(resolve => setTimeout(resolve, durationMs));
  measuring = false;
  const elapsedMs = performance.now() - startedAt;
  const cpuAfter = service.pids.map(cpuSeconds);
  stopAt = 0;
  await Promise.all(running);
  await Promise.all(sessions.map(s => s.close()));
  const cpu = cpuAfter.reduce((sum, v, i) => sum + v - (cpuBefore[i] ?? v), 0);
  const p50Ms = Object.fromEntries(steps.map(s => [s, median(samples[s])])) as Record<Step, number>;
  const perPair = Object.fromEntries(steps.map(s => [s, samples[s].length / pairs])) as Record<
    Step,
    number
  >;
  return {
    pairsPerSecond: (pairs * 1000) / elapsedMs,
    cpuUsPerPair: (cpu * 1e6) / pairs,
    p50Ms,
    perPair,
  };
}

async function main(): Promise<void> {
  const machine = describeMachine();
  console.log(
    `zk-lock-round: ${machine.cpu}, Node ${machine.node}, commit ${machine.commit}; ${members} server(s) each, ${clients} clients, ${durationMs / 1000} s windows, ${reps} repetitions`,
  );
  const services = new Map<Side, Service>();
  try {
    const ensemble = await startZooKeeper({
      servers: members,
      jvmFlags: ['-Xmx1000m'],
      extraConfig: ['maxClientCnxns=0'],
    });
    services.set('zookeeper', {
      addresses: ensemble.servers.map(s => s.address),
      pids: ensemble.servers.map(s => s.pid ?? 0),
      stop: () => ensemble.stop(),
    });
    const cluster = await BenchCluster.start({server: 'synod', members, zookeeper: true});
    services.set('synod', {
      addresses: cluster.members.map(m => m.zkAddress ?? ''),
      pids: cluster.pids,
      stop: () => cluster.stop(),
    });
    const results = new Map<Side, RoundFigures[]>([
      ['zookeeper', []],
      ['synod', []],
    ]);
    for (let rep = 1; rep <= reps; rep++) {
      const order: Side[] = rep % 2 === 1 ? ['zookeeper', 'synod'] : ['synod', 'zookeeper'];
      for (const side of order) {
        const service = services.get(side);
        if (service === undefined) continue;
        const f = await measure(service, `/round-${rep}`);
        results.get(side)?.push(f);
        console.log(
          `rep ${rep} ${side.padEnd(9)} ${f.pairsPerSecond.toFixed(1)} pairs/s, server CPU ${f.cpuUsPerPair.toFixed(0)} µs/pair; p50 ms: ${steps.map(s => `${s} ${f.p50Ms[s].toFixed(2)}`).join(', ')}; per pair: ${steps.map(s => `${s} ${f.perPair[s].toFixed(2)}`).join(', ')}`,
        );
      }
    }
    console.log('\nfigure | ZooKeeper | Synod | Synod ÷ ZooKeeper\n--- | --- | --- | ---');
    const zk = results.get('zookeeper') ?? [];
    const sy = results.get('synod') ?? [];
    const row = (name: string, pick: (f: RoundFigures) => number, digits: number) => {
      const ratios = zk.map((z, i) => pick(sy[i] ?? z) / pick(z));
      console.log(
        `${name} | ${spread(zk.map(pick), digits)} | ${spread(sy.map(pick), digits)} | ${spread(ratios, 2)}`,
      );
    };
    row('acquire/release pairs per s', f => f.pairsPerSecond, 1);
    row('server CPU per pair, all members (µs)', f => f.cpuUsPerPair, 0);
    for (const s of steps) row(`${s} p50 (ms)`, f => f.p50Ms[s], 2);
    console.log('\nmedian (min–max) over repetitions; ratios within each repetition');
  } finally {
    for (const s of services.values()) await s.stop();
  }
}

await main();
