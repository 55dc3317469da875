/**
 * The simulation runner's default mode: the shipped member code (MemberCore with its RaftLoop,
 * Applier, WAL, LMDB backend, lessor and snapshots) as a cluster under virtual time, network
 * and disks. See tools/sim.ts for the options.
 */
import {describeMemberFailure, memberSwarmOptions, runMemberSimulation} from '@synod/simulator';
import type {MemberSimOptions, MemberSimOverrides, MemberSimResult} from '@synod/simulator';
import type {InjectedBug} from '@synod/server';
import {injectedBugs, isInjectedBug} from '@synod/server';

interface MemberArgs {
  seed: number | undefined;
  exact: MemberSimOptions | undefined;
  runs: number;
  from: number;
  trace: boolean;
  maxFailures: number;
  overrides: MemberSimOverrides;
}

function parseMemberArgs(argv: readonly string[]): MemberArgs {
  const args: MemberArgs = {
    seed: undefined,
    exact: undefined,
    runs: 1,
    from: 1,
    trace: false,
    maxFailures: 20,
    overrides: {},
  };
  const bugs: InjectedBug[] = [];
  let overrides: {-readonly [K in keyof MemberSimOverrides]: MemberSimOverrides[K]} = {};
  const int = (i: number): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isSafeInteger(v))
      throw new Error(`${argv[i] ?? ''} needs an integer, got ${String(argv[i + 1])}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--seed':
        args.seed = int(i++);
        break;
      case '--member-options':
        args.exact = JSON.parse(argv[++i] ?? '') as MemberSimOptions;
        break;
      case '--runs':
        args.runs = int(i++);
        break;
      case '--from':
        args.from = int(i++);
        break;
      case '--nodes':
        overrides.members = int(i++);
        break;
      case '--fault-ms':
        overrides.faultMs = int(i++);
        break;
      case '--max-failures':
        args.maxFailures = int(i++);
        break;
      case '--trace':
        args.trace = true;
        break;
      case '--no-crash':
        overrides = {...overrides, crash: false};
        break;
      case '--no-crash-all':
        overrides = {...overrides, crashAll: false};
        break;
      case '--no-partition':
        overrides = {...overrides, partition: false};
        break;
      case '--no-network-faults':
        overrides = {...overrides, networkFaults: false};
        break;
      case '--bug': {
        const b = argv[++i] ?? '';
        if (!isInjectedBug(b)) {
          throw new Error(`unknown --bug ${b}: real members know ${injectedBugs.join(', ')}`);
        }
        bugs.push(b);
        break;
      }
      default:
        throw new Error(`unknown argument ${String(a)} (try --help)`);
    }
  }
  args.overrides = bugs.length > 0 ? {...overrides, bugs} : overrides;
  return args;
}

function summarize(r: MemberSimResult): string {
  const s = r.stats;
  return [
    `seed ${r.seed}: ${r.failure === undefined ? 'PASS' : `FAIL (${r.failure.check})`}`,
    `  ${r.options.members} members, ${r.virtualMs}ms virtual, applied index ${s.appliedIndex}`,
    `  clients: ${s.opsStarted} ops, ${s.opsAcked} answered; linearizability ${r.linearizability}`,
    `  faults: ${s.crashes} crashes (${s.crashAlls} of every member), ${s.partitions} partitions, ` +
      `${s.snapshotsSent} snapshots sent`,
  ].join('\n');
}

/** Runs one seed (with its trace) or a sweep of seeds of real members. */
export async function runMembers(argv: readonly string[]): Promise<void> {
  const args = parseMemberArgs(argv);
  if (args.seed !== undefined || args.exact !== undefined) {
    const options = args.exact ?? memberSwarmOptions(args.seed ?? 0, args.overrides);
    const result = await runMemberSimulation(options);
    console.log(`options: ${JSON.stringify(result.options)}`);
    if (args.trace) for (const line of result.trace) console.log(`  ${line}`);
    console.log(summarize(result));
    if (result.failure !== undefined) {
      console.log(describeMemberFailure(result, args.trace ? Infinity : 40));
      process.exitCode = 1;
    }
    return;
  }
  const started = performance.now();
  const failures: MemberSimResult[] = [];
  let runs = 0;
  let unknown = 0;
  for (let seed = args.from; seed < args.from + args.runs; seed++) {
    const result = await runMemberSimulation(memberSwarmOptions(seed, args.overrides));
    runs++;
    if (result.linearizability === 'unknown') unknown++;
    if (result.failure !== undefined) {
      failures.push(result);
      console.log(describeMemberFailure(result, args.trace ? Infinity : 15));
      if (failures.length >= args.maxFailures) break;
    }
    if (runs % 100 === 0) {
      const secs = (performance.now() - started) / 1000;
      console.log(
        `... ${runs} runs, ${failures.length} failures, ${secs.toFixed(1)}s (${(runs / secs).toFixed(2)} seeds/s)`,
      );
    }
  }
  const secs = (performance.now() - started) / 1000;
  console.log(
    `${runs} runs of real members (seeds ${args.from}..${args.from + runs - 1}), ${failures.length} failures, ` +
      `${unknown} linearizability 'unknown', ${secs.toFixed(1)}s (${(runs / secs).toFixed(2)} seeds/s)`,
  );
  if (failures.length > 0) {
    console.log(
      `failing seeds: ${failures.map(f => `${f.seed} (${f.failure?.check ?? ''})`).join(', ')}`,
    );
    process.exitCode = 1;
  }
}
