/**
 * `npm run bench:tls`: what TLS costs etcd and Synod, measured the same way for both. Each
 * repetition starts, for each server in turn (the order alternating between repetitions), a
 * three-member cluster in plaintext and one with client and peer TLS (mutual TLS, one test
 * CA), sends a put load and then a linearizable range load to the leader, and reads every
 * member's CPU time from /proc/<pid>/stat before and after each load.
 *
 * Printed per server, mode and workload: operations per second and server CPU per operation
 * (all three members together, and per member), as the median over repetitions with the
 * spread (min–max); then each server's TLS overhead (TLS ÷ plaintext CPU per operation) and
 * Synod's overhead ratio ÷ etcd's.
 *
 *   npm run bench:tls -- [--reps=3] [--duration=10s] [--clients=64] [--conns=8]
 *
 * Both servers get the test launcher's flags (50 ms heartbeat, 500 ms election timeout);
 * Synod runs from its TypeScript sources through tsx, as the test launcher runs it. The load
 * generator shares the machine's cores with the members, which is why the figure that counts
 * is CPU per operation, not throughput.
 */
import {readFileSync} from 'node:fs';
import {parseArgs} from 'node:util';

import {parseDurationMs, parseOptions, runBench, summarise} from '@synod/bench';
import {makeTestPki, mutualTlsOptions, startEtcd, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdClusterOptions, TestPki} from '@synod/testing';
import {ChannelCredentials} from 'nice-grpc';

import {cpuPerOperation, cpuSnapshot, leaderOf} from './bench-cluster.js';
import {spread} from './side-by-side.js';

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    duration: {type: 'string', default: '10s'},
    clients: {type: 'string', default: '64'},
    conns: {type: 'string', default: '8'},
    help: {type: 'boolean', default: false},
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench:tls -- [--reps=3] [--duration=10s] [--clients=64] [--conns=8]\n',
  );
  process.exit(0);
}
const reps = Number(args.reps);
const durationMs = parseDurationMs(args.duration);

type Server = 'etcd' | 'synod';
type Mode = 'plain' | 'tls';
type Workload = 'put' | 'range';

interface Sample {
  readonly opsPerSecond: number;
  /** Server CPU per operation, all members together, in µs. */
  readonly cpuUsPerOp: number;
}

function clusterOptions(pki: TestPki, mode: Mode): EtcdClusterOptions {
  return mode === 'plain' ? {members: 3} : {members: 3, ...mutualTlsOptions(pki, {peers: true})};
}

function tlsFlags(pki: TestPki, mode: Mode): string[] {
  if (mode === 'plain') return [];
  const root = pki.client('root');
  return [`--cacert=${pki.ca}`, `--cert=${root.cert}`, `--key=${root.key}`];
}

/** The client address of the leader. */
function leaderOfCluster(cluster: EtcdCluster, pki: TestPki, mode: Mode): Promise<string> {
  const root = pki.client('root');
  const credentials =
    mode === 'tls'
      ? ChannelCredentials.createSsl(
          readFileSync(pki.ca),
          readFileSync(root.key),
          readFileSync(root.cert),
        )
      : undefined;
  return leaderOf(
    cluster.members.map(m => m.clientAddress),
    credentials,
  );
}

async function load(
  cluster: EtcdCluster,
  leader: string,
  workload: Workload,
  extra: readonly string[],
  ms: number,
): Promise<Sample> {
  const argv = [
    workload,
    `--endpoints=${leader}`,
    `--clients=${args.clients}`,
    `--conns=${args.conns}`,
    `--duration=${ms}ms`,
    ...extra,
  ];
  const leaderPid = cluster.members.find(m => m.clientAddress === leader)?.pid ?? Number.NaN;
  const before = cpuSnapshot(cluster.pids);
  const options = parseOptions(argv);
  const summary = summarise(options, await runBench(options));
  const cpu = cpuPerOperation(before, cpuSnapshot(cluster.pids), leaderPid, summary.ops);
  if (summary.errorCount > 0) {
    process.stderr.write(
      `    ${summary.errorCount} errors: ${Object.keys(summary.errors).join('; ')}\n`,
    );
  }
  return {opsPerSecond: summary.qps, cpuUsPerOp: cpu.allUs};
}

const samples = new Map<string, Sample[]>();
const keyOf = (server: Server, mode: Mode, workload: Workload) => `${server}/${mode}/${workload}`;

async function runOne(pki: TestPki, server: Server, mode: Mode): Promise<void> {
  const start = server === 'etcd' ? startEtcd : startSynod;
  const cluster = await start(clusterOptions(pki, mode));
  try {
    const leader = await leaderOfCluster(cluster, pki, mode);
    const flags = tlsFlags(pki, mode);
    // Warm-up: connections, JIT, a first key space.
    await load(cluster, leader, 'put', [...flags, '--prefix=/warm/'], 2000);
    for (const workload of ['put', 'range'] as const) {
      const sample = await load(cluster, leader, workload, flags, durationMs);
      const key = keyOf(server, mode, workload);
      samples.set(key, [...(samples.get(key) ?? []), sample]);
      process.stderr.write(
        `  ${key}: ${sample.opsPerSecond.toFixed(0)} ops/s, ${sample.cpuUsPerOp.toFixed(0)} µs CPU/op (3 members)\n`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

const pki = makeTestPki();
try {
  for (let rep = 0; rep < reps; rep++) {
    const order: Server[] = rep % 2 === 0 ? ['etcd', 'synod'] : ['synod', 'etcd'];
    process.stderr.write(`repetition ${rep + 1} of ${reps}: ${order.join(', ')}\n`);
    for (const server of order) {
      for (const mode of ['plain', 'tls'] as const) await runOne(pki, server, mode);
    }
  }
} finally {
  pki.remove();
}

const lines: string[] = [
  `TLS overhead, 3 members, ${args.clients} clients on ${args.conns} connections to the leader, ${durationMs / 1000} s per load, ${reps} repetitions; median (min–max)`,
  '',
  '| server | mode | workload | ops/s | server CPU µs/op (3 members) | per member |',
  '|---|---|---|---|---|---|',
];
for (const server of ['etcd', 'synod'] as const) {
  for (const workload of ['put', 'range'] as const) {
    for (const mode of ['plain', 'tls'] as const) {
      const xs = samples.get(keyOf(server, mode, workload)) ?? [];
      lines.push(
        `| ${server} | ${mode} | ${workload} | ${spread(xs.map(x => x.opsPerSecond))} | ${spread(xs.map(x => x.cpuUsPerOp))} | ${spread(xs.map(x => x.cpuUsPerOp / 3))} |`,
      );
    }
  }
}
lines.push(
  '',
  '| workload | etcd TLS ÷ plain | Synod TLS ÷ plain | Synod overhead ÷ etcd overhead |',
);
lines.push('|---|---|---|---|');
for (const workload of ['put', 'range'] as const) {
  // Each repetition pairs its own plaintext and TLS runs.
  const overhead = (server: Server) => {
    const plain = samples.get(keyOf(server, 'plain', workload)) ?? [];
    const tls = samples.get(keyOf(server, 'tls', workload)) ?? [];
    return tls.map((t, i) => t.cpuUsPerOp / (plain[i]?.cpuUsPerOp ?? Number.NaN));
  };
  const e = overhead('etcd');
  const s = overhead('synod');
  lines.push(
    `| ${workload} | ${spread(e, 2)} | ${spread(s, 2)} | ${spread(
      s.map((x, i) => x / (e[i] ?? Number.NaN)),
      2,
    )} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
