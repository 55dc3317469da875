/**
 * `npm run bench:zk`: the real ZooKeeper 3.8 and Synod's ZooKeeper port on this machine,
 * measured so that the machine's load falls on both. A ZooKeeper ensemble (Debian's package, on
 * the JVM flags its own `zkServer.sh` uses) and a Synod cluster run at the same time, with the
 * same number of members; every workload runs on them in alternation, A-B-B-A (ZooKeeper then
 * Synod in odd repetitions, Synod then ZooKeeper in even ones).
 *
 * The workloads are `synod-bench`'s zk-create, zk-get, zk-set and zk-delete, run in this
 * process (the only client process), each with one client (latency p50 and p99) and with `--clients` clients, one session each (throughput),
 * sent to the leader; and watch fan-out: `--watchers` sessions spread over every member each
 * leave a data watch on one node, one setData goes to the leader, and the time until every
 * notification has arrived is taken, `--rounds` times per repetition.
 *
 * For every load, each server process's user + system time is read from /proc/<pid>/stat
 * before and after and divided by the operations completed (leader, each follower, all); the
 * JVM's threads count, as do Synod's. The client's CPU is reported beside the figures, with a
 * warning when it kept more than half the cores busy. Every figure is printed as the median
 * (min–max) over repetitions, and as the ratio Synod ÷ ZooKeeper taken within each repetition.
 */
import {availableParallelism} from 'node:os';
import {parseArgs} from 'node:util';

import {
  parseDurationMs,
  parseOptions,
  prepareRun,
  summarise,
  ZkReplyError,
  ZkSession,
} from '@synod/bench';
import type {Summary} from '@synod/bench';
import {fourLetterWord, startZooKeeper} from '@synod/testing';
import type {ZooKeeperEnsemble} from '@synod/testing';

import {BenchCluster, cpuPerOperation, cpuSnapshot} from './bench-cluster.js';
import type {CpuPerOperation} from './bench-cluster.js';
import type {Spread} from './side-by-side.js';
import {
  describeMachine,
  formatNumber,
  formatSpread,
  median,
  spreadOf,
  wholeNumber,
} from './side-by-side.js';

const usage = `Usage: npm run bench:zk -- [flags]

Runs the real ZooKeeper 3.8 and a Synod cluster serving ZooKeeper at the same time and
measures the same ZooKeeper workloads on both in alternation (ZooKeeper, Synod, Synod,
ZooKeeper, ...): create, getData, setData and delete with 1 client and with --clients
clients, and watch fan-out to --watchers watchers. Prints ops/s, latency, server CPU per
operation (leader, each follower, all members) and client CPU, as median (min–max) over
repetitions, and Synod ÷ ZooKeeper per repetition.

  --reps=3              repetitions (at least 3 for a spread)
  --members=1,3         cluster sizes, comma-separated, run in turn
  --duration=5s         length of each create, getData and setData load (--quick: 2s)
  --warm-up=5s          unmeasured load of each workload on both before the first
                        repetition, so that ZooKeeper's JIT is warm (--quick: 2s)
  --clients=64          clients of the throughput loads, one session each
  --conns=N             sessions the throughput loads' clients share (default: one
                        each); fewer sessions than clients pipeline their requests
  --deletes=2000        nodes deleted by the 1-client delete load; 10 times as many by the
                        --clients one (--quick: 500)
  --watchers=1000       watch fan-out: sessions watching the node
  --rounds=10           watch fan-out: setData rounds per repetition (--quick: 5)
  --synod=source|dist   Synod from the TypeScript sources through tsx (default) or from the
                        build (npm run build first)
  --synod-flags=a,b     more flags for every Synod member, comma-separated
  --synod-node-flags=a,b  flags for node on every Synod member, comma-separated: to
                        profile one, --synod-node-flags=--cpu-prof,--cpu-prof-dir=DIR
                        (written when the member stops) or --trace-gc
  --synod-stdout-dir=DIR  each Synod member's stdout (--trace-gc's lines) to DIR/<name>.stdout
  --only=a,b            run only these loads: an operation (create, getData, setData,
                        delete: both client counts), one with its clients (setData/64),
                        or fan-out
  --quick               a short smoke run
  --json                print the figures and every run as JSON
  --help                this text
`;

