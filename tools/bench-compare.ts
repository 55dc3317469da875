/**
 * `npm run bench:compare`: etcd and Synod on this machine, measured so that the machine's load
 * falls on both. An etcd cluster and a Synod cluster run at the same time; every workload runs
 * on them in alternation, A-B-B-A (etcd then Synod in odd repetitions, Synod then etcd in even
 * ones), from the `synod-bench` load generator in its own process.
 *
 * The figure that decides is server CPU per operation: each member's user + system time from
 * /proc/<pid>/stat just before and just after the load, divided by the operations completed,
 * for the leader, each follower and all members together. Throughput on a machine whose cores
 * the client shares with the servers says as much about the client as about the server, so the
 * client's CPU is reported beside it, with a warning when it kept more than half the cores busy.
 *
 * Every figure is printed for etcd and for Synod as the median (min–max) over repetitions, and
 * as the ratio Synod ÷ etcd taken within each repetition, median (min–max). `--help` lists the
 * flags.
 */
import {spawn} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {availableParallelism} from 'node:os';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

import {parseDurationMs} from '@synod/bench';
import type {Summary} from '@synod/bench';
import {KVDefinition} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';

import {BenchCluster, cpuPerOperation, killOnExit} from './bench-cluster.js';
import type {BenchMember, CpuPerOperation, ServerKind} from './bench-cluster.js';
import type {Spread} from './side-by-side.js';
import {
  describeMachine,
  formatNumber,
  formatSpread,
  spreadOf,
  wholeNumber,
} from './side-by-side.js';

/** Every workload, in the order a repetition runs them: `rss` last, after the puts. */
const workloadNames = [
  'put',
  'put-1',
  'range-l',
  'range-s',
  'txn',
  'lease',
  'watch',
  'check-perf',
  'rss',
] as const;
type WorkloadName = (typeof workloadNames)[number];
/** Off unless named in --workloads: kept to compare with earlier runs, and long (check-perf). */
const optionalWorkloads: readonly WorkloadName[] = ['watch', 'check-perf'];
const defaultWorkloads = workloadNames.filter(w => !optionalWorkloads.includes(w));

