import {InvariantViolation} from './checkers/invariant-violation.js';
import type {InvariantName} from './checkers/invariant-violation.js';
import {kvModel} from './checkers/kv-model.js';
import type {KvInput, KvOperation, KvOutput} from './checkers/kv-model.js';
import {checkLinearizability} from './checkers/linearizability.js';
import type {LinearizabilityResult, LinearizabilityVerdict} from './checkers/linearizability.js';
import {SimCluster} from './sim-cluster.js';
import type {SimStats} from './sim-cluster.js';
import type {SimNetworkStats} from './sim-network.js';
import type {SimOptions} from './sim-options.js';

/** Where a run was when it failed. */
export type SimPhase = 'faults' | 'liveness' | 'final';

export interface SimFailure {
  readonly invariant: InvariantName | 'unexpected-error';
  readonly detail: string;
  readonly phase: SimPhase;
  readonly atMs: number;
}

/** The outcome of one simulated run. */
export interface SimResult {
  readonly seed: number;
  readonly options: SimOptions;
  readonly failure: SimFailure | undefined;
  readonly virtualMs: number;
  readonly events: number;
  readonly stats: SimStats;
  readonly network: SimNetworkStats;
  /** Distinct terms that had a leader. */
  readonly leaderTerms: number;
  readonly committedEntries: number;
  readonly historyOps: number;
  /** The client history that was checked (every operation, indeterminate ones included). */
  readonly history: readonly KvOperation[];
  readonly linearizability: LinearizabilityVerdict | 'not-checked';
  readonly linearizabilitySteps: number;
  /** Virtual time from the heal until the liveness write was acknowledged. */
  readonly recoveryMs: number | undefined;
  /** The run's notable events, newest last (the tail of it on failure). */
  readonly trace: readonly string[];
}

/** Bound of the linearizability search per run; beyond it the verdict is `unknown`. */
const linearizabilityMaxSteps = 2_000_000;

/**
 * runSimulation plays one run: clients and a nemesis for `durationMs`, then every fault is
 * healed and a write must commit within `livenessMs`, then every key is read back through the
 * log and the whole client history is checked for linearizability. A run is a pure function
 * of its options, so a failure replays exactly from its seed.
 */
export function runSimulation(options: SimOptions): SimResult {
  const cluster = new SimCluster(options);
  let phase: SimPhase = 'faults';
  let failure: SimFailure | undefined;
  let recoveryMs: number | undefined;
  let verdict: LinearizabilityVerdict | 'not-checked' = 'not-checked';
  let linSteps = 0;
  const clock = cluster.clock;
  try {
    for (let i = 0; i < options.clients; i++) cluster.addClient();
    cluster.startNemesis();
    clock.runUntil(options.durationMs);

    phase = 'liveness';
    cluster.stopClients();
    if (options.crashAllAtHeal) {
      for (const node of cluster.nodes.values())
        cluster.crash(node, 'crash (whole cluster, at heal)');
    }
    cluster.healAll();
    const healedAtMs = clock.nowMs;
    const probeValue = `liveness-${options.seed}`;
    const script: KvInput[] = [{kind: 'put', key: 'k0', value: probeValue}];
    for (let k = 0; k < options.keys; k++) script.push({kind: 'get', key: `k${k}`});
    const scriptState = {done: false};
    cluster.runScript(script, options.clientTimeoutMs, () => {
      scriptState.done = true;
    });
    const deadline = healedAtMs + options.livenessMs;
    let probe: KvOperation | undefined;
    let scanned = cluster.history.length;
    while (probe === undefined && clock.nowMs <= deadline && clock.step() !== undefined) {
      for (; scanned < cluster.history.length; scanned++) {
        const op = cluster.history[scanned];
        if (op?.output !== undefined && op.input.kind === 'put') {
          if (op.input.value.startsWith(probeValue)) probe = op;
        }
      }
    }
    // The reads after the probe only need to finish; they are bounded by the same budget.
    const readsDeadline = clock.nowMs + options.livenessMs;
    while (probe !== undefined && !scriptState.done && clock.nowMs <= readsDeadline) {
      if (clock.step() === undefined) break;
    }
    if (probe === undefined || !scriptState.done) {
      const leader = cluster.leader();
      throw new InvariantViolation(
        'liveness',
        (probe === undefined
          ? `no write committed within ${options.livenessMs}ms after every fault healed `
          : `the final reads did not finish within ${options.livenessMs}ms `) +
          `(leader: ${leader === undefined ? 'none' : `${leader.id} term ${leader.raw?.raft.term ?? 0}`})`,
      );
    }
    recoveryMs = probe.returnMs - healedAtMs;

    phase = 'final';
    cluster.checkDurability();
    cluster.closeHistory();
    const lin = checkLinearizability(kvModel, cluster.history, {
      maxSteps: linearizabilityMaxSteps,
    });
    verdict = lin.verdict;
    linSteps = lin.steps;
    if (lin.verdict === 'illegal') {
      throw new InvariantViolation('linearizability', explainIllegal(lin));
    }
  } catch (err) {
    if (err instanceof InvariantViolation) {
      failure = {invariant: err.invariant, detail: err.detail, phase, atMs: clock.nowMs};
    } else {
      const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
      failure = {invariant: 'unexpected-error', detail, phase, atMs: clock.nowMs};
    }
    cluster.note(`FAILED: ${failure.invariant}`);
  }
  return {
    seed: options.seed,
    options,
    failure,
    virtualMs: clock.nowMs,
    events: clock.eventsRun,
    stats: cluster.stats,
    network: cluster.network.stats,
    leaderTerms: cluster.checker.leaders().size,
    committedEntries: cluster.checker.committedCount,
    historyOps: cluster.history.length,
    history: cluster.history,
    linearizability: verdict,
    linearizabilitySteps: linSteps,
    recoveryMs,
    trace: cluster.trace,
  };
}

/**
 * explainIllegal shows where the search got stuck: the end of the longest order it could
 * linearize, then the earliest operations it could not place after it.
 */
function explainIllegal(lin: LinearizabilityResult<KvInput, KvOutput>): string {
  const all = lin.failedPartition ?? [];
  const prefix = lin.longestLinearizedPrefix ?? [];
  const placed = new Set(prefix);
  const rest = all.filter(op => !placed.has(op)).sort((a, b) => a.callMs - b.callMs);
  const show = (op: KvOperation): string => `    ${kvModel.describeOperation?.(op) ?? ''}`;
  return [
    `history of key ${all[0]?.input.key ?? '?'} is not linearizable (${all.length} operations).`,
    `  longest linearizable order: ${prefix.length} operations, ending with:`,
    ...prefix.slice(-8).map(show),
    `  none of the next operations fits after it (earliest first):`,
    ...rest.slice(0, 8).map(show),
  ].join('\n');
}
