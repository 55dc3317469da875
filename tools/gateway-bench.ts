/**
 * `npm run bench:gateway`: etcd's HTTP/JSON gateway and Synod's, measured the same way in one
 * run. Each repetition starts an etcd cluster, then a Synod cluster (etcd, Synod, etcd, Synod,
 * ...), and on each: writes every key once through the gateway, sends puts for `--duration`,
 * then linearizable single-key ranges for `--duration`, all to the leader, from 64 closed-loop
 * clients on HTTP/1.1 keep-alive connections. Around each load it reads every member's CPU time
 * from /proc/<pid>/stat.
 *
 * Printed per run, then as the median over repetitions with the spread (min–max): operations per
 * second, latency p50 and p99, and server CPU per operation of the leader, of each follower (the
 * followers' mean) and of all members together; then Synod ÷ etcd for throughput and CPU per
 * operation, each repetition's Synod run against its own etcd run.
 *
 *   npm run bench:gateway -- [--reps=3] [--duration=10s] [--members=3] [--clients=64]
 *                            [--keys=10000] [--value-bytes=256]
 *
 * Both servers get etcd's default raft timings (100 ms heartbeat, 1 s election timeout); Synod
 * runs from its TypeScript sources through tsx, as the test launcher runs it. The load generator
 * shares the machine's cores with the members, which is why the figure that counts is CPU per
 * operation, not throughput. Any failed request is counted, shown, and makes the exit code 1.
 */
import {parseArgs} from 'node:util';

import {parseDurationMs} from '@synod/bench';

import {BenchCluster, cpuPerOperation} from './bench-cluster.js';
import type {BenchMember, CpuPerOperation} from './bench-cluster.js';
import {runGatewayLoad} from './gateway-load.js';
import type {GatewayLoadResult} from './gateway-load.js';
import {describeMachine, spread} from './side-by-side.js';

