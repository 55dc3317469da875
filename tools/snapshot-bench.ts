/**
 * `npm run bench:snapshot` (`node --conditions=@synod/source --import tsx
 * tools/snapshot-bench.ts`): how long a backup and a restore take, and how much memory they
 * need, on etcd and on Synod holding the same keys.
 *
 * A one-member etcd and a one-member Synod run side by side, each loaded with `--keys` keys of
 * `--value-bytes` bytes. Each repetition then, for each server in turn (etcd first in odd
 * repetitions, Synod first in even ones, so the machine's drifting load falls on both):
 *
 * - `etcdctl snapshot save` against the member: wall time, the member's CPU time, and the
 *   member's peak resident memory while it served the snapshot (VmHWM from /proc/<pid>/status,
 *   its high-water mark reset through /proc/<pid>/clear_refs just before), and the file's size;
 * - the restore of that file by the server's own tool, `etcdctl snapshot restore` for etcd's
 *   file and `synod snapshot restore` for Synod's: wall time, the restore process's CPU time
 *   (user + system) and its peak resident memory (`/usr/bin/time -v`).
 *
 * Every figure is printed for both servers as median (min–max) over repetitions, and as the
 * ratio Synod ÷ etcd taken within each repetition. `--help` lists the flags.
 */
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

import {KVDefinition} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';

import {BenchCluster, cpuSeconds, killOnExit} from './bench-cluster.js';
import type {ServerKind, SynodBuild} from './bench-cluster.js';
import {describeMachine, spread, wholeNumber} from './side-by-side.js';

const usage = `Usage: npm run bench:snapshot -- [flags]

Loads the same keys into a one-member etcd and a one-member Synod running side by side, then
times etcdctl snapshot save against each and the restore of each file by its own server's tool
(etcdctl snapshot restore, synod snapshot restore), with peak memory and file size. Prints each
figure as median (min–max) over repetitions and Synod ÷ etcd per repetition.

  --keys=1000000        keys to load into each server
  --value-bytes=256     size of each value
  --reps=3              repetitions; each saves and restores once per server, alternating
                        which server goes first
  --synod=dist|source   run Synod (member and restore) from the build (default: npm run
                        build first) or from the TypeScript sources through tsx, whose
                        start-up then counts in the restore time
  --json                print every run as JSON as well
  --help                this text
`;

const {values: args} = parseArgs({
  options: {
    keys: {type: 'string'},
    'value-bytes': {type: 'string'},
    reps: {type: 'string'},
    synod: {type: 'string'},
    json: {type: 'boolean'},
    help: {type: 'boolean'},
  },
});
if (args.help === true) {
  process.stdout.write(usage);
  process.exit(0);
}

const keyCount = wholeNumber('keys', args.keys ?? '1000000');
const valueBytes = wholeNumber('value-bytes', args['value-bytes'] ?? '256');
const reps = wholeNumber('reps', args.reps ?? '3');
const synodBuild: SynodBuild = args.synod === 'source' ? 'source' : 'dist';
if (args.synod !== undefined && args.synod !== 'dist' && args.synod !== 'source') {
  throw new Error(`--synod=${args.synod}: expected dist or source`);
}

const root = fileURLToPath(new URL('..', import.meta.url));
/** Txns of this many puts load the keys; both servers get `--max-txn-ops` to match. */
const putsPerTxn = 500;
const txnsInFlight = 16;

/** `synod <args>` as the member runs it: from the build or from the sources. */
function synodCommand(argv: readonly string[]): string[] {
  return synodBuild === 'dist'
    ? [process.execPath, join(root, 'apps/server/bin/synod.js'), ...argv]
    : [
        process.execPath,
        '--conditions=@synod/source',
        '--import',
        'tsx',
        join(root, 'apps/server/src/run.ts'),
        ...argv,
      ];
}

