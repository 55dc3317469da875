/**
 * Simulation runner: replays one seed with its trace, or sweeps many seeds and lists failures.
 * By default it runs the shipped member code (tools/sim-members.ts); `--raft-only` runs the
 * faster model cluster around the raft core alone.
 *
 *   npm run sim -- --seed 42                   real members, one seed (--trace for the trace)
 *   npm run sim -- --runs 10000 --from 1       real members, a sweep
 *   npm run sim -- --raft-only --runs 10000    the raft-only model
 *
 * Real-member options: --seed N, --runs N, --from N, --nodes N, --fault-ms N, --trace,
 *   --max-failures N, --member-options JSON (as a failure prints it), --no-crash,
 *   --no-crash-all, --no-partition, --no-network-faults, and --bug NAME (repeatable) with a
 *   name from packages/server/src/member/injected-bugs.ts.
 *
 * Raft-only options:
 *   --seed N           run one seed and print its trace summary
 *   --options JSON     run exactly these options (as printed by a failure) and print the trace
 *   --runs N           run N seeds, from --from (default 1)
 *   --from N           first seed of a sweep
 *   --nodes 3|5        initial voters (default: chosen by the seed)
 *   --steps N          ticks of the fault phase (default 150, i.e. 1.5 s of virtual time)
 *   --no-crash --no-torn --no-crash-all --no-partition --no-pause --no-membership
 *   --no-transfer --no-drop --no-duplicate --no-reorder     switch a fault class off
 *   --silent-loss      the transport does not report lost messages to raft (harsher)
 *   --bug ack-before-commit|lose-synced-tail|local-reads|commit-earlier-term-by-count
 *                      inject a bug (checker demo)
 *   --trace            print the whole trace of a failing run (sweeps print the last lines)
 *   --max-failures N   stop a sweep after N failures (default 20)
 */
// The lint rule's own message allows tools to import the simulator; the config has no
// override for tools/ yet.
import {describeFailure, runSimulation, swarmOptions} from '@synod/simulator';
import {runMembers} from './sim-members.js';
import type {SimOptions, SimOverrides, SimResult} from '@synod/simulator';

