/**
 * The fuzz suite's command line: malformed and boundary requests for every etcd v3 method,
 * sent to a real Synod cluster and, to compare, to a real etcd member.
 *
 *   npm run fuzz -- --seconds 60 [--seed S] [--members 1|3] [--no-etcd]
 *   npm run fuzz -- --seed S --only N            replay input N of seed S
 *   npm run fuzz -- --seed S --from A --inputs C --batch 1
 *
 * Options:
 *   --seconds N    time budget for sending inputs (default 30)
 *   --inputs N     stop after N inputs
 *   --seed S       the run's seed (default: chosen from the clock, and printed)
 *   --members 1|3  Synod members (default 1); etcd runs one member
 *   --no-etcd      safety checks only, no comparison
 *   --only N       send input N alone
 *   --from N       start at input N
 *   --batch N      run the safety checks every N inputs (default 20)
 *   --json FILE    also write every input's record as JSON
 *
 * Exits 1 when a safety property broke (a Synod member exited, /health false, the canary
 * keys changed, HashKV differs), 0 otherwise: differences from etcd are reported, not fatal.
 */
import {spawnSync} from 'node:child_process';
import {writeFileSync} from 'node:fs';

import {runFuzz} from './runner.js';
import {formatSummary} from './summary.js';

interface Args {
  seconds: number;
  inputs: number | undefined;
  seed: number;
  members: number;
  withEtcd: boolean;
  from: number;
  batch: number;
  json: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seconds: 30,
    inputs: undefined,
    seed: Date.now() % 1_000_000,
    members: 1,
    withEtcd: true,
    from: 0,
    batch: 20,
    json: undefined,
  };
  const int = (i: number): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new Error(`${argv[i] ?? ''} needs a non-negative integer, got ${String(argv[i + 1])}`);
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--seconds':
        args.seconds = int(i++);
        break;
      case '--inputs':
        args.inputs = int(i++);
        break;
      case '--seed':
        args.seed = int(i++);
        break;
      case '--members':
        args.members = int(i++);
        if (args.members !== 1 && args.members !== 3) throw new Error('--members takes 1 or 3');
        break;
      case '--no-etcd':
        args.withEtcd = false;
        break;
      case '--only':
        args.from = int(i++);
        args.inputs = 1;
        args.seconds = Infinity;
        break;
      case '--from':
        args.from = int(i++);
        break;
      case '--batch':
        args.batch = Math.max(1, int(i++));
        break;
      case '--json':
        args.json = argv[++i];
        break;
      default:
        throw new Error(`unknown option ${argv[i] ?? ''}; see the top of tools/fuzz/main.ts`);
    }
  }
  return args;
}

function etcdVersion(): string {
  const probe = spawnSync(process.env.ETCD_BIN ?? 'etcd', ['--version'], {encoding: 'utf8'});
  const match = /etcd Version: (\S+)/.exec(probe.stdout);
  return match === null ? 'etcd' : `etcd ${match[1] ?? ''}`;
}

/** The commit the sources are at, and whether they differ from it. */
function synodVersion(): string | undefined {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {encoding: 'utf8'});
  if (head.status !== 0) return undefined;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    encoding: 'utf8',
  });
  return `commit ${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' with local changes'}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`seed ${args.seed}`);
  const report = await runFuzz({
    seed: args.seed,
    seconds: args.seconds,
    ...(args.inputs === undefined ? {} : {maxInputs: args.inputs}),
    members: args.members,
    withEtcd: args.withEtcd,
    from: args.from,
    batchSize: args.batch,
    log: line => {
      console.log(line);
    },
  });
  console.log(
    `\n${formatSummary(report, {etcdVersion: etcdVersion(), synodVersion: synodVersion()})}`,
  );
  if (args.json !== undefined) {
    const json = JSON.stringify(
      report,
      (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      2,
    );
    writeFileSync(args.json, json);
  }
  if (report.failures.some(f => f.server === 'Synod')) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
