/**
 * `npm run bench:compare`: etcd and Synod side by side on this machine. For each cluster size
 * it starts etcd, runs the workloads, stops it, then does the same for Synod — same flags,
 * same disk (fresh data dirs under one temp dir), free loopback ports — and prints every
 * figure for etcd, for Synod, and the ratio Synod/etcd.
 *
 *   npm run bench:compare -- [--quick] [--members=1,3] [--workloads=put,put-1,...]
 *                            [--duration=20s] [--check-perf-duration=60s] [--rss-keys=100000]
 *                            [--watchers=100] [--watch-rate=1000] [--servers=etcd,synod]
 *                            [--synod=dist|source] [--json]
 *
 * Synod runs from the build (`apps/server/bin/synod.js`, as in production: `npm run build`
 * first) unless `--synod=source` runs it from the TypeScript sources through tsx.
 */
import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';

import {parseDurationMs, parseOptions, runBench, runCheckPerf, summarise} from '@synod/bench';
import type {Summary} from '@synod/bench';
import {KVDefinition} from '@synod/proto';
import {freePorts} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';

import {describeMachine, leaderOf} from './side-by-side.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const allWorkloads = ['rss', 'put', 'put-1', 'range-l', 'range-s', 'watch', 'check-perf'] as const;
type WorkloadName = (typeof allWorkloads)[number];

const {values: args} = parseArgs({
  options: {
    quick: {type: 'boolean', default: false},
    members: {type: 'string', default: '1,3'},
    workloads: {type: 'string', default: allWorkloads.join(',')},
    servers: {type: 'string', default: 'etcd,synod'},
    duration: {type: 'string'},
    'check-perf-duration': {type: 'string'},
    'rss-keys': {type: 'string', default: '100000'},
    watchers: {type: 'string', default: '100'},
    'watch-rate': {type: 'string', default: '1000'},
    synod: {type: 'string', default: 'dist'},
    json: {type: 'boolean', default: false},
    help: {type: 'boolean', default: false},
  },
});

if (args.help) {
  process.stdout.write(`Usage: npm run bench:compare -- [flags]

Starts etcd and Synod one after the other with the same flags, runs the same workloads against
each, and prints every figure for etcd, for Synod and the ratio Synod/etcd.

  --quick                    short runs (5 s workloads, 10 s check-perf)
  --members=1,3              cluster sizes to compare
  --workloads=${allWorkloads.join(',')}
  --duration=20s             length of each workload
  --check-perf-duration=60s  length of the check-perf load
  --rss-keys=100000          keys of 256 bytes held when resident memory is read
  --watchers=100             watchers of the watch workload
  --watch-rate=1000          puts per second of the watch workload
  --servers=etcd,synod       which servers to run
  --synod=dist|source        run Synod from the build (default; npm run build first) or the sources
  --json                     print the figures as JSON
`);
  process.exit(0);
}

const durationMs = parseDurationMs(args.duration ?? (args.quick ? '5s' : '20s'));
const checkPerfDurationMs = parseDurationMs(
  args['check-perf-duration'] ?? (args.quick ? '10s' : '60s'),
);
const rssKeys = Number(args['rss-keys']);
const watchers = Number(args.watchers);
const watchRate = Number(args['watch-rate']);
const memberCounts = args.members.split(',').map(Number);
const selected = args.workloads.split(',').map(w => {
  const found = allWorkloads.find(a => a === w);
  if (found === undefined) throw new Error(`unknown workload ${w}: use ${allWorkloads.join(',')}`);
  return found;
});
const serverKinds = args.servers.split(',').map(s => {
  if (s !== 'etcd' && s !== 'synod') throw new Error(`unknown server ${s}: use etcd,synod`);
  return s;
});
const synodMode = args.synod;
if (synodMode !== 'dist' && synodMode !== 'source') throw new Error('--synod is dist or source');
const synodBuilt = join(root, 'apps/server/bin/synod.js');
if (synodMode === 'dist' && !existsSync(join(root, 'apps/server/dist/run.js'))) {
  throw new Error('Synod is not built: run `npm run build` first, or pass --synod=source');
}