const usage = `Usage: npm run bench:compare -- [flags]

Runs an etcd cluster (the etcd binary on the PATH) and a Synod cluster at the same time and
measures the same workloads on both in alternation (etcd, Synod, Synod, etcd, ...). Prints
ops/s, latency, server CPU per operation (leader, each follower, all members) and client CPU
for each, as median (min–max) over repetitions, and Synod ÷ etcd per repetition.

  --reps=3                   repetitions; each runs every workload on both servers
  --members=3                cluster sizes, comma-separated (1,3 runs both sizes in turn)
  --target=leader|all        send every connection to the leader (default), or spread the
                             connections over all members
  --workloads=${defaultWorkloads.join(',')}
                             of ${workloadNames.join(', ')}
  --duration=10s             length of each measured load (--quick: 3s)
  --warm-up=2s               unmeasured load of each workload on each cluster before the
                             first repetition (--quick: 1s); 0 skips it
  --clients=256              requests in flight for put, range-l, range-s, txn and lease
  --conns=16                 gRPC connections they share
  --key-space=10000          keys the puts write and the ranges read (written once before)
  --rss-keys=100000          keys of 256 B written before resident memory is read
                             (--quick: 20000)
  --snapshot-count=100000    given to both servers (etcd 3.4's default)
  --watchers=100             watch: watchers
  --watch-rate=1000          watch: puts per second
  --check-perf-duration=60s  check-perf: length of the load (--quick: 10s)
  --synod=dist|source        run Synod from the build (default: npm run build first) or
                             from the TypeScript sources through tsx
  --synod-flags=a,b          more flags for every Synod member, comma-separated
  --baseline=etcd|synod      what Synod is compared with: etcd (default), or a second Synod
                             cluster (still labelled etcd), to measure one Synod flag
                             against another in one run
  --baseline-flags=a,b       more flags for every member of a Synod baseline
  --quick                    a short smoke run (shorter loads, fewer RSS keys)
  --json                     print the figures and every run as JSON
  --help                     this text
`;

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    members: {type: 'string', default: '3'},
    target: {type: 'string', default: 'leader'},
    workloads: {type: 'string', default: defaultWorkloads.join(',')},
    duration: {type: 'string'},
    'warm-up': {type: 'string'},
    clients: {type: 'string', default: '256'},
    conns: {type: 'string', default: '16'},
    'key-space': {type: 'string', default: '10000'},
    'rss-keys': {type: 'string'},
    'snapshot-count': {type: 'string', default: '100000'},
    watchers: {type: 'string', default: '100'},
    'watch-rate': {type: 'string', default: '1000'},
    'check-perf-duration': {type: 'string'},
    synod: {type: 'string', default: 'dist'},
    'synod-flags': {type: 'string', default: ''},
    baseline: {type: 'string', default: 'etcd'},
    'baseline-flags': {type: 'string', default: ''},
    quick: {type: 'boolean', default: false},
    json: {type: 'boolean', default: false},
    help: {type: 'boolean', default: false},
  },
});
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const reps = wholeNumber('reps', args.reps);
const memberCounts = args.members.split(',').map(m => wholeNumber('members', m));
const target = args.target;
if (target !== 'leader' && target !== 'all') {
  throw new Error(`--target is leader or all, not "${target}"`);
}
const selected = new Set(
  args.workloads.split(',').map(w => {
    const found = workloadNames.find(name => name === w);
    if (found === undefined) {
      throw new Error(`unknown workload "${w}": use some of ${workloadNames.join(',')}`);
    }
    return found;
  }),
);
const workloads = workloadNames.filter(w => selected.has(w));
const durationMs = parseDurationMs(args.duration ?? (args.quick ? '3s' : '10s'));
const warmUpText = args['warm-up'] ?? (args.quick ? '1s' : '2s');
const warmUpMs = /^0+(ms|s)?$/.test(warmUpText) ? 0 : parseDurationMs(warmUpText);
const clients = wholeNumber('clients', args.clients);
const conns = wholeNumber('conns', args.conns);
const keySpace = wholeNumber('key-space', args['key-space']);
const rssKeys = wholeNumber('rss-keys', args['rss-keys'] ?? (args.quick ? '20000' : '100000'));
const snapshotCount = wholeNumber('snapshot-count', args['snapshot-count']);
const watchers = wholeNumber('watchers', args.watchers);
const watchRate = wholeNumber('watch-rate', args['watch-rate']);
const checkPerfDurationMs = parseDurationMs(
  args['check-perf-duration'] ?? (args.quick ? '10s' : '60s'),
);
const synodBuild = args.synod;
const listOf = (text: string): string[] => text.split(',').filter(f => f !== '');
if (args.baseline !== 'etcd' && args.baseline !== 'synod') {
  throw new Error(`--baseline: etcd or synod, not ${args.baseline}`);
}
/** The flags each side's members get besides the common ones. */
/** Which side each cluster is measured as (a Synod baseline stands in the etcd column). */
const sideOf = new Map<BenchCluster, ServerKind>();
const sideFlags: Record<ServerKind, string[]> = {
  etcd: args.baseline === 'synod' ? listOf(args['baseline-flags']) : [],
  synod: listOf(args['synod-flags']),
};
if (synodBuild !== 'dist' && synodBuild !== 'source') {
  throw new Error(`--synod is dist or source, not "${synodBuild}"`);
}
const coresAvailable = availableParallelism();

const benchCli = fileURLToPath(new URL('../apps/bench/src/cli.ts', import.meta.url));

/** What each workload sends, as `synod-bench` arguments (without endpoints). */
function workloadArgv(workload: Exclude<WorkloadName, 'rss'>, loadMs: number): string[] {
  const many = [`--clients=${clients}`, `--conns=${conns}`, `--key-space=${keySpace}`];
  const forMs = `--duration=${loadMs}ms`;
  switch (workload) {
    case 'put':
      return ['put', ...many, forMs];
    case 'put-1':
      return ['put', '--clients=1', '--conns=1', `--key-space=${keySpace}`, forMs];
    case 'range-l':
      return ['range', '--consistency=l', ...many, forMs];
    case 'range-s':
      return ['range', '--consistency=s', ...many, forMs];
    case 'txn':
      return ['txn', ...many, '--prefix=/txn/', forMs];
    case 'lease':
      return [
        'lease',
        `--clients=${clients}`,
        `--conns=${conns}`,
        '--keep-alives-per-lease=0',
        forMs,
      ];
    case 'watch':
      return [
        'watch',
        `--watchers=${watchers}`,
        '--workers=3',
        '--conns=4',
        '--clients=64',
        `--rate=${watchRate}`,
        '--prefix=/watch/',
        '--key-space=1000',
        forMs,
      ];
    case 'check-perf':
      return ['check-perf', '--load=m', `--duration=${checkPerfDurationMs}ms`];
  }
}

