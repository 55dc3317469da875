/**
 * `npm run bench:zk-import` (`node --conditions=@synod/source --import tsx
 * tools/zk-import-bench.ts`): how long `synod zk import` takes, and how much memory it needs,
 * on a ZooKeeper data dir of `--znodes` znodes, next to how long ZooKeeper 3.8 itself takes to
 * load the same files.
 *
 * The data dir is written once by `generateZkDataDir` (a snapshot of `/bench/gNNNN/nNNNNNN`
 * leaves with ACLs and versions, then a log of `--log-txns` transactions); the real ZooKeeper
 * loads that writer's files in zk-import-writer.test.ts. Each repetition then runs, in turn
 * (Synod first in odd repetitions, ZooKeeper first in even ones, so the machine's drifting
 * load falls on both):
 *
 * - `synod zk import <dir> --data-dir <new>` under `/usr/bin/time -v`: wall time, CPU time
 *   (user + system) and peak resident memory of the import process;
 * - ZooKeeper (JVM defaults) started on a fresh copy of the dir: wall time from spawn until
 *   `srvr` answers (JVM start, snapshot load, log replay and the snapshot ZooKeeper writes
 *   after loading), its CPU time at that moment from /proc/<pid>/stat, and its peak resident
 *   memory (VmHWM from /proc/<pid>/status).
 *
 * Prints each figure as median (min–max) over repetitions and Synod ÷ ZooKeeper per
 * repetition. `--help` lists the flags.
 */