const {values: args} = parseArgs({
  options: {
    reps: {type: 'string', default: '3'},
    members: {type: 'string', default: '1,3'},
    duration: {type: 'string'},
    'warm-up': {type: 'string'},
    clients: {type: 'string', default: '64'},
    conns: {type: 'string'},
    deletes: {type: 'string'},
    watchers: {type: 'string', default: '1000'},
    rounds: {type: 'string'},
    synod: {type: 'string', default: 'source'},
    'synod-flags': {type: 'string', default: ''},
    'synod-node-flags': {type: 'string', default: ''},
    'synod-stdout-dir': {type: 'string'},
    only: {type: 'string', default: ''},
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
const memberCounts = args.members.split(',').map(m => {
  const n = wholeNumber('members', m);
  if (n !== 1 && n !== 3) throw new Error(`--members: 1 or 3, not ${n}`);
  return n;
});
const durationMs = parseDurationMs(args.duration ?? (args.quick ? '2s' : '5s'));
const warmUpMs = parseDurationMs(args['warm-up'] ?? (args.quick ? '2s' : '5s'));
const clients = wholeNumber('clients', args.clients);
const conns = wholeNumber('conns', args.conns ?? args.clients);
const deletes = wholeNumber('deletes', args.deletes ?? (args.quick ? '500' : '2000'));
const watchers = wholeNumber('watchers', args.watchers);
const rounds = wholeNumber('rounds', args.rounds ?? (args.quick ? '5' : '10'));
const synodBuild = args.synod;
if (synodBuild !== 'dist' && synodBuild !== 'source') {
  throw new Error(`--synod is dist or source, not "${synodBuild}"`);
}
const synodFlags = args['synod-flags'].split(',').filter(f => f !== '');
const synodNodeFlags = args['synod-node-flags'].split(',').filter(f => f !== '');
const only = args.only.split(',').filter(f => f !== '');
const coresAvailable = availableParallelism();
/** The heap zkServer.sh gives ZooKeeper (ZK_SERVER_HEAP, 1000 MB); GC and JIT as the JVM's. */
const zookeeperJvmFlags = ['-Xmx1000m'];

type Side = 'zookeeper' | 'synod';
const sides: readonly Side[] = ['zookeeper', 'synod'];
const sideName: Record<Side, string> = {zookeeper: 'ZooKeeper', synod: 'Synod'};

/** A running ZooKeeper service, whichever server implements it. */
interface Service {
  readonly side: Side;
  /** Every member's ZooKeeper address, `127.0.0.1:<port>`, in member order. */
  readonly addresses: readonly string[];
  readonly pids: readonly number[];
  /** The ZooKeeper address and pid of the member that leads (the only one, standalone). */
  leader(): Promise<{address: string; pid: number}>;
  /** Throws if a member has died. */
  check(): void;
  stop(): Promise<void>;
}

async function startZooKeeperService(members: 1 | 3): Promise<Service> {
  const ensemble: ZooKeeperEnsemble = await startZooKeeper({
    servers: members,
    jvmFlags: zookeeperJvmFlags,
    // ZooKeeper's default of 60 connections per address would refuse the fan-out's watchers.
    extraConfig: ['maxClientCnxns=0'],
  });
  const pids = ensemble.servers.map(s => s.pid ?? 0);
  return {
    side: 'zookeeper',
    addresses: ensemble.servers.map(s => s.address),
    pids,
    async leader() {
      for (let attempt = 0; attempt < 50; attempt++) {
        for (const s of ensemble.servers) {
          const srvr = await fourLetterWord(s.host, s.clientPort, 'srvr');
          if (/^Mode: (leader|standalone)$/m.test(srvr))
            return {address: s.address, pid: s.pid ?? 0};
        }
        await new Promise(resolve => setTimeout(resolve, 200));
      }
      throw new Error('no ZooKeeper server says it leads');
    },
    check() {
      ensemble.servers.forEach((s, i) => {
        if (s.pid !== pids[i]) throw new Error(`ZooKeeper server ${s.id} exited:\n${s.output}`);
      });
    },
    stop: () => ensemble.stop(),
  };
}

async function startSynodService(members: 1 | 3): Promise<Service> {
  const cluster = await BenchCluster.start({
    server: 'synod',
    members,
    synod: synodBuild as 'dist' | 'source',
    zookeeper: true,
    extraFlags: synodFlags,
    nodeFlags: synodNodeFlags,
    ...(args['synod-stdout-dir'] === undefined ? {} : {stdoutDir: args['synod-stdout-dir']}),
  });
  const zkOf = (m: {zkAddress?: string}): string => {
    if (m.zkAddress === undefined) throw new Error('a Synod member without a ZooKeeper port');
    return m.zkAddress;
  };
  return {
    side: 'synod',
    addresses: cluster.members.map(zkOf),
    pids: cluster.pids,
    async leader() {
      const leader = await cluster.leader();
      return {address: zkOf(leader), pid: leader.pid};
    },
    check() {
      cluster.cpuSnapshot();
    },
    stop: () => cluster.stop(),
  };
}

/**
 * Runs a `synod-bench` load in this process and reads the servers' CPU around the measured part
 * only: sessions are opened and the nodes a load needs (getData's, delete's) are made before
 * the first reading, so neither is charged to the operations measured.
 */
async function runLoad(
  argv: readonly string[],
  pids: readonly number[],
): Promise<{
  summary: Summary;
  before: ReadonlyMap<number, number>;
  after: ReadonlyMap<number, number>;
  clientCores: number;
}> {
  const options = parseOptions(argv);
  const prepared = await prepareRun(options, {index: 0, count: 1});
  const before = cpuSnapshot(pids);
  const clientBefore = process.cpuUsage();
  const startedMs = performance.now();
  const result = await prepared.start();
  const elapsedS = (performance.now() - startedMs) / 1000;
  const clientUsed = process.cpuUsage(clientBefore);
  const after = cpuSnapshot(pids);
  return {
    summary: summarise(options, result),
    before,
    after,
    clientCores: (clientUsed.user + clientUsed.system) / 1e6 / elapsedS,
  };
}

const operations = ['create', 'getData', 'setData', 'delete'] as const;
type Operation = (typeof operations)[number];
const workloadOf: Record<Operation, string> = {
  create: 'zk-create',
  getData: 'zk-get',
  setData: 'zk-set',
  delete: 'zk-delete',
};

/** A load: one operation with one client (latency) or with `--clients` (throughput). */
interface Load {
  readonly operation: Operation;
  readonly clients: number;
}
const selected = (name: string): boolean => only.length === 0 || only.includes(name);
const loads: readonly Load[] = operations
  .flatMap(operation => [
    {operation, clients: 1},
    {operation, clients},
  ])
  .filter(l => selected(l.operation) || selected(`${l.operation}/${l.clients}`));
const runFanOut = selected('fan-out');
for (const name of only) {
  const known =
    name === 'fan-out' ||
    operations.some(o => name === o || name === `${o}/1` || name === `${o}/${clients}`);
  if (!known) throw new Error(`--only: no load "${name}"`);
}
const loadName = (l: Load): string =>
  `${l.operation}, ${l.clients} client${l.clients > 1 ? 's' : ''}`;

/** Node paths never repeat across loads: every load gets a parent of its own. */
let loadCounter = 0;

function loadArgv(load: Load, address: string, loadMs: number, deleteCount: number): string[] {
  const amount =
    load.operation === 'delete'
      ? [`--total=${load.clients === 1 ? deleteCount : deleteCount * 10}`]
      : [`--duration=${loadMs}ms`];
  return [
    workloadOf[load.operation],
    `--clients=${load.clients}`,
    `--conns=${load.clients === 1 ? 1 : conns}`,
    '--key-space=1000',
    '--val-size=256',
    `--prefix=/zk-bench-${process.pid}-${loadCounter++}`,
    `--endpoints=${address}`,
    ...amount,
  ];
}

/** One figure a run produced. Lower is better for every figure but throughput. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
}

/** One load or fan-out measured once on one server. */
interface Run {
  readonly rep: number;
  readonly side: Side;
  readonly figures: readonly Figure[];
  /** CPU seconds per wall second of the client. */
  readonly clientCores: number;
  readonly errors: Readonly<Record<string, number>>;
  /** Another member led after the load: the leader/follower split of this run is mixed. */
  readonly leaderChanged: boolean;
}

function cpuFigures(cpu: CpuPerOperation, per = 'op'): Figure[] {
  const figures: Figure[] = [
    {name: `server CPU per ${per}, all members`, unit: 'µs', value: cpu.allUs},
    {name: `server CPU per ${per}, leader`, unit: 'µs', value: cpu.leaderUs},
  ];
  cpu.followersUs.forEach((us, i) => {
    figures.push({name: `server CPU per ${per}, follower ${i + 1}`, unit: 'µs', value: us});
  });
  return figures;
}

async function measureLoad(service: Service, load: Load, rep: number): Promise<Run> {
  const leader = await service.leader();
  const argv = loadArgv(load, leader.address, durationMs, deletes);
  service.check();
  const {summary: s, before, after, clientCores} = await runLoad(argv, service.pids);
  const latency = s.latencyMs[load.operation];
  const figures: Figure[] = [
    {name: 'ops/s', unit: 'ops/s', value: s.qps},
    {name: 'latency p50', unit: 'ms', value: latency?.p50 ?? Number.NaN},
    {name: 'latency p99', unit: 'ms', value: latency?.p99 ?? Number.NaN},
    ...cpuFigures(cpuPerOperation(before, after, leader.pid, s.ops)),
    {name: 'client CPU', unit: 'cores', value: clientCores},
  ];
  return {
    rep,
    side: service.side,
    figures,
    clientCores,
    errors: s.errors,
    leaderChanged: (await service.leader()).pid !== leader.pid,
  };
}

/** Opens `count` sessions spread round-robin over `addresses`, 100 handshakes at a time. */
async function openSessions(addresses: readonly string[], count: number): Promise<ZkSession[]> {
  const sessions: ZkSession[] = [];
  try {
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from({length: Math.min(100, count - i)}, (_, j) =>
        ZkSession.connect(addresses[(i + j) % addresses.length] ?? ''),
      );
      const opened = await Promise.allSettled(batch);
      for (const o of opened) if (o.status === 'fulfilled') sessions.push(o.value);
      const failed = opened.find(o => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    return sessions;
  } catch (error) {
    await closeSessions(sessions);
    throw error;
  }
}

async function closeSessions(sessions: readonly ZkSession[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += 100) {
    await Promise.all(sessions.slice(i, i + 100).map(s => s.close()));
  }
}

const NODE_DATA_CHANGED = 3;
const NO_NODE = -101;

/**
 * Leaves a data watch on `path`. A session on a follower may not see a node the leader has
 * just made (ZooKeeper promises each session its own order, not everyone's): it asks again.
 */
async function watchOnceVisible(session: ZkSession, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await session.getData(path, true);
      return;
    } catch (error) {
      if (!(error instanceof ZkReplyError && error.code === NO_NODE) || attempt >= 200) throw error;
      await new Promise(resolve => setTimeout(resolve, 10));
    }
  }
}

/**
 * Watch fan-out: `--watchers` sessions over every member watch one node (getData with a
 * watch); the leader's session sets the node's data; the round's figure is the time from
 * sending the setData until the last watcher has its NodeDataChanged. Two unmeasured rounds
 * come first. Server CPU is per round: the watchers' getData calls, the setData and the
 * notifications.
 */
async function measureFanOut(service: Service, rep: number): Promise<Run> {
  const leader = await service.leader();
  const path = `/zk-bench-fanout-${process.pid}-${loadCounter++}`;
  const setter = (await openSessions([leader.address], 1))[0];
  if (setter === undefined) throw new Error('no session for the setter');
  const sessions = await openSessions(service.addresses, watchers);
  try {
    await setter.create(path, Buffer.alloc(0)).catch((error: unknown) => {
      if (!(error instanceof ZkReplyError && error.code === -110)) throw error;
    });
    let heard = 0;
    let allHeard: (() => void) | undefined;
    for (const s of sessions) {
      s.onNotification = (type, notified) => {
        if (type !== NODE_DATA_CHANGED || notified !== path) return;
        heard++;
        if (heard === sessions.length) allHeard?.();
      };
    }
    const value = Buffer.alloc(256, 'w');
    const round = async (): Promise<number> => {
      heard = 0;
      await Promise.all(sessions.map(s => watchOnceVisible(s, path)));
      const everyone = new Promise<void>((resolve, reject) => {
        allHeard = resolve;
        setTimeout(() => {
          reject(new Error(`fan-out: ${heard} of ${sessions.length} notified after 30 s`));
        }, 30_000).unref();
      });
      const sentMs = performance.now();
      await setter.setData(path, value);
      await everyone;
      return performance.now() - sentMs;
    };
    for (let i = 0; i < 2; i++) await round();
    const before = cpuSnapshot(service.pids);
    const clientBefore = process.cpuUsage();
    const startedMs = performance.now();
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) times.push(await round());
    const elapsedS = (performance.now() - startedMs) / 1000;
    const clientUsed = process.cpuUsage(clientBefore);
    const after = cpuSnapshot(service.pids);
    const clientCores = (clientUsed.user + clientUsed.system) / 1e6 / elapsedS;
    return {
      rep,
      side: service.side,
      figures: [
        {name: 'all notified, median round', unit: 'ms', value: median(times)},
        {name: 'all notified, slowest round', unit: 'ms', value: Math.max(...times)},
        ...cpuFigures(cpuPerOperation(before, after, leader.pid, rounds), 'round'),
        {name: 'client CPU', unit: 'cores', value: clientCores},
      ],
      clientCores,
      errors: {},
      leaderChanged: (await service.leader()).pid !== leader.pid,
    };
  } finally {
    await closeSessions([...sessions, setter]);
  }
}

/** Each load once, unmeasured, so that both servers (ZooKeeper's JIT above all) are warm. */
async function warmUp(service: Service): Promise<void> {
  const leader = await service.leader();
  for (const load of loads) {
    await runLoad(
      loadArgv(load, leader.address, warmUpMs, Math.max(200, deletes / 4)),
      service.pids,
    );
  }
}

interface FigureSummary {
  readonly name: string;
  readonly unit: string;
  readonly zookeeper: Spread | undefined;
  readonly synod: Spread | undefined;
  /** Synod ÷ ZooKeeper within each repetition. */
  readonly ratio: Spread | undefined;
}

interface Report {
  readonly name: string;
  readonly figures: readonly FigureSummary[];
  readonly runs: readonly Run[];
  readonly warnings: readonly string[];
}

function summariseRuns(name: string, runs: readonly Run[]): Report {
  const valueOf = (side: Side, rep: number, figure: string): number =>
    runs.find(r => r.side === side && r.rep === rep)?.figures.find(f => f.name === figure)?.value ??
    Number.NaN;
  const repsRun = [...new Set(runs.map(r => r.rep))];
  const figures = (runs[0]?.figures ?? []).map(({name: figure, unit}) => {
    const zk = repsRun.map(rep => valueOf('zookeeper', rep, figure));
    const synod = repsRun.map(rep => valueOf('synod', rep, figure));
    return {
      name: figure,
      unit,
      zookeeper: spreadOf(zk),
      synod: spreadOf(synod),
      ratio: spreadOf(synod.map((s, i) => s / (zk[i] ?? Number.NaN))),
    };
  });
  const warnings: string[] = [];
  const busy = runs.filter(r => r.clientCores > coresAvailable / 2);
  if (busy.length > 0) {
    warnings.push(
      `the client used more than half the machine (${coresAvailable / 2} of ${coresAvailable} cores) in ` +
        busy.map(r => `${sideName[r.side]} rep ${r.rep} (${r.clientCores.toFixed(2)})`).join(', ') +
        ': throughput is bounded by the client as much as by the server; compare CPU per op',
    );
  }
  for (const r of runs) {
    const failed = Object.entries(r.errors);
    if (failed.length > 0) {
      warnings.push(
        `${sideName[r.side]} rep ${r.rep}: ${failed.reduce((n, [, c]) => n + c, 0)} requests ` +
          `failed: ${failed.map(([e]) => e).join('; ')}`,
      );
    }
    if (r.leaderChanged) {
      warnings.push(`${sideName[r.side]} rep ${r.rep}: the leader changed; its CPU split is mixed`);
    }
  }
  return {name, figures, runs, warnings};
}

function formatReport(members: number, report: Report): string {
  const labels = report.figures.map(f => `${f.name}, ${f.unit}`);
  const width = Math.max(...labels.map(l => l.length));
  const lines = [
    '',
    `${members} member${members === 1 ? '' : 's'} · ${report.name}`,
    `${''.padEnd(width)}  ${'ZooKeeper'.padEnd(22)}  ${'Synod'.padEnd(22)}  Synod ÷ ZooKeeper`,
  ];
  report.figures.forEach((f, i) => {
    lines.push(
      `${(labels[i] ?? '').padEnd(width)}  ${formatSpread(f.zookeeper).padEnd(22)}  ` +
        `${formatSpread(f.synod).padEnd(22)}  ${formatSpread(f.ratio, 2)}`,
    );
  });
  for (const w of report.warnings) lines.push(`! ${w}`);
  return lines.join('\n');
}

/** Synod ÷ ZooKeeper of the figures that decide, one row per load. */
function formatVerdict(members: number, reports: readonly Report[]): string {
  const cell = (r: Report, name: string): string =>
    formatSpread(r.figures.find(f => f.name === name)?.ratio, 2);
  const rows = reports.map(r =>
    r.name === fanOutName
      ? [
          r.name,
          '',
          cell(r, 'server CPU per round, all members'),
          '',
          cell(r, 'all notified, median round'),
          '',
        ]
      : [
          r.name,
          cell(r, 'ops/s'),
          cell(r, 'server CPU per op, all members'),
          cell(r, 'server CPU per op, leader'),
          cell(r, 'latency p50'),
          cell(r, 'latency p99'),
        ],
  );
  const header = ['Synod ÷ ZooKeeper', 'ops/s', 'CPU/op all', 'leader', 'p50', 'p99'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    '',
    `${members} member${members === 1 ? '' : 's'}, summary`,
    line(header),
    ...rows.map(line),
  ].join('\n');
}

const fanOutName = `watch fan-out, ${watchers} watchers`;
const machine = describeMachine();
const setting = {
  zookeeper: `Debian's ZooKeeper 3.8 on ${zookeeperJvmFlags.join(' ')}, maxClientCnxns=0, tickTime=2000`,
  synod: `${synodBuild === 'dist' ? 'the build' : 'the sources through tsx'}, commit ${machine.commit}${
    synodFlags.length > 0 ? `, ${synodFlags.join(' ')}` : ''
  }`,
  machine: `${machine.cpu}, Node.js ${machine.node}`,
  traffic: 'loads to the leader; fan-out watchers spread over every member, setData to the leader',
  loads:
    `${durationMs / 1000} s each (delete: ${deletes} and ${deletes * 10} nodes), ` +
    `${warmUpMs / 1000} s warm-up of each, ${reps} repetitions (ZooKeeper, Synod, Synod, ZooKeeper, ...)`,
  'fan-out': `${watchers} watchers, ${rounds} rounds per repetition after 2 unmeasured ones`,
};
if (!args.json) {
  process.stdout.write(
    'bench:zk: ZooKeeper and Synod alive together, measured in alternation\n' +
      Object.entries(setting)
        .map(([k, v]) => `${k}: ${v}\n`)
        .join('') +
      'figures: median (min–max) over repetitions; Synod ÷ ZooKeeper is taken within each repetition\n',
  );
}

const results: {members: number; reports: Report[]}[] = [];
for (const members of memberCounts) {
  const services: Partial<Record<Side, Service>> = {};
  try {
    process.stderr.write(`starting ZooKeeper and Synod, ${members} member(s) each\n`);
    services.zookeeper = await startZooKeeperService(members);
    services.synod = await startSynodService(members);
    const service = (side: Side): Service => {
      const s = services[side];
      if (s === undefined) throw new Error(`${side} is not running`);
      return s;
    };
    for (const side of sides) {
      process.stderr.write(`warming up ${sideName[side]}\n`);
      await warmUp(service(side));
    }
    const runs = new Map<string, Run[]>(
      [...loads.map(loadName), ...(runFanOut ? [fanOutName] : [])].map(n => [n, []]),
    );
    for (let rep = 1; rep <= reps; rep++) {
      const order: Side[] = rep % 2 === 1 ? ['zookeeper', 'synod'] : ['synod', 'zookeeper'];
      for (const load of [...loads, ...(runFanOut ? [undefined] : [])]) {
        for (const side of order) {
          const run =
            load === undefined
              ? await measureFanOut(service(side), rep)
              : await measureLoad(service(side), load, rep);
          const name = load === undefined ? fanOutName : loadName(load);
          runs.get(name)?.push(run);
          const first = run.figures[0];
          process.stderr.write(
            `  rep ${rep}/${reps} ${name} ${sideName[side]}: ${first?.name ?? ''} ` +
              `${formatNumber(first?.value ?? Number.NaN)}, CPU ${formatNumber(run.figures.find(f => f.name.endsWith('all members'))?.value ?? Number.NaN)} µs, ` +
              `client ${run.clientCores.toFixed(2)} cores\n`,
          );
        }
      }
    }
    const reports = [...runs].map(([name, r]) => summariseRuns(name, r));
    results.push({members, reports});
    if (!args.json) {
      for (const report of reports) process.stdout.write(`${formatReport(members, report)}\n`);
      process.stdout.write(`${formatVerdict(members, reports)}\n`);
    }
  } finally {
    await Promise.all(Object.values(services).map(s => s.stop()));
  }
}
if (
  results.some(r => r.reports.some(rep => rep.runs.some(run => Object.keys(run.errors).length > 0)))
) {
  process.exitCode = 1;
}
if (args.json) process.stdout.write(`${JSON.stringify({setting, clusters: results}, null, 2)}\n`);