/** One running member: its process and where clients reach it. */
interface Member {
  readonly name: string;
  readonly clientAddress: string;
  readonly child: ChildProcess;
}

interface Cluster {
  readonly server: 'etcd' | 'synod';
  readonly members: readonly Member[];
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const tempRoot = mkdtempSync(join(tmpdir(), 'bench-compare-'));
function cleanUp(): void {
  for (const child of running) {
    if (child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  running.clear();
  rmSync(tempRoot, {recursive: true, force: true});
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

/** Starts a cluster with etcd's default raft timings and waits until every member is healthy. */
async function startCluster(server: 'etcd' | 'synod', size: number): Promise<Cluster> {
  const ports = await freePorts(size * 2);
  const dir = mkdtempSync(join(tempRoot, `${server}-${size}-`));
  const specs = Array.from({length: size}, (_, i) => ({
    name: `m${i}`,
    client: `http://127.0.0.1:${ports[2 * i]!}`,
    peer: `http://127.0.0.1:${ports[2 * i + 1]!}`,
  }));
  const initialCluster = specs.map(s => `${s.name}=${s.peer}`).join(',');
  const members = specs.map(spec => {
    const flags = [
      `--name=${spec.name}`,
      `--data-dir=${join(dir, spec.name)}`,
      `--listen-client-urls=${spec.client}`,
      `--advertise-client-urls=${spec.client}`,
      `--listen-peer-urls=${spec.peer}`,
      `--initial-advertise-peer-urls=${spec.peer}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=bench-${server}-${size}`,
      '--initial-cluster-state=new',
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      '--snapshot-count=10000',
      '--log-level=error',
    ];
    const [file, argv] =
      server === 'etcd'
        ? ['etcd', [...flags, '--logger=zap']]
        : synodMode === 'dist'
          ? [process.execPath, [synodBuilt, ...flags]]
          : [
              process.execPath,
              [
                '--conditions=@synod/source',
                '--import',
                'tsx',
                join(root, 'apps/server/src/run.ts'),
                ...flags,
              ],
            ];
    const child = spawn(file, argv, {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.once('exit', code => {
      running.delete(child);
      if (code !== 0 && code !== null) process.stderr.write(`${server} ${spec.name}: ${stderr}\n`);
    });
    running.add(child);
    return {name: spec.name, clientAddress: spec.client.slice('http://'.length), child};
  });
  const deadline = Date.now() + 30_000;
  for (const spec of specs) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${server} ${spec.name} not healthy in 30 s`);
      try {
        const response = await fetch(`${spec.client}/health`, {signal: AbortSignal.timeout(1000)});
        const body = (await response.json()) as {health?: unknown};
        if (body.health === 'true' || body.health === true) break;
      } catch {
        // Not up yet.
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
  return {
    server,
    members,
    endpoints: members.map(m => m.clientAddress),
    async stop() {
      await Promise.all(
        members.map(async ({child}) => {
          if (child.exitCode !== null || child.pid === undefined) return;
          const exited = new Promise(resolve => child.once('exit', resolve));
          process.kill(child.pid, 'SIGTERM');
          const timer = setTimeout(() => {
            if (child.pid !== undefined && child.exitCode === null) {
              process.kill(child.pid, 'SIGKILL');
            }
          }, 5000);
          await exited;
          clearTimeout(timer);
        }),
      );
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

/** Resident memory of a process, from /proc/<pid>/status, in MiB. */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) / 1024;
}

/**
 * Writes `count` keys of 256-byte values in txns of 100 puts (16 in flight): the fastest way
 * to make the cluster hold them, whatever its per-request speed.
 */
async function loadKeys(endpoint: string, count: number): Promise<void> {
  const channel = createChannel(endpoint);
  const kv = createClient(KVDefinition, channel);
  const value = Buffer.alloc(256, 'r');
  const batch = 100;
  let next = 0;
  try {
    await Promise.all(
      Array.from({length: 16}, async () => {
        while (next < count) {
          const from = next;
          next = Math.min(count, next + batch);
          const success = [];
          for (let i = from; i < next; i++) {
            const key = Buffer.from(`/rss/${String(i).padStart(8, '0')}`);
            success.push({request: {$case: 'requestPut' as const, value: {key, value}}});
          }
          await kv.txn({success});
        }
      }),
    );
  } finally {
    channel.close();
  }
}

/** One figure of one run, in its unit, with what went wrong during the run if anything did. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly note?: string;
}

function bench(argv: readonly string[]): Promise<Summary> {
  const options = parseOptions(argv);
  return runBench(options).then(result => summarise(options, result));
}

function notes(s: Summary): string | undefined {
  const parts: string[] = [];
  if (s.errorCount > 0) parts.push(`${s.errorCount} errors: ${Object.keys(s.errors).join('; ')}`);
  if (s.violations.length > 0) parts.push(`violations: ${s.violations.join('; ')}`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** Runs the selected workloads on one cluster. */
async function measure(cluster: Cluster): Promise<Figure[]> {
  const figures: Figure[] = [];
  const all = `--endpoints=${cluster.endpoints.join(',')}`;
  const seconds = `--duration=${durationMs}ms`;
  const add = (name: string, unit: string, value: number, s?: Summary): void => {
    const note = s === undefined ? undefined : notes(s);
    figures.push(note === undefined ? {name, unit, value} : {name, unit, value, note});
  };
  const has = (w: WorkloadName): boolean => selected.includes(w);
  const log = (line: string): void => {
    process.stderr.write(`  ${cluster.server} x${cluster.members.length}: ${line}\n`);
  };

  if (has('rss')) {
    const pids = cluster.members.map(m => m.child.pid!);
    const idle = Math.max(...pids.map(rssMiB));
    log(`loading ${rssKeys} keys`);
    await loadKeys(cluster.endpoints[0]!, rssKeys);
    await new Promise(resolve => setTimeout(resolve, 2000));
    add('RSS idle, largest member', 'MiB', idle);
    add(
      `RSS holding ${rssKeys} keys of 256 B, largest member`,
      'MiB',
      Math.max(...pids.map(rssMiB)),
    );
  }
  // Warm-up: connections, JIT, first allocations on both sides.
  await bench(['put', all, '--clients=16', '--conns=4', '--duration=2s', '--prefix=/warm/']);
  if (has('put')) {
    log('put, 256 clients');
    const s = await bench([
      'put',
      all,
      '--clients=256',
      '--conns=16',
      seconds,
      '--key-space=10000',
    ]);
    add('put throughput, 256 clients', 'ops/s', s.qps, s);
    add('put p99, 256 clients', 'ms', s.latencyMs.put?.p99 ?? 0);
    add('  client CPU during put (cores)', 'cores', s.clientCpu.cores);
  }
  if (has('put-1')) {
    log('put, 1 client, to the leader');
    const leader = await leaderOf(cluster.endpoints);
    const s = await bench(['put', `--endpoints=${leader}`, '--clients=1', seconds]);
    add('put p50, 1 client (leader)', 'ms', s.latencyMs.put?.p50 ?? 0, s);
    add('put p99, 1 client (leader)', 'ms', s.latencyMs.put?.p99 ?? 0);
    add('put throughput, 1 client', 'ops/s', s.qps);
  }
  for (const consistency of ['l', 's'] as const) {
    if (!has(`range-${consistency}`)) continue;
    const label = consistency === 'l' ? 'linearizable' : 'serializable';
    log(`range ${label}, 256 clients`);
    const s = await bench([
      'range',
      all,
      `--consistency=${consistency}`,
      '--clients=256',
      '--conns=16',
      seconds,
      '--key-space=10000',
    ]);
    add(`range ${label} throughput, 256 clients`, 'ops/s', s.qps, s);
    add(`range ${label} p99, 256 clients`, 'ms', s.latencyMs.range?.p99 ?? 0);
    add(`  client CPU during range ${consistency} (cores)`, 'cores', s.clientCpu.cores);
  }
  if (has('watch')) {
    const label = `${watchers} watchers, ${watchRate} puts/s`;
    log(`watch, ${label}`);
    const s = await bench([
      'watch',
      all,
      `--watchers=${watchers}`,
      '--workers=3',
      '--conns=4',
      '--clients=64',
      `--rate=${watchRate}`,
      seconds,
      '--prefix=/watch/',
      '--key-space=1000',
    ]);
    add(`watch delivery p50, ${label}`, 'ms', s.latencyMs.delivery?.p50 ?? 0, s);
    add(`watch delivery p99, ${label}`, 'ms', s.latencyMs.delivery?.p99 ?? 0);
    add(`  writer puts/s reached (target ${watchRate})`, 'ops/s', s.qps);
    add('  watch violations', 'count', s.violations.length);
    add('  client CPU during watch (cores)', 'cores', s.clientCpu.cores);
  }
  if (has('check-perf')) {
    log(`check-perf m, ${checkPerfDurationMs / 1000} s`);
    const options = parseOptions([
      'check-perf',
      all,
      '--load=m',
      `--duration=${checkPerfDurationMs}ms`,
    ]);
    const {summary, verdict} = await runCheckPerf(options);
    add('check-perf m: throughput (limit 1000)', 'writes/s', summary.qps, summary);
    add('check-perf m: slowest', 'ms', summary.latencyMs.put?.max ?? 0);
    add('check-perf m: stddev', 'ms', summary.latencyMs.put?.stddev ?? 0);
    add('check-perf m: PASS (1) / FAIL (0)', '', verdict.pass ? 1 : 0);
  }
  return figures;
}

function machine(): Record<string, string> {
  const {cpu, node, etcd, commit} = describeMachine();
  return {
    cpu,
    node,
    etcd,
    synod: `${synodMode === 'dist' ? 'built (apps/server/bin/synod.js)' : 'sources via tsx'}, commit ${commit}`,
    duration: `${durationMs / 1000} s per workload, check-perf ${checkPerfDurationMs / 1000} s`,
  };
}

const fmt = (n: number | undefined): string =>
  n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);

const report: {machine: Record<string, string>; clusters: unknown[]} = {
  machine: machine(),
  clusters: [],
};
if (!args.json) {
  for (const [key, value] of Object.entries(report.machine))
    process.stdout.write(`${key}: ${value}\n`);
}
try {
  for (const size of memberCounts) {
    const byServer: Partial<Record<'etcd' | 'synod', Figure[]>> = {};
    for (const server of serverKinds) {
      process.stderr.write(`starting ${server}, ${size} member${size === 1 ? '' : 's'}\n`);
      const cluster = await startCluster(server, size);
      try {
        byServer[server] = await measure(cluster);
      } finally {
        await cluster.stop();
      }
    }
    const names = (byServer.etcd ?? byServer.synod ?? []).map(f => f.name);
    const rows = names.map(name => {
      const e = byServer.etcd?.find(f => f.name === name);
      const s = byServer.synod?.find(f => f.name === name);
      const ratio =
        e !== undefined && s !== undefined && e.value !== 0 ? s.value / e.value : undefined;
      return {
        name,
        unit: (e ?? s)?.unit ?? '',
        etcd: e?.value,
        synod: s?.value,
        ratio,
        notes: [e?.note, s?.note].filter(n => n !== undefined),
      };
    });
    report.clusters.push({members: size, rows});
    if (!args.json) {
      const width = Math.max(...names.map(n => n.length), 10);
      process.stdout.write(`\n${size} member${size === 1 ? '' : 's'}\n`);
      process.stdout.write(
        `${'figure'.padEnd(width)}  ${'unit'.padEnd(8)}  ${'etcd'.padStart(9)}  ${'synod'.padStart(9)}  ${'synod/etcd'.padStart(10)}\n`,
      );
      for (const r of rows) {
        process.stdout.write(
          `${r.name.padEnd(width)}  ${r.unit.padEnd(8)}  ${fmt(r.etcd).padStart(9)}  ${fmt(r.synod).padStart(9)}  ${fmt(r.ratio).padStart(10)}\n`,
        );
        for (const n of r.notes) process.stdout.write(`${''.padEnd(width)}  ! ${n}\n`);
      }
    }
  }
} finally {
  if (args.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}