import {spawn} from 'node:child_process';
import {cpSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

import {generateZkDataDir} from '@synod/server';
import {startZooKeeper, zookeeperSkipReason} from '@synod/testing';
import type {ZooKeeperEnsemble} from '@synod/testing';

import {describeMachine, spread} from './side-by-side.js';

const usage = `Usage: npm run bench:zk-import -- [flags]

Writes a ZooKeeper 3.8 data dir of --znodes znodes (and a log of --log-txns transactions), then
times synod zk import on it and ZooKeeper's own start on a copy of it, alternating which goes
first. Prints wall time, CPU time and peak memory as median (min–max) and Synod ÷ ZooKeeper.

  --znodes=1000000      znodes in the snapshot
  --log-txns=10000      transactions logged after the snapshot
  --reps=3              repetitions
  --synod=dist|source   run synod from the build (npm run build first) or from the
                        TypeScript sources through tsx (default), whose start-up then counts
  --no-zookeeper        time the import only
  --help                this text
`;

const {values: args} = parseArgs({
  options: {
    znodes: {type: 'string'},
    'log-txns': {type: 'string'},
    reps: {type: 'string'},
    synod: {type: 'string'},
    'no-zookeeper': {type: 'boolean'},
    help: {type: 'boolean'},
  },
});
if (args.help === true) {
  process.stdout.write(usage);
  process.exit(0);
}
const znodes = Number(args.znodes ?? 1_000_000);
const logTxns = Number(args['log-txns'] ?? 10_000);
const reps = Number(args.reps ?? 3);
const fromSource = (args.synod ?? 'source') === 'source';
const withZooKeeper = args['no-zookeeper'] !== true;
if (withZooKeeper && zookeeperSkipReason !== undefined) throw new Error(zookeeperSkipReason);

const root = fileURLToPath(new URL('..', import.meta.url));
const ticksPerSecond = 100;

function synodCommand(argv: readonly string[]): string[] {
  return fromSource
    ? [
        process.execPath,
        '--conditions=@synod/source',
        '--import',
        'tsx',
        join(root, 'apps/server/src/run.ts'),
        ...argv,
      ]
    : [process.execPath, join(root, 'apps/server/bin/synod.js'), ...argv];
}

interface Measured {
  readonly wallS: number;
  readonly cpuS: number;
  readonly rssMiB: number;
}

/** Runs the import under `/usr/bin/time -v`. */
async function timeImport(dataDir: string, out: string): Promise<Measured> {
  rmSync(out, {recursive: true, force: true});
  const command = [
    '/usr/bin/time',
    '-v',
    ...synodCommand(['zk', 'import', dataDir, '--data-dir', out]),
  ];
  const child = spawn(command[0] ?? '', command.slice(1), {stdio: ['ignore', 'pipe', 'pipe']});
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number>(resolve => {
    child.on('exit', c => {
      resolve(c ?? -1);
    });
  });
  if (code !== 0) throw new Error(`synod zk import failed (${code}):\n${stdout}${stderr}`);
  const field = (name: string): string => {
    const m = new RegExp(`${name}: (.+)`).exec(stderr)?.[1];
    if (m === undefined) throw new Error(`no "${name}" in /usr/bin/time's output:\n${stderr}`);
    return m.trim();
  };
  const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')
    .split(':')
    .reduce((s, part) => s * 60 + Number(part), 0);
  return {
    wallS: wall,
    cpuS: Number(field('User time \\(seconds\\)')) + Number(field('System time \\(seconds\\)')),
    rssMiB: Number(field('Maximum resident set size \\(kbytes\\)')) / 1024,
  };
}

/** Starts the halted ZooKeeper on a fresh copy of the generated files and waits for it. */
async function timeZooKeeper(zk: ZooKeeperEnsemble, generated: string): Promise<Measured> {
  const server = zk.servers[0];
  if (server === undefined) throw new Error('no ZooKeeper server');
  const versionDir = join(server.dir, 'data', 'version-2');
  rmSync(versionDir, {recursive: true, force: true});
  cpSync(join(generated, 'version-2'), versionDir, {recursive: true});
  const started = performance.now();
  await zk.resume(900_000);
  const wallS = (performance.now() - started) / 1000;
  const pid = server.pid;
  if (pid === undefined) throw new Error('ZooKeeper exited');
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const cpuS = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  await zk.halt();
  return {wallS, cpuS, rssMiB: Number(hwm) / 1024};
}

const work = mkdtempSync(join(tmpdir(), 'zk-import-bench-'));
let zk: ZooKeeperEnsemble | undefined;
try {
  const generated = join(work, 'zookeeper');
  const t0 = performance.now();
  const snapshotZxid = generateZkDataDir(generated, {znodes, logTxns});
  const snapshotFile = join(generated, 'version-2', `snapshot.${snapshotZxid.toString(16)}`);
  process.stdout.write(
    `${JSON.stringify(describeMachine())}\n` +
      `generated ${znodes} znodes (snapshot ${(statSync(snapshotFile).size / 2 ** 20).toFixed(0)} MiB) ` +
      `and ${logTxns} logged transactions in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  if (withZooKeeper) {
    zk = await startZooKeeper({jvmFlags: [], startTimeoutMs: 120_000});
    await zk.halt();
  }
  const synodRuns: Measured[] = [];
  const zkRuns: Measured[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    const order = rep % 2 === 1 ? ['synod', 'zookeeper'] : ['zookeeper', 'synod'];
    for (const who of order) {
      if (who === 'synod') {
        const m = await timeImport(generated, join(work, 'imported.synod'));
        synodRuns.push(m);
        process.stdout.write(`rep ${rep} synod zk import: ${JSON.stringify(m)}\n`);
      } else if (zk !== undefined) {
        const m = await timeZooKeeper(zk, generated);
        zkRuns.push(m);
        process.stdout.write(`rep ${rep} zookeeper start: ${JSON.stringify(m)}\n`);
      }
    }
  }
  const line = (name: string, pick: (m: Measured) => number, digits: number): string => {
    const s = synodRuns.map(pick);
    const z = zkRuns.map(pick);
    const ratios = s.flatMap((v, i) => (z[i] === undefined ? [] : [v / (z[i] ?? 1)]));
    return `${name.padEnd(16)} synod ${spread(s, digits).padEnd(22)} zookeeper ${spread(z, digits).padEnd(22)} synod÷zookeeper ${spread(ratios, 2)}\n`;
  };
  process.stdout.write(
    `\n${znodes} znodes, ${logTxns} logged txns, ${reps} reps, median (min–max):\n` +
      line('wall s', m => m.wallS, 1) +
      line('cpu s', m => m.cpuS, 1) +
      line('peak RSS MiB', m => m.rssMiB, 0),
  );
} finally {
  await zk?.stop();
  rmSync(work, {recursive: true, force: true});
}
