/**
 * Simulation runner: replays one seed with its trace, or sweeps many seeds and lists failures.
 * By default it runs the shipped member code (tools/sim-members.ts); `--raft-only` runs the
 * faster model cluster around the raft core alone. Both modes share one flag parser
 * (tools/sim-args.ts), which refuses a flag the chosen mode does not know.
 *
 *   npm run sim -- --seed 42                   real members, one seed (--trace for the trace)
 *   npm run sim -- --runs 10000 --from 1       real members, a sweep
 *   npm run sim -- --raft-only --runs 10000    the raft-only model
 *
 * Both modes:
 *   --seed N           run one seed and print its summary (--trace: all of its trace)
 *   --runs N           run N seeds, from --from (default 1)
 *   --from N           first seed of a sweep
 *   --nodes N          members (raft-only: 3 or 5; default: chosen by the seed)
 *   --max-failures N   stop a sweep after N failures (default 20)
 *   --no-crash --no-crash-all --no-partition     switch a fault class off
 *   --leader-cuts      cut every new leader off as one of its first appends leaves (the
 *                      nemesis aimed at Raft's Figure 8; a quarter of the seeds draw it)
 *   --no-leader-cuts   never
 *   --bug NAME         inject a known bug (repeatable): real members know the names in
 *                      packages/server/src/member/injected-bugs.ts; the raft-only model knows
 *                      ack-before-commit, lose-synced-tail, local-reads, commit-earlier-term-by-count
 *
 * Real members only:
 *   --member-options JSON   run exactly these options (as a failure prints them)
 *   --fault-ms N            virtual time of the fault phase
 *   --no-network-faults     no drops, duplicates or reordering
 *
 * Raft-only only:
 *   --options JSON     run exactly these options (as a failure prints them)
 *   --steps N          ticks of the fault phase (default 150, i.e. 1.5 s of virtual time)
 *   --no-torn --no-pause --no-membership --no-transfer --no-drop --no-duplicate --no-reorder
 *   --silent-loss      the transport does not report lost messages to raft (harsher)
 */
// The lint rule's own message allows tools to import the simulator; the config has no
// override for tools/ yet.
import {describeFailure, runSimulation, swarmOptions} from '@synod/simulator';
import type {SimResult} from '@synod/simulator';
import type {SimArgs} from './sim-args.js';
import {parseSimArgs} from './sim-args.js';
import {runMembers} from './sim-members.js';

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
      `${s.pauses} pauses, ${s.partitions} partitions, ${s.leaderCuts} leaders cut off, ` +
      `${s.transfers} transfers, ` +
      `${s.confChangesApplied}/${s.confChangesProposed} conf changes applied/proposed`,
    `  storage: ${s.compactions} compactions, ${s.snapshotsInstalled} snapshots installed`,
    `  network: ${n.sent} sent, ${n.delivered} delivered, ${n.dropped} dropped, ${n.cut} cut, ` +
      `${n.duplicated} duplicated, ${n.reordered} reordered`,
  ].join('\n');
}

function runRaftOnly(args: SimArgs): void {
  if (args.seed !== undefined || args.raftExact !== undefined) {
    const options = args.raftExact ?? swarmOptions(args.seed ?? 0, args.raftOverrides);
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
    const result = runSimulation(swarmOptions(seed, args.raftOverrides));
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
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('see the comment at the top of tools/sim.ts for options');
} else {
  let args: SimArgs | undefined;
  try {
    args = parseSimArgs(argv);
  } catch (error) {
    console.error(`npm run sim: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  }
  if (args?.raftOnly === true) runRaftOnly(args);
  else if (args !== undefined) await runMembers(args);
}
