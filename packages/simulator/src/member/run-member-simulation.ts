import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {existsSync} from 'node:fs';

import type {KvInput, KvOperation, KvOutput} from '../checkers/kv-model.js';
import {kvModel} from '../checkers/kv-model.js';
import {checkLinearizability} from '../checkers/linearizability.js';
import type {LinearizabilityVerdict} from '../checkers/linearizability.js';
import {Prng} from '../prng.js';
import {SimClock} from '../sim-clock.js';
import {LeaderIsolationNemesis} from '../leader-isolation-nemesis.js';
import {SimMemberClock} from '../sim-member-clock.js';
import {reliableNetwork} from '../sim-network.js';
import type {AckedPut} from './member-checks.js';
import {checkAckedPuts, checkAppliedOnce, checkConverged} from './member-checks.js';
import type {MemberSimOptions} from './member-sim-options.js';
import {SimMemberCluster} from './sim-member-cluster.js';

/** What a check found wrong, and when. */
export interface MemberSimFailure {
  readonly check:
    | 'linearizability'
    | 'acked-write-lost'
    | 'applied-twice'
    | 'replicas-diverged'
    | 'member-stopped'
    | 'no-progress';
  readonly detail: string;
  readonly atMs: number;
}

export interface MemberSimResult {
  readonly seed: number;
  readonly options: MemberSimOptions;
  readonly failure: MemberSimFailure | undefined;
  readonly history: readonly KvOperation[];
  readonly linearizability: LinearizabilityVerdict;
  readonly trace: readonly string[];
  readonly virtualMs: number;
  readonly stats: {
    opsStarted: number;
    opsAcked: number;
    crashes: number;
    crashAlls: number;
    partitions: number;
    leaderCuts: number;
    snapshotsSent: number;
    appliedIndex: number;
  };
}

/** How long a client waits for an answer before it gives up on the operation. */
const clientPatienceMs = 1000;

/** Virtual time allowed, after the faults stop, for every member to reach the same applied index. */
const settleBudgetMs = 10_000;

/** The directory the members' LMDB files go to: memory-backed where the machine has one. */
function scratchRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * Runs the shipped member code as a cluster under virtual time with the faults `options`
 * choose, while clients put and read; then heals everything and checks that the history is
 * linearizable, that every acknowledged put is still in every replica's history at the
 * revision it was acknowledged with, that all replicas hold the same state at the same
 * applied index, that no put was applied twice, and that no member stopped on an error.
 * Deterministic: the same options give the same trace and history.
 */
export async function runMemberSimulation(options: MemberSimOptions): Promise<MemberSimResult> {
  const root = mkdtempSync(join(scratchRoot(), 'synod-sim-'));
  try {
    return await runIn(root, options);
  } finally {
    rmSync(root, {recursive: true, force: true});
  }
}