/** Writes `count` keys of `valueBytes` bytes in txns of {@link putsPerTxn}, many in flight. */
async function load(address: string, count: number): Promise<void> {
  const channel = createChannel(address, undefined, {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const kv = createClient(KVDefinition, channel);
  const value = Buffer.alloc(valueBytes, 'v');
  let next = 0;
  let lastReport = Date.now();
  try {
    await Promise.all(
      Array.from({length: txnsInFlight}, async () => {
        while (next < count) {
          const from = next;
          next = Math.min(count, next + putsPerTxn);
          const success = [];
          for (let i = from; i < next; i++) {
            const key = Buffer.from(`/bench/snapshot/${String(i).padStart(8, '0')}`);
            success.push({request: {$case: 'requestPut' as const, value: {key, value}}});
          }
          await kv.txn({success});
          if (Date.now() - lastReport > 10_000) {
            lastReport = Date.now();
            process.stderr.write(`  ${next} keys...\n`);
          }
        }
      }),
    );
  } finally {
    channel.close();
  }
}

/** How a child process ended, and what it wrote. */
interface Ran {
  readonly wallMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end; `whileRunning` is called every 20 ms meanwhile. Throws with what
 * it wrote to stderr if it fails.
 */
async function run(argv: readonly string[], whileRunning?: () => void): Promise<Ran> {
  const [file, ...rest] = argv;
  if (file === undefined) throw new Error('no command');
  const started = performance.now();
  const child = spawn(file, rest, {
    env: {...process.env, ETCDCTL_API: '3'},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on(
    'data',
    (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8000)),
  );
  const timer = whileRunning === undefined ? undefined : setInterval(whileRunning, 20);
  const code = await new Promise<number | null>(resolve => child.once('close', resolve));
  clearInterval(timer);
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}:\n${stderr}`);
  return {wallMs, stdout, stderr};
}

/** Peak resident memory of a process since its high-water mark was last reset, in MiB. */
function peakResidentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

/**
 * Resets a process's peak resident memory to what it holds now (`echo 5 >
 * /proc/<pid>/clear_refs`), so that VmHWM afterwards is the peak of what follows.
 */
function resetPeakResident(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch (error) {
    throw new Error(
      `cannot reset the peak memory of pid ${pid} (/proc/${pid}/clear_refs): ${String(error)}; ` +
        'the bench needs Linux and members started by the same user',
    );
  }
}

/** `/usr/bin/time -v`'s "Maximum resident set size (kbytes)", in MiB. */
function maxResidentMiB(timeOutput: string): number {
  const kib = /Maximum resident set size \(kbytes\): (\d+)/.exec(timeOutput)?.[1];
  if (kib === undefined) throw new Error(`no maximum resident set size in:\n${timeOutput}`);
  return Number(kib) / 1024;
}

/** `/usr/bin/time -v`'s user and system time together, in seconds. */
function cpuTimeSeconds(timeOutput: string): number {
  const user = /User time \(seconds\): ([\d.]+)/.exec(timeOutput)?.[1];
  const system = /System time \(seconds\): ([\d.]+)/.exec(timeOutput)?.[1];
  if (user === undefined || system === undefined) {
    throw new Error(`no user or system time in:\n${timeOutput}`);
  }
  return Number(user) + Number(system);
}

/** One figure of one run. Lower is better for each. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
}

/** One save and restore of one server. */
interface Run {
  readonly rep: number;
  readonly server: ServerKind;
  readonly figures: readonly Figure[];
}

/** Saves a snapshot from `cluster`'s member and restores it with the server's own tool. */
async function measure(cluster: BenchCluster, rep: number, dir: string): Promise<Run> {
  const member = cluster.members[0];
  if (member === undefined) throw new Error('no member');
  const file = join(dir, `${cluster.server}-${rep}.db`);
  const residentBeforeMiB = cluster.residentMiB()[0] ?? Number.NaN;
  resetPeakResident(member.pid);
  const cpuBefore = cpuSeconds(member.pid);
  let peakMiB = 0;
  // VmHWM keeps the peak, but a member that died mid-save would take it along: read it as the
  // save goes, and once more at the end.
  const readPeak = (): void => {
    peakMiB = Math.max(peakMiB, peakResidentMiB(member.pid));
  };
  const save = await run(
    [
      'etcdctl',
      `--endpoints=${member.clientAddress}`,
      '--command-timeout=600s',
      'snapshot',
      'save',
      file,
    ],
    readPeak,
  );
  readPeak();
  const saveCpuS = cpuSeconds(member.pid) - cpuBefore;
  const sizeMiB = statSync(file).size / 2 ** 20;

  const restoreDir = join(dir, `${cluster.server}-${rep}.restored`);
  const restoreFlags = [
    '--name=m0',
    `--data-dir=${restoreDir}`,
    '--initial-cluster=m0=http://127.0.0.1:2380',
    '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster-token=bench-restore',
  ];
  const restoreCommand =
    cluster.server === 'etcd'
      ? ['etcdctl', 'snapshot', 'restore', file, ...restoreFlags]
      : synodCommand(['snapshot', 'restore', file, ...restoreFlags]);
  const restore = await run(['/usr/bin/time', '-v', ...restoreCommand]);
  rmSync(restoreDir, {recursive: true, force: true});
  rmSync(file, {force: true});
  return {
    rep,
    server: cluster.server,
    figures: [
      {name: 'save, wall time', unit: 's', value: save.wallMs / 1000},
      {name: 'save, member CPU', unit: 's', value: saveCpuS},
      {name: 'save, member peak RSS', unit: 'MiB', value: peakMiB},
      {name: 'save, member RSS before', unit: 'MiB', value: residentBeforeMiB},
      {name: 'snapshot file size', unit: 'MiB', value: sizeMiB},
      {name: 'restore, wall time', unit: 's', value: restore.wallMs / 1000},
      {name: 'restore, CPU', unit: 's', value: cpuTimeSeconds(restore.stderr)},
      {name: 'restore, peak RSS', unit: 'MiB', value: maxResidentMiB(restore.stderr)},
    ],
  };
}

function report(runs: readonly Run[]): string {
  const names = runs[0]?.figures.map(f => [f.name, f.unit] as const) ?? [];
  const valuesOf = (server: ServerKind, name: string): number[] =>
    runs
      .filter(r => r.server === server)
      .map(r => r.figures.find(f => f.name === name)?.value ?? Number.NaN);
  const rows = names.map(([name, unit]) => {
    const etcd = valuesOf('etcd', name);
    const synod = valuesOf('synod', name);
    const ratios = synod.map((s, i) => s / (etcd[i] ?? Number.NaN));
    const digits = unit === 's' ? 2 : 0;
    return [`${name} (${unit})`, spread(etcd, digits), spread(synod, digits), spread(ratios, 2)];
  });
  const header = ['figure', 'etcd', 'Synod', 'Synod ÷ etcd'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const machine = describeMachine();
  process.stderr.write(
    `${machine.cpu}, Node ${machine.node}, ${machine.etcd}, Synod ${machine.commit} (${synodBuild})\n` +
      `${keyCount} keys of ${valueBytes} B, ${reps} repetitions\n`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'synod-snapshot-bench-'));
  const common = {members: 1, synod: synodBuild, extraFlags: [`--max-txn-ops=${putsPerTxn}`]};
  const clusters = await Promise.all([
    BenchCluster.start({...common, server: 'etcd'}),
    BenchCluster.start({...common, server: 'synod'}),
  ]);
  try {
    for (const cluster of clusters) {
      const started = performance.now();
      process.stderr.write(`loading ${cluster.server}...\n`);
      await load(cluster.addresses[0] ?? '', keyCount);
      process.stderr.write(
        `loaded ${cluster.server} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
    const runs: Run[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const order = rep % 2 === 1 ? clusters : [...clusters].reverse();
      for (const cluster of order) {
        const measured = await measure(cluster, rep, dir);
        runs.push(measured);
        process.stderr.write(
          `rep ${rep} ${cluster.server}: ` +
            measured.figures.map(f => `${f.name} ${f.value.toFixed(2)} ${f.unit}`).join(', ') +
            '\n',
        );
      }
    }
    process.stdout.write(`\n${report(runs)}\n`);
    if (args.json === true) {
      process.stdout.write(`${JSON.stringify({machine, keyCount, valueBytes, runs}, null, 2)}\n`);
    }
  } finally {
    await Promise.all(clusters.map(c => c.stop()));
    rmSync(dir, {recursive: true, force: true});
  }
}

await main();