interface Args {
  seed: number | undefined;
  exact: SimOptions | undefined;
  runs: number;
  from: number;
  trace: boolean;
  maxFailures: number;
  overrides: SimOverrides;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seed: undefined,
    exact: undefined,
    runs: 1,
    from: 1,
    trace: false,
    maxFailures: 20,
    overrides: {},
  };
  const faults: Record<string, number> = {};
  const network: Record<string, number> = {};
  const bugs: Record<string, boolean> = {};
  let overrides: {nodes?: number; durationMs?: number; reportLoss?: boolean} = {};
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
      case '--options':
        args.exact = JSON.parse(argv[++i] ?? '') as SimOptions;
        break;
      case '--runs':
        args.runs = int(i++);
        break;
      case '--from':
        args.from = int(i++);
        break;
      case '--nodes': {
        const n = int(i++);
        if (n !== 3 && n !== 5) throw new Error('--nodes must be 3 or 5');
        overrides = {...overrides, nodes: n};
        break;
      }
      case '--steps':
        overrides = {...overrides, durationMs: int(i++) * 10};
        break;
      case '--max-failures':
        args.maxFailures = int(i++);
        break;
      case '--trace':
        args.trace = true;
        break;
      case '--silent-loss':
        overrides = {...overrides, reportLoss: false};
        break;
      case '--no-crash':
        faults.crash = 0;
        break;
      case '--no-torn':
        faults.tornWriteCrash = 0;
        break;
      case '--no-crash-all':
        faults.crashAll = 0;
        break;
      case '--no-partition':
        faults.partition = 0;
        break;
      case '--no-pause':
        faults.pause = 0;
        break;
      case '--no-membership':
        faults.membership = 0;
        break;
      case '--no-transfer':
        faults.transferLeader = 0;
        break;
      case '--no-drop':
        network.dropProbability = 0;
        break;
      case '--no-duplicate':
        network.duplicateProbability = 0;
        break;
      case '--no-reorder':
        network.reorderProbability = 0;
        break;
      case '--bug': {
        const b = argv[++i];
        if (b === 'ack-before-commit') bugs.ackBeforeCommit = true;
        else if (b === 'lose-synced-tail') bugs.loseSyncedTailOnCrash = true;
        else if (b === 'local-reads') bugs.localReads = true;
        else if (b === 'commit-earlier-term-by-count') bugs.commitEarlierTermByCount = true;
        else throw new Error(`unknown --bug ${String(b)}`);
        break;
      }
      case '--help':
      case '-h':
        console.log('see the comment at the top of tools/sim.ts for options');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${String(a)} (try --help)`);
    }
  }
  args.overrides = {...overrides, faults, network, bugs};
  return args;
}

function kinds(r: SimResult): string {
  const count = (kind: string): number => r.history.filter(op => op.input.kind === kind).length;
  const swapped = r.history.filter(op => op.output?.kind === 'cas' && op.output.ok).length;
  return `${count('put')} put, ${count('get')} get, ${count('cas')} cas (${swapped} swapped)`;
}

function summarize(r: SimResult): string {
  const s = r.stats;
  const n = r.network;
  return [
    `seed ${r.seed}: ${r.failure === undefined ? 'PASS' : `FAIL (${r.failure.invariant})`}`,
    `  ${r.options.nodes} nodes, ${r.virtualMs}ms virtual, ${r.events} events`,
    `  leaders in ${r.leaderTerms} terms, ${r.committedEntries} entries committed, ` +
      `recovery after heal ${r.recoveryMs ?? '-'}ms`,
    `  clients: ${s.opsStarted} ops, ${s.opsAcked} acked, ${s.opsIndeterminate} indeterminate, ` +
      `${s.redirects} redirects; linearizability ${r.linearizability} (${r.linearizabilitySteps} steps)`,
    `  history: ${kinds(r)}`,
    `  faults: ${s.crashes} crashes (${s.tornWrites} torn writes), ${s.restarts} restarts, ` +
      `${s.pauses} pauses, ${s.partitions} partitions, ${s.transfers} transfers, ` +
      `${s.confChangesApplied}/${s.confChangesProposed} conf changes applied/proposed`,
    `  storage: ${s.compactions} compactions, ${s.snapshotsInstalled} snapshots installed`,
    `  network: ${n.sent} sent, ${n.delivered} delivered, ${n.dropped} dropped, ${n.cut} cut, ` +
      `${n.duplicated} duplicated, ${n.reordered} reordered`,
  ].join('\n');
}

function main(argv: readonly string[]): void {
  const args = parseArgs(argv);
  if (args.seed !== undefined || args.exact !== undefined) {
    const options = args.exact ?? swarmOptions(args.seed ?? 0, args.overrides);
    const result = runSimulation(options);
    console.log(`options: ${JSON.stringify(result.options)}`);
    console.log('trace:');
    for (const line of result.trace) console.log(`  ${line}`);
    console.log(summarize(result));
    if (result.failure !== undefined) {
      console.log(describeFailure(result, args.trace ? Infinity : 40));
      process.exitCode = 1;
    }
    return;
  }
  const started = performance.now();
  const failures: SimResult[] = [];
  let runs = 0;
  let unknown = 0;
  const recoveries: number[] = [];
  for (let seed = args.from; seed < args.from + args.runs; seed++) {
    const result = runSimulation(swarmOptions(seed, args.overrides));
    runs++;
    if (result.linearizability === 'unknown') unknown++;
    if (result.recoveryMs !== undefined) recoveries.push(result.recoveryMs);
    if (result.failure !== undefined) {
      failures.push(result);
      console.log(describeFailure(result, args.trace ? Infinity : 15));
      if (failures.length >= args.maxFailures) break;
    }
    if (runs % 1000 === 0) {
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`... ${runs} runs, ${failures.length} failures, ${secs}s`);
    }
  }
  const secs = (performance.now() - started) / 1000;
  console.log(
    `${runs} runs (seeds ${args.from}..${args.from + runs - 1}), ${failures.length} failures, ` +
      `${unknown} linearizability 'unknown', ${secs.toFixed(1)}s (${((secs * 1000) / Math.max(1, runs)).toFixed(1)}ms/run)`,
  );
  recoveries.sort((a, b) => a - b);
  const at = (q: number): number => recoveries[Math.floor(q * (recoveries.length - 1))] ?? 0;
  console.log(
    `recovery after heal (leader + committed write): p50 ${at(0.5)}ms, p99 ${at(0.99)}ms, ` +
      `max ${at(1)}ms of virtual time`,
  );
  if (failures.length > 0) {
    console.log(
      `failing seeds: ${failures.map(f => `${f.seed} (${f.failure?.invariant ?? ''})`).join(', ')}`,
    );
    process.exitCode = 1;
  }
}

const argv = process.argv.slice(2);
if (argv.includes('--raft-only')) main(argv.filter(a => a !== '--raft-only'));
else if (argv.includes('--help') || argv.includes('-h')) main(argv);
else await runMembers(argv);