async function runIn(root: string, options: MemberSimOptions): Promise<MemberSimResult> {
  const prng = new Prng(options.seed);
  const sim = new SimClock();
  const clock = new SimMemberClock(sim);
  const trace: string[] = [];
  const log = (line: string): void => {
    trace.push(`${sim.nowMs}ms ${line}`);
  };
  const cluster = new SimMemberCluster(
    sim,
    clock,
    prng.fork('cluster'),
    {
      members: options.members,
      heartbeatIntervalMs: 50,
      electionTimeoutMs: 500,
      snapshotCount: options.snapshotCount,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries,
      backendBatchIntervalMs: options.backendBatchIntervalMs,
      bugs: options.bugs,
      maxSizePerMsg: options.maxSizePerMsg,
    },
    options.network,
    root,
    log,
  );
  const n = options.members;
  const leaderCuts = new LeaderIsolationNemesis(
    sim,
    prng.fork('leader-cuts'),
    {
      armProbability: options.leaderCutProbability,
      maxAppends: options.members + 1,
      withFollowerProbability: 0.5,
      // Long enough for the others to elect a leader (whose cut then replaces this one).
      holdMsMin: 1000,
      holdMsMax: 2000,
    },
    cluster.network,
    () => cluster.ids,
    log,
    id => cluster.nameOf(id),
  );
  if (options.leaderCutProbability > 0) {
    cluster.beforeSend = (from, m) => {
      leaderCuts.beforeSend(from, m);
    };
  }
  const stats = {
    opsStarted: 0,
    opsAcked: 0,
    crashes: 0,
    crashAlls: 0,
    partitions: 0,
    leaderCuts: 0,
    snapshotsSent: 0,
    appliedIndex: 0,
  };
  const history: {
    clientId: number;
    input: KvInput;
    output: KvOutput | undefined;
    callMs: number;
    returnMs: number;
  }[] = [];
  const acked: AckedPut[] = [];
  let failure: MemberSimFailure | undefined;
  const fail = (check: MemberSimFailure['check'], detail: string): void => {
    failure ??= {check, detail, atMs: sim.nowMs};
  };

  for (let i = 0; i < n; i++) cluster.start(i);

  // Clients: each issues one operation at a time to a member it picks, and moves on to its
  // next operation when the answer comes (or the member it asked goes down).
  let clientsRunning = true;
  let nextValue = 0;
  const clientPrng = prng.fork('clients');
  const keys = Array.from({length: options.keys}, (_, i) => `k${i}`);
  const runOperation = (clientId: number, member: number, input: KvInput): Promise<void> => {
    stats.opsStarted++;
    const op = {
      clientId,
      input,
      output: undefined as KvOutput | undefined,
      callMs: sim.nowMs,
      returnMs: Infinity,
    };
    history.push(op);
    const answer: Promise<KvOutput> =
      input.kind === 'put'
        ? cluster.put(member, input.key, input.value).then(revision => {
            acked.push({key: input.key, value: input.value, revision});
            return {kind: 'put'};
          })
        : cluster.get(member, input.key).then(value => ({kind: 'get', value}));
    // A client waits a while, then moves on; the operation's outcome stays unknown to the
    // history (a put may still take effect at any later time), though a put acknowledged
    // late is still checked for durability.
    let givenUp = false;
    const patience = new Promise<void>(resolve => {
      sim.schedule(clientPatienceMs, () => {
        givenUp = true;
        resolve();
      });
    });
    const answered = answer.then(
      output => {
        if (givenUp) return;
        op.output = output;
        op.returnMs = sim.nowMs;
        stats.opsAcked++;
      },
      () => undefined,
    );
    return Promise.race([answered, patience]);
  };
  const client = (clientId: number): void => {
    if (!clientsRunning) return;
    const member = clientPrng.nextInt(n);
    if (!cluster.isUp(member)) {
      sim.schedule(10, () => {
        client(clientId);
      });
      return;
    }
    const key = clientPrng.pick(keys);
    const input: KvInput = clientPrng.chance(0.6)
      ? {kind: 'put', key, value: `v${nextValue++}`}
      : {kind: 'get', key};
    void runOperation(clientId, member, input).then(() => {
      sim.schedule(clientPrng.intBetween(0, 20), () => {
        client(clientId);
      });
    });
  };
  for (let c = 0; c < options.clients; c++) {
    sim.schedule(clientPrng.intBetween(0, 50), () => {
      client(c);
    });
  }

  // Faults, decided at each slot boundary; crashes and restarts happen between events.
  const faults = prng.fork('faults');
  const restartAt = new Map<number, number>();
  let healAt: number | undefined;
  const crash = async (i: number): Promise<void> => {
    stats.crashes++;
    await cluster.crash(i, options.tear);
    restartAt.set(i, sim.nowMs + faults.intBetween(20, 600));
  };
  for (let t = options.slotMs; t <= options.faultMs; t += options.slotMs) {
    await clock.runUntil(t);
    for (const [i, at] of [...restartAt]) {
      if (at > t) continue;
      restartAt.delete(i);
      startOrFail(cluster, i, fail);
    }
    if (healAt !== undefined && healAt <= t) {
      cluster.network.heal();
      healAt = undefined;
      log('network healed');
    }
    if (faults.chance(options.crashAllProbability)) {
      stats.crashAlls++;
      log('crash of every member');
      for (let i = 0; i < n; i++) await crash(i);
    } else if (faults.chance(options.crashProbability)) {
      const up = Array.from({length: n}, (_, i) => i).filter(i => cluster.isUp(i));
      if (up.length > 0) await crash(faults.pick(up));
    }
    if (healAt === undefined && faults.chance(options.partitionProbability)) {
      stats.partitions++;
      const [a, b] = cluster.network.randomSplit(cluster.ids, faults.chance(0.2));
      log(
        `partition ${a.map(id => cluster.nameOf(id)).join(',')} | ${b.map(id => cluster.nameOf(id)).join(',')}`,
      );
      healAt = t + faults.intBetween(100, 1000);
    }
    if (cluster.fatalErrors.length > 0) break;
  }

  // Heal: every member up, the network whole and reliable; wait for one applied index.
  clientsRunning = false;
  leaderCuts.stop();
  stats.leaderCuts = leaderCuts.cuts;
  cluster.network.heal();
  cluster.network.setOptions(reliableNetwork);
  for (let i = 0; i < n; i++) if (!cluster.isUp(i)) startOrFail(cluster, i, fail);
  log('healed: all members up, network reliable');
  const deadline = sim.nowMs + settleBudgetMs;
  let converged = false;
  while (sim.nowMs < deadline && failure === undefined && cluster.fatalErrors.length === 0) {
    await clock.runUntil(sim.nowMs + 100);
    const cores = cluster.cores();
    const applied = cores.map(c => c?.appliedIndex ?? -1);
    const leader = cores.some(c => c?.isLeader === true);
    if (
      leader &&
      applied.every(a => a === applied[0]) &&
      cores.every(c => c?.pendingProposals === 0)
    ) {
      converged = true;
      break;
    }
  }
  if (cluster.fatalErrors.length > 0) fail('member-stopped', cluster.fatalErrors.join('; '));
  if (!converged) {
    const state = cluster
      .cores()
      .map(c =>
        c === undefined
          ? 'down'
          : `applied ${c.appliedIndex} commit ${c.raftIndex} term ${c.term}${c.isLeader ? ' leader' : ''}`,
      );
    fail(
      'no-progress',
      `members did not reach one applied index within ${settleBudgetMs}ms after healing: ${state.join('; ')}`,
    );
  }

  // A final read of every key, so a lost write shows in the history too.
  if (failure === undefined) {
    let pending = keys.length;
    for (const key of keys) {
      void runOperation(99, clientPrng.nextInt(n), {kind: 'get', key}).then(() => {
        pending--;
      });
    }
    const readDeadline = sim.nowMs + 5000;
    while (pending > 0 && sim.nowMs < readDeadline) await clock.runUntil(sim.nowMs + 50);
  }

  if (failure === undefined) {
    const cores = cluster.cores();
    stats.appliedIndex = cores[0]?.appliedIndex ?? 0;
    const diverged = await checkConverged(cluster);
    if (diverged !== undefined) fail('replicas-diverged', diverged);
    const lost = checkAckedPuts(cluster, acked);
    if (lost !== undefined) fail('acked-write-lost', lost);
    const twice = checkAppliedOnce(cluster, keys);
    if (twice !== undefined) fail('applied-twice', twice);
  }
  stats.snapshotsSent = cluster.snapshotsSent;
  await cluster.closeAll();

  const lin = checkLinearizability(kvModel, history, {maxSteps: 2_000_000});
  if (lin.verdict === 'illegal') {
    const ops = (lin.failedPartition ?? []).map(op => describe(op)).slice(-20);
    fail(
      'linearizability',
      `no linearization of key ${lin.failedPartition?.[0]?.input.key ?? '?'}: ${ops.join('; ')}`,
    );
  }
  return {
    seed: options.seed,
    options,
    failure,
    history,
    linearizability: lin.verdict,
    trace,
    virtualMs: sim.nowMs,
    stats,
  };
}