function describeWorkload(workload: WorkloadName): string {
  const many = `${clients} clients over ${conns} connections`;
  switch (workload) {
    case 'put':
      return `put, ${many}, 256-byte values, keys among ${keySpace}`;
    case 'put-1':
      return 'put, 1 client';
    case 'range-l':
      return `linearizable range of one key, ${many}`;
    case 'range-s':
      return `serializable range of one key, ${many}`;
    case 'txn':
      return `txn compare-and-swap (mod revision, then put), ${many}`;
    case 'lease':
      return `lease grant then revoke, each one operation, ${many}`;
    case 'watch':
      return `watch, ${watchers} watchers, ${watchRate} puts/s; CPU per put`;
    case 'check-perf':
      return `etcdctl check perf --load=m, ${checkPerfDurationMs / 1000} s`;
    case 'rss':
      return `resident memory 2 s after writing ${rssKeys} keys of 256 B (after the puts above)`;
  }
}

/** The operation kind whose latency a workload reports (synod-bench's `latencyMs` key). */
function latencyKindOf(workload: Exclude<WorkloadName, 'rss'>): string {
  switch (workload) {
    case 'range-l':
    case 'range-s':
      return 'range';
    case 'txn':
      return 'txn';
    case 'lease':
      return 'grant';
    case 'watch':
      return 'delivery';
    default:
      return 'put';
  }
}

/** Runs `synod-bench --json` in its own process and returns what it printed. */
function runSynodBench(argv: readonly string[]): Promise<Summary> {
  const child = spawn(
    process.execPath,
    ['--conditions=@synod/source', '--import', 'tsx', benchCli, ...argv, '--json'],
    {stdio: ['ignore', 'pipe', 'pipe']},
  );
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', code => {
      // Exit code 1 still prints the figures: watch violations, a check-perf FAIL.
      try {
        if (code !== 0 && code !== 1) throw new Error(`exit code ${code ?? 'none'}`);
        resolve(JSON.parse(stdout) as Summary);
      } catch (error) {
        reject(new Error(`synod-bench ${argv.join(' ')} failed (${String(error)}):\n${stderr}`));
      }
    });
  });
}

/**
 * Writes `count` keys of 256-byte values in txns of 100 puts, 16 in flight: the quickest way to
 * make the cluster hold them, whatever its per-request speed.
 */