const usage =
  'Usage: npm run bench:gateway -- [--reps=3] [--duration=10s] [--members=3] [--clients=64]\n' +
  '                                [--keys=10000] [--value-bytes=256]\n';

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    duration: {type: 'string', default: '10s'},
    members: {type: 'string', default: '3'},
    clients: {type: 'string', default: '64'},
    keys: {type: 'string', default: '10000'},
    'value-bytes': {type: 'string', default: '256'},
    help: {type: 'boolean', default: false},
  },
});
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const reps = Number(args.reps);
const durationMs = parseDurationMs(args.duration);
const memberCount = Number(args.members);
const clients = Number(args.clients);
const keyCount = Number(args.keys);
const valueBytes = Number(args['value-bytes']);
if (memberCount !== 1 && memberCount !== 3) throw new Error('--members is 1 or 3');
for (const [name, value] of Object.entries({reps, clients, keys: keyCount, valueBytes})) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number`);
}

/** Long enough for the range path's first requests to be compiled before it is measured. */
const rangeWarmUpMs = 2000;

type Server = 'etcd' | 'synod';
type Workload = 'put' | 'range';
const servers: readonly Server[] = ['etcd', 'synod'];
const workloads: readonly Workload[] = ['put', 'range'];

/** One measured load on one cluster. */
interface Run {
  readonly rep: number;
  readonly server: Server;
  readonly workload: Workload;
  readonly opsPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  /** Server CPU per operation, in µs: the leader's, a follower's (the mean), all members'. */
  readonly leaderCpuUsPerOp: number;
  readonly followerCpuUsPerOp: number;
  readonly allCpuUsPerOp: number;
  /** Cores the load generator kept busy. */
  readonly clientCores: number;
  readonly errorCount: number;
  /** Set when another member led by the end of the load: its CPU split is then mixed. */
  readonly leaderChanged: boolean;
}

let totalErrors = 0;

function reportErrors(what: string, result: GatewayLoadResult): number {
  let count = 0;
  for (const [kind, n] of result.errors) {
    count += n;
    process.stderr.write(`    ${what}: ${n} failed: ${kind}\n`);
  }
  totalErrors += count;
  return count;
}

/** Sends one load to the leader and reads each member's CPU time around it. */
async function measure(
  cluster: BenchCluster,
  leader: BenchMember,
  workload: Workload,
  loadMs: number | undefined,
): Promise<{result: GatewayLoadResult; cpu: CpuPerOperation}> {
  const before = cluster.cpuSnapshot();
  const result = await runGatewayLoad({
    address: leader.clientAddress,
    workload,
    clients,
    keyCount,
    valueBytes,
    ...(loadMs === undefined ? {} : {durationMs: loadMs}),
  });
  return {result, cpu: cpuPerOperation(before, cluster.cpuSnapshot(), leader.pid, result.ops)};
}

async function runOne(rep: number, server: Server): Promise<Run[]> {
  const cluster = await BenchCluster.start({
    server,
    members: memberCount,
    synod: 'source',
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
  });
  const runs: Run[] = [];
  try {
    const leader = await cluster.leader();
    // Every key once: what the ranges read, and the put path's warm-up.
    const fill = await measure(cluster, leader, 'put', undefined);
    reportErrors(`${server} filling ${keyCount} keys`, fill.result);
    for (const workload of workloads) {
      if (workload === 'range') {
        const warmUp = await measure(cluster, leader, 'range', rangeWarmUpMs);
        reportErrors(`${server} range warm-up`, warmUp.result);
      }
      const {result, cpu} = await measure(cluster, leader, workload, durationMs);
      const errorCount = reportErrors(`${server} ${workload}`, result);
      const leaderChanged = (await cluster.leader()).pid !== leader.pid;
      if (leaderChanged) process.stderr.write(`    ${server} ${workload}: the leader changed\n`);
      const run: Run = {
        rep,
        server,
        workload,
        opsPerSecond: result.ops / (result.elapsedMs / 1000),
        latencyMsP50: result.latency.quantileNs(0.5) / 1e6,
        latencyMsP99: result.latency.quantileNs(0.99) / 1e6,
        leaderCpuUsPerOp: cpu.leaderUs,
        followerCpuUsPerOp: cpu.followerMeanUs,
        allCpuUsPerOp: cpu.allUs,
        clientCores: result.clientCpuSeconds / (result.elapsedMs / 1000),
        errorCount,
        leaderChanged,
      };
      runs.push(run);
      process.stderr.write(
        `  ${server} ${workload}: ${run.opsPerSecond.toFixed(0)} ops/s, p99 ${run.latencyMsP99.toFixed(1)} ms, ` +
          `${run.allCpuUsPerOp.toFixed(0)} µs CPU/op (${memberCount} members)\n`,
      );
    }
  } finally {
    await cluster.stop();
  }
  return runs;
}

const fixed = (x: number, digits: number): string => (Number.isNaN(x) ? '-' : x.toFixed(digits));

const machine = describeMachine();
const runs: Run[] = [];
for (let rep = 1; rep <= reps; rep++) {
  for (const server of servers) {
    process.stderr.write(`repetition ${rep} of ${reps}: ${server}\n`);
    runs.push(...(await runOne(rep, server)));
  }
}

const plural = memberCount === 1 ? 'member' : 'members';
const lines: string[] = [
  `HTTP/JSON gateway, ${memberCount} ${plural}, ${clients} HTTP/1.1 keep-alive clients to the leader, ` +
    `${keyCount} keys, ${valueBytes}-byte values, ${durationMs / 1000} s per load, ${reps} repetitions ` +
    `(etcd, Synod, etcd, Synod, ...)`,
  `machine: ${machine.cpu}; Node.js ${machine.node}; ${machine.etcd}; Synod from the sources at ${machine.commit}`,
  '',
  'Each run:',
  '',
  '| rep | server | workload | ops/s | p50 ms | p99 ms | CPU µs/op leader | per follower | all members | client cores | errors |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of runs) {
  lines.push(
    `| ${r.rep} | ${r.server} | ${r.workload} | ${r.opsPerSecond.toFixed(0)} | ${r.latencyMsP50.toFixed(2)} | ` +
      `${r.latencyMsP99.toFixed(2)} | ${r.leaderCpuUsPerOp.toFixed(0)} | ${fixed(r.followerCpuUsPerOp, 0)} | ` +
      `${r.allCpuUsPerOp.toFixed(0)} | ${r.clientCores.toFixed(2)} | ${r.errorCount}${r.leaderChanged ? ', leader changed' : ''} |`,
  );
}
const select = (server: Server, workload: Workload): Run[] =>
  runs.filter(r => r.server === server && r.workload === workload);
lines.push(
  '',
  'Median (min–max) over repetitions:',
  '',
  '| server | workload | ops/s | p50 ms | p99 ms | CPU µs/op leader | per follower | all members |',
  '|---|---|---|---|---|---|---|---|',
);
for (const workload of workloads) {
  for (const server of servers) {
    const xs = select(server, workload);
    const column = (f: (r: Run) => number, digits = 0): string => {
      const values = xs.map(f);
      return values.some(Number.isNaN) ? '-' : spread(values, digits);
    };
    lines.push(
      `| ${server} | ${workload} | ${column(r => r.opsPerSecond)} | ${column(r => r.latencyMsP50, 2)} | ` +
        `${column(r => r.latencyMsP99, 2)} | ${column(r => r.leaderCpuUsPerOp)} | ` +
        `${column(r => r.followerCpuUsPerOp)} | ${column(r => r.allCpuUsPerOp)} |`,
    );
  }
}
lines.push(
  '',
  'Synod ÷ etcd, each repetition against its own etcd run, median (min–max):',
  '',
  '| workload | ops/s | CPU/op leader | CPU/op all members |',
  '|---|---|---|---|',
);
for (const workload of workloads) {
  const etcdRuns = select('etcd', workload);
  const synodRuns = select('synod', workload);
  const ratio = (f: (r: Run) => number): string =>
    spread(
      synodRuns.map((s, i) => f(s) / f(etcdRuns[i]!)),
      2,
    );
  lines.push(
    `| ${workload} | ${ratio(r => r.opsPerSecond)} | ${ratio(r => r.leaderCpuUsPerOp)} | ${ratio(r => r.allCpuUsPerOp)} |`,
  );
}
if (totalErrors > 0) {
  lines.push(
    '',
    `${totalErrors} requests failed (listed above on stderr): these figures are suspect.`,
  );
  process.exitCode = 1;
}
process.stdout.write(`${lines.join('\n')}\n`);