function startOrFail(
  cluster: SimMemberCluster,
  index: number,
  fail: (check: MemberSimFailure['check'], detail: string) => void,
): void {
  try {
    cluster.start(index);
  } catch (error) {
    fail(
      'member-stopped',
      `m${index + 1} could not restart: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function describe(op: KvOperation): string {
  const out =
    op.output === undefined ? '?' : op.output.kind === 'get' ? String(op.output.value) : 'ok';
  const input = op.input.kind === 'put' ? `put ${op.input.value}` : 'get';
  return `c${op.clientId} ${input} -> ${out} [${op.callMs}, ${op.returnMs}]`;
}

/** A failed run of real members for a human: what broke, and the command that replays it. */
export function describeMemberFailure(result: MemberSimResult, traceLines = 30): string {
  const f = result.failure;
  if (f === undefined) return `seed ${result.seed}: passed`;
  const bugs = result.options.bugs.map(b => ` --bug ${b}`).join('');
  const tail = result.trace.slice(-traceLines);
  return [
    `SEED=${result.seed}: ${f.check} at ${f.atMs}ms (real members)`,
    `  ${f.detail}`,
    `  replay: npm run sim -- --seed ${result.seed}${bugs} (with the same option flags), or exactly:` +
      ` npm run sim -- --member-options '${JSON.stringify(result.options)}'`,
    `  last ${tail.length} trace lines:`,
    ...tail.map(l => `    ${l}`),
  ].join('\n');
}