async function writeKeys(address: string, count: number): Promise<void> {
  const channel = createChannel(address);
  const kv = createClient(KVDefinition, channel);
  const value = Buffer.alloc(256, 'r');
  let next = 0;
  try {
    await Promise.all(
      Array.from({length: 16}, async () => {
        while (next < count) {
          const from = next;
          next = Math.min(count, next + 100);
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

/** One figure a run produced. Lower is better for every figure but throughput. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
}

/** One workload measured once on one server. */
interface Run {
  readonly rep: number;
  readonly server: ServerKind;
  readonly figures: readonly Figure[];
  /** CPU seconds per wall second of the load generator; undefined where none ran. */
  readonly clientCores: number | undefined;
  readonly errors: Readonly<Record<string, number>>;
  readonly violations: readonly string[];
  /** Another member led after the load: the leader/follower split of this run is mixed. */
  readonly leaderChanged: boolean;
}

const cpuAllName = 'server CPU per op, all members';

function cpuFigures(cpu: CpuPerOperation): Figure[] {
  const figures: Figure[] = [
    {name: cpuAllName, unit: 'µs', value: cpu.allUs},
    {name: 'server CPU per op, leader', unit: 'µs', value: cpu.leaderUs},
  ];
  cpu.followersUs.forEach((us, i) => {
    figures.push({name: `server CPU per op, follower ${i + 1}`, unit: 'µs', value: us});
  });
  if (cpu.followersUs.length > 1) {
    figures.push({
      name: "server CPU per op, followers' mean",
      unit: 'µs',
      value: cpu.followerMeanUs,
    });
  }
  return figures;
}

/** Where the load goes: the leader's endpoint, or every member's. */
function endpointsFor(cluster: BenchCluster, leader: BenchMember): string {
  return `--endpoints=${(target === 'leader' ? [leader.clientAddress] : cluster.addresses).join(',')}`;
}

/** One synod-bench load, with each member's CPU time read just before and just after it. */
async function measureLoad(
  cluster: BenchCluster,
  workload: Exclude<WorkloadName, 'rss'>,
  rep: number,
): Promise<Run> {
  const leader = await cluster.leader();
  const argv = [...workloadArgv(workload, durationMs), endpointsFor(cluster, leader)];
  const before = cluster.cpuSnapshot();
  const s = await runSynodBench(argv);
  const after = cluster.cpuSnapshot();
  const leaderChanged = (await cluster.leader()).pid !== leader.pid;
  const latency = s.latencyMs[latencyKindOf(workload)];
  const figures: Figure[] = [{name: 'ops/s', unit: 'ops/s', value: s.qps}];
  if (latency !== undefined) {
    const what = workload === 'watch' ? 'delivery' : 'latency';
    figures.push(
      {name: `${what} p50`, unit: 'ms', value: latency.p50},
      {name: `${what} p99`, unit: 'ms', value: latency.p99},
    );
  }
  if (workload === 'check-perf') {
    figures.push({name: 'slowest put', unit: 'ms', value: s.latencyMs.put?.max ?? Number.NaN});
  }
  figures.push(...cpuFigures(cpuPerOperation(before, after, leader.pid, s.ops)));
  figures.push({name: 'client CPU', unit: 'cores', value: s.clientCpu.cores});
  return {
    rep,
    server: sideOf.get(cluster) ?? cluster.server,
    figures,
    clientCores: s.clientCpu.cores,
    errors: s.errors,
    violations: s.violations,
    leaderChanged,
  };
}

/**
 * Where one member's resident memory is, in MiB: from /proc/<pid>/smaps_rollup (proportional
 * share, anonymous, and the rest, file-backed), from /proc/<pid>/smaps the pages of the
 * backend's file that are mapped in (LMDB's `db.mdb`, bbolt's `member/snap/db`: both servers
 * read their store through a shared file mapping, which the kernel counts in RSS), and from
 * the member's `/metrics` what its runtime's heap holds: V8's used and total heap for Synod,
 * Go's in-use and reserved heap spans for etcd.
 */
interface MemoryBreakdown {
  readonly pss: number;
  readonly anonymous: number;
  readonly fileBacked: number;
  readonly backendMap: number;
  readonly heapInUse: number;
  readonly heapReserved: number;
}

const kibToMiB = (kib: number): number => kib / 1024;

function smapsField(text: string, field: string): number {
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
  return kib === undefined ? Number.NaN : Number(kib);
}

/** RSS in KiB of the mappings of `/proc/<pid>/smaps` whose file is the member's backend. */
function backendMappedKiB(pid: number): number {
  let kib = 0;
  let backend = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]".
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      backend = /\/db\.mdb$|\/member\/snap\/db$/.test(line);
    } else if (backend && line.startsWith('Rss:')) {
      kib += smapsField(line, 'Rss');
    }
  }
  return kib;
}

/** The value of an unlabelled Prometheus metric, in MiB (NaN if absent). */
function metricMiB(text: string, name: string): number {
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  return value === undefined ? Number.NaN : Number(value) / 1024 / 1024;
}

async function memoryOf(server: ServerKind, member: BenchMember): Promise<MemoryBreakdown> {
  const rollup = readFileSync(`/proc/${member.pid}/smaps_rollup`, 'utf8');
  const rss = smapsField(rollup, 'Rss');
  const anonymous = smapsField(rollup, 'Anonymous');
  const response = await fetch(`http://${member.clientAddress}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  const metrics = await response.text();
  const [inUse, reserved] =
    server === 'synod'
      ? ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes']
      : ['go_memstats_heap_inuse_bytes', 'go_memstats_heap_sys_bytes'];
  return {
    pss: kibToMiB(smapsField(rollup, 'Pss')),
    anonymous: kibToMiB(anonymous),
    fileBacked: kibToMiB(rss - anonymous),
    backendMap: kibToMiB(backendMappedKiB(member.pid)),
    heapInUse: metricMiB(metrics, inUse),
    heapReserved: metricMiB(metrics, reserved),
  };
}

/** Resident memory of each member after writing `rssKeys` keys, and where the largest's is. */
async function measureRss(cluster: BenchCluster, rep: number): Promise<Run> {
  const leader = await cluster.leader();
  await writeKeys(leader.clientAddress, rssKeys);
  await new Promise(resolve => setTimeout(resolve, 2000));
  const rss = cluster.residentMiB();
  const leaderAt = cluster.pids.indexOf(leader.pid);
  const followers = rss.filter((_, i) => i !== leaderAt);
  const largestAt = rss.indexOf(Math.max(...rss));
  const largest = cluster.members[largestAt];
  if (largest === undefined) throw new Error('no member to read memory of');
  const m = await memoryOf(cluster.server, largest);
  const figures: Figure[] = [
    {name: 'RSS, largest member', unit: 'MiB', value: Math.max(...rss)},
    {name: 'RSS, leader', unit: 'MiB', value: rss[leaderAt] ?? Number.NaN},
    ...followers.map((value, i) => ({name: `RSS, follower ${i + 1}`, unit: 'MiB', value})),
    {name: 'largest member, PSS', unit: 'MiB', value: m.pss},
    {name: 'largest member, anonymous', unit: 'MiB', value: m.anonymous},
    {name: 'largest member, file-backed', unit: 'MiB', value: m.fileBacked},
    {name: "largest member, backend's mapped file", unit: 'MiB', value: m.backendMap},
    {name: 'largest member, runtime heap in use', unit: 'MiB', value: m.heapInUse},
    {name: 'largest member, runtime heap reserved', unit: 'MiB', value: m.heapReserved},
  ];
  return {
    rep,
    server: sideOf.get(cluster) ?? cluster.server,
    figures,
    clientCores: undefined,
    errors: {},
    violations: [],
    leaderChanged: (await cluster.leader()).pid !== leader.pid,
  };
}

function measure(cluster: BenchCluster, workload: WorkloadName, rep: number): Promise<Run> {
  return workload === 'rss' ? measureRss(cluster, rep) : measureLoad(cluster, workload, rep);
}

/**
 * Before the first repetition: every key the ranges read written once, then each workload
 * for `--warm-up`, so that connections, JIT and caches are warm on both sides.
 */
async function warmUp(cluster: BenchCluster): Promise<void> {
  const leader = await cluster.leader();
  const to = endpointsFor(cluster, leader);
  await runSynodBench([
    'put',
    '--sequential-keys',
    `--total=${keySpace}`,
    `--key-space=${keySpace}`,
    '--clients=64',
    '--conns=8',
    to,
  ]);
  if (warmUpMs === 0) return;
  for (const workload of workloads) {
    if (workload === 'rss' || workload === 'check-perf' || workload === 'watch') continue;
    await runSynodBench([...workloadArgv(workload, warmUpMs), to]);
  }
}

interface FigureSummary {
  readonly name: string;
  readonly unit: string;
  readonly etcd: Spread | undefined;
  readonly synod: Spread | undefined;
  /** Synod ÷ etcd within each repetition. */
  readonly ratio: Spread | undefined;
}

interface WorkloadReport {
  readonly workload: WorkloadName;
  readonly description: string;
  readonly figures: readonly FigureSummary[];
  readonly runs: readonly Run[];
  readonly warnings: readonly string[];
}

function summariseWorkload(workload: WorkloadName, runs: readonly Run[]): WorkloadReport {
  const valueOf = (server: ServerKind, rep: number, name: string): number =>
    runs.find(r => r.server === server && r.rep === rep)?.figures.find(f => f.name === name)
      ?.value ?? Number.NaN;
  const first = runs.find(r => r.server === 'etcd') ?? runs[0];
  const repsRun = [...new Set(runs.map(r => r.rep))];
  const figures = (first?.figures ?? []).map(({name, unit}) => {
    const etcd = repsRun.map(rep => valueOf('etcd', rep, name));
    const synod = repsRun.map(rep => valueOf('synod', rep, name));
    return {
      name,
      unit,
      etcd: spreadOf(etcd),
      synod: spreadOf(synod),
      ratio: spreadOf(synod.map((s, i) => s / (etcd[i] ?? Number.NaN))),
    };
  });
  const warnings: string[] = [];
  const busy = runs.filter(r => (r.clientCores ?? 0) > coresAvailable / 2);
  if (busy.length > 0) {
    warnings.push(
      `the client used more than half the machine (${coresAvailable / 2} of ${coresAvailable} cores) in ` +
        busy.map(r => `${r.server} rep ${r.rep} (${(r.clientCores ?? 0).toFixed(2)})`).join(', ') +
        ': its throughput is bounded by the client as much as by the server; compare CPU per op',
    );
  }
  for (const r of runs) {
    const failed = Object.entries(r.errors);
    if (failed.length > 0) {
      const count = failed.reduce((sum, [, n]) => sum + n, 0);
      warnings.push(
        `${r.server} rep ${r.rep}: ${count} requests failed: ${failed.map(([e]) => e).join('; ')}`,
      );
    }
    if (r.violations.length > 0) {
      warnings.push(`${r.server} rep ${r.rep}: violations: ${r.violations.join('; ')}`);
    }
    if (r.leaderChanged) {
      warnings.push(`${r.server} rep ${r.rep}: the leader changed; its CPU split is mixed`);
    }
  }
  return {workload, description: describeWorkload(workload), figures, runs, warnings};
}

/** A figure's name with its unit, unless the name is the unit. */
const labelOf = (f: {readonly name: string; readonly unit: string}): string =>
  f.name === f.unit ? f.name : `${f.name}, ${f.unit}`;

/** The first figure, server CPU per op and client CPU: for progress lines. */
function headlines(run: Run): string {
  // For memory, every figure: the text summary gives only each figure's spread.
  const parts = run.figures
    .filter((f, i) => i === 0 || f.name === cpuAllName || f.unit === 'MiB')
    .map(f => `${labelOf(f)} ${formatNumber(f.value)}`);
  if (run.clientCores !== undefined) parts.push(`client ${run.clientCores.toFixed(2)} cores`);
  return parts.join(', ');
}

function formatWorkload(members: number, report: WorkloadReport): string {
  // "server CPU per op, leader" under "server CPU per op, all members" reads "  leader".
  let group = '';
  const labels = report.figures.map(f => {
    const comma = f.name.indexOf(', ');
    const sameGroup = comma !== -1 && f.name.slice(0, comma) === group;
    if (comma !== -1) group = f.name.slice(0, comma);
    return sameGroup ? `  ${labelOf({name: f.name.slice(comma + 2), unit: f.unit})}` : labelOf(f);
  });
  const width = Math.max(...labels.map(l => l.length));
  const lines = [
    '',
    `${members} member${members === 1 ? '' : 's'} · ${report.workload}: ${report.description}`,
    `${''.padEnd(width)}  ${'etcd'.padEnd(22)}  ${'Synod'.padEnd(22)}  Synod ÷ etcd`,
  ];
  report.figures.forEach((f, i) => {
    lines.push(
      `${(labels[i] ?? '').padEnd(width)}  ${formatSpread(f.etcd).padEnd(22)}  ` +
        `${formatSpread(f.synod).padEnd(22)}  ${formatSpread(f.ratio, 2)}`,
    );
  });
  if (report.workload === 'rss') {
    // The bench never compacts, so each repetition adds history on both servers.
    const byRep = (server: ServerKind): string =>
      report.runs
        .filter(r => r.server === server)
        .map(r => formatNumber(r.figures[0]?.value ?? Number.NaN))
        .join(' → ');
    lines.push(
      `RSS, largest member, by repetition: etcd ${byRep('etcd')}; Synod ${byRep('synod')}`,
    );
  }
  for (const w of report.warnings) lines.push(`! ${w}`);
  return lines.join('\n');
}

/** Synod ÷ etcd of the figures that decide, one row per workload. */
function formatVerdict(members: number, reports: readonly WorkloadReport[]): string {
  const columns = [
    ['ops/s', 'ops/s'],
    ['CPU/op all', cpuAllName],
    ['leader', 'server CPU per op, leader'],
    [
      "followers' mean",
      members > 2 ? "server CPU per op, followers' mean" : 'server CPU per op, follower 1',
    ],
    ['p50', 'latency p50'],
    ['p99', 'latency p99'],
  ] as const;
  const cell = (r: WorkloadReport, name: string) =>
    formatSpread(r.figures.find(f => f.name === name)?.ratio, 2);
  const rows = reports
    .filter(r => r.workload !== 'rss')
    .map(r => [r.workload, ...columns.map(([, name]) => cell(r, name))]);
  const rss = reports.find(r => r.workload === 'rss');
  const header = ['Synod ÷ etcd', ...columns.map(([title]) => title)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = ['', `${members} member${members === 1 ? '' : 's'}, summary`, line(header)];
  lines.push(...rows.map(line));
  if (rss !== undefined) {
    lines.push(
      `rss: largest member ${cell(rss, 'RSS, largest member')}, leader ${cell(rss, 'RSS, leader')}`,
    );
  }
  return lines.join('\n');
}

const machine = describeMachine();
const setting = {
  etcd: machine.etcd,
  synod: `${synodBuild === 'dist' ? 'the build' : 'the sources through tsx'}, commit ${machine.commit}`,
  machine: `${machine.cpu}, Node.js ${machine.node}`,
  traffic:
    target === 'leader' ? 'every connection to the leader' : 'connections spread over all members',
  loads: `${durationMs / 1000} s each, ${warmUpMs / 1000} s warm-up, ${reps} repetitions (etcd, Synod, Synod, etcd, ...)`,
  flags: `--heartbeat-interval=100 --election-timeout=1000 --snapshot-count=${snapshotCount} on both`,
  ...(args.baseline === 'synod'
    ? {baseline: `Synod (labelled etcd) with ${sideFlags.etcd.join(' ') || 'no more flags'}`}
    : {}),
  ...(sideFlags.synod.length > 0 ? {'Synod flags': sideFlags.synod.join(' ')} : {}),
};
if (!args.json) {
  process.stdout.write(
    `bench:compare: etcd and Synod alive together, measured in alternation\n` +
      Object.entries(setting)
        .map(([k, v]) => `${k}: ${v}\n`)
        .join('') +
      'figures: median (min–max) over repetitions; Synod ÷ etcd is taken within each repetition\n',
  );
}

const results: {members: number; workloads: WorkloadReport[]}[] = [];
for (const members of memberCounts) {
  const clusters: Partial<Record<ServerKind, BenchCluster>> = {};
  try {
    for (const server of ['etcd', 'synod'] as const) {
      process.stderr.write(`starting ${server}, ${members} member${members === 1 ? '' : 's'}\n`);
      clusters[server] = await BenchCluster.start({
        server: server === 'etcd' && args.baseline === 'synod' ? 'synod' : server,
        members,
        synod: synodBuild,
        heartbeatIntervalMs: 100,
        electionTimeoutMs: 1000,
        extraFlags: [`--snapshot-count=${snapshotCount}`, ...sideFlags[server]],
      });
      sideOf.set(clusters[server], server);
    }
    const cluster = (server: ServerKind): BenchCluster => {
      const c = clusters[server];
      if (c === undefined) throw new Error(`${server} is not running`);
      return c;
    };
    for (const server of ['etcd', 'synod'] as const) {
      process.stderr.write(`warming up ${server}\n`);
      await warmUp(cluster(server));
    }
    const runs = new Map<WorkloadName, Run[]>(workloads.map(w => [w, []]));
    for (let rep = 1; rep <= reps; rep++) {
      const order: ServerKind[] = rep % 2 === 1 ? ['etcd', 'synod'] : ['synod', 'etcd'];
      for (const workload of workloads) {
        for (const server of order) {
          const run = await measure(cluster(server), workload, rep);
          runs.get(workload)?.push(run);
          process.stderr.write(`  rep ${rep}/${reps} ${workload} ${server}: ${headlines(run)}\n`);
        }
      }
    }
    const reports = workloads.map(w => summariseWorkload(w, runs.get(w) ?? []));
    results.push({members, workloads: reports});
    if (!args.json) {
      for (const report of reports) process.stdout.write(`${formatWorkload(members, report)}\n`);
      process.stdout.write(`${formatVerdict(members, reports)}\n`);
    }
  } finally {
    await Promise.all(Object.values(clusters).map(c => c.stop()));
  }
}
if (
  results.some(r => r.workloads.some(w => w.runs.some(run => Object.keys(run.errors).length > 0)))
) {
  process.exitCode = 1;
}
if (args.json) {
  process.stdout.write(`${JSON.stringify({setting, clusters: results}, null, 2)}\n`);
}
