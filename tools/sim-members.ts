/**
 * The simulation runner's default mode: the shipped member code (MemberCore with its RaftLoop,
 * Applier, WAL, LMDB backend, lessor and snapshots) as a cluster under virtual time, network
 * and disks. See tools/sim.ts for the options.
 */
import {describeMemberFailure, memberSwarmOptions, runMemberSimulation} from '@synod/simulator';
import type {MemberSimResult} from '@synod/simulator';
import type {SimArgs} from './sim-args.js';

function summarize(r: MemberSimResult): string {
  const s = r.stats;
  return [
    `seed ${r.seed}: ${r.failure === undefined ? 'PASS' : `FAIL (${r.failure.check})`}`,
    `  ${r.options.members} members, ${r.virtualMs}ms virtual, applied index ${s.appliedIndex}`,
    `  clients: ${s.opsStarted} ops, ${s.opsAcked} answered; linearizability ${r.linearizability}`,
    `  faults: ${s.crashes} crashes (${s.crashAlls} of every member), ${s.partitions} partitions, ` +
      `${s.leaderCuts} leaders cut off, ${s.snapshotsSent} snapshots sent`,
  ].join('\n');
}

/** Runs one seed (with its trace) or a sweep of seeds of real members. */
export async function runMembers(args: SimArgs): Promise<void> {
  if (args.seed !== undefined || args.memberExact !== undefined) {
    const options = args.memberExact ?? memberSwarmOptions(args.seed ?? 0, args.memberOverrides);
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
    const result = await runMemberSimulation(memberSwarmOptions(seed, args.memberOverrides));
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
