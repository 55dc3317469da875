import type {CheckerToggles} from './checkers/invariant-checker.js';
import {Prng} from './prng.js';
import type {SimNetworkOptions} from './sim-network.js';

/** Probabilities per nemesis step of each fault; 0 disables a fault class. */
export interface FaultOptions {
  /** Time between nemesis steps: uniform in [min, max]. */
  readonly nemesisIntervalMsMin: number;
  readonly nemesisIntervalMsMax: number;
  readonly crash: number;
  /** A crash in the middle of a Ready write: only a prefix of the batch reaches the disk. */
  readonly tornWriteCrash: number;
  /** Crash every member at once (kill -9 of the whole cluster). */
  readonly crashAll: number;
  readonly partition: number;
  readonly pause: number;
  readonly membership: number;
  readonly transferLeader: number;
  /**
   * Chance that a new leader is cut off right after one of its first appends (the
   * {@link LeaderIsolationNemesis}, aimed at Raft's Figure 8); runs with it send one entry per
   * append. Not a per-step chance like the others: it is drawn once per leader term.
   */
  readonly leaderCuts: number;
  /** How long a crash, partition or pause lasts: uniform in [min, max]. */
  readonly faultMsMin: number;
  readonly faultMsMax: number;
}

/**
 * Deliberate bugs for proving that the checkers catch what they claim. Never set in a real
 * run.
 */
export interface InjectedBugs {
  /** The leader answers a write as soon as it is proposed, before it commits. */
  readonly ackBeforeCommit?: boolean;
  /** A crashed member's disk loses its last entries although they were synced (fsync lies). */
  readonly loseSyncedTailOnCrash?: boolean;
  /** Every member answers reads from its own applied state, skipping ReadIndex. */
  readonly localReads?: boolean;
  /** The leader commits an entry of an earlier term once a quorum holds it (Raft Figure 8). */
  readonly commitEarlierTermByCount?: boolean;
}

/** Everything that shapes one simulated run. A run is a pure function of these options. */
export interface SimOptions {
  readonly seed: number;
  /** Initial voters; members added later get ids above these. */
  readonly nodes: number;
  /** Virtual duration of the fault phase. */
  readonly durationMs: number;
  /**
   * Kill every member at once when the fault phase ends and restart all of them from their
   * disks: the final reads then prove no acknowledged write was lost.
   */
  readonly crashAllAtHeal: boolean;
  /** Budget, after every fault is healed, for electing a leader and committing a write. */
  readonly livenessMs: number;
  readonly tickMs: number;
  /** Clock skew: each member's tick interval is `tickMs` plus a fixed draw in [-skew, skew]. */
  readonly tickSkewMs: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  /** Disk write latency of one Ready, uniform in [0, diskMsMax]. */
  readonly diskMsMax: number;
  readonly network: SimNetworkOptions;
  /**
   * The transport tells a sender's raft (`reportUnreachable`) when a message to a peer was
   * lost, as etcd's transport does when a stream breaks or its buffer overflows. Off, losses are
   * silent, which is harsher than any real transport.
   */
  readonly reportLoss: boolean;
  readonly faults: FaultOptions;
  readonly clients: number;
  readonly keys: number;
  /** Fraction of reads served by ReadIndex instead of going through the log. */
  readonly readIndexRatio: number;
  readonly clientTimeoutMs: number;
  /** Applied entries beyond the snapshot before a member snapshots and compacts its log. */
  readonly snapshotEveryEntries: number;
  /** Entries kept below a new snapshot so slow followers can still catch up from the log. */
  readonly compactionKeepEntries: number;
  readonly checks: CheckerToggles;
  readonly bugs: InjectedBugs;
}

/** Every fault off: for a plain run and the base of hand-made scenarios. */
export const noFaults: FaultOptions = {
  nemesisIntervalMsMin: 50,
  nemesisIntervalMsMax: 150,
  crash: 0,
  tornWriteCrash: 0,
  crashAll: 0,
  partition: 0,
  pause: 0,
  membership: 0,
  transferLeader: 0,
  leaderCuts: 0,
  faultMsMin: 50,
  faultMsMax: 400,
};

/** Overrides accepted by {@link swarmOptions}; nested option groups are merged. */
export type SimOverrides = Partial<Omit<SimOptions, 'network' | 'faults'>> & {
  readonly network?: Partial<SimNetworkOptions>;
  readonly faults?: Partial<FaultOptions>;
};

/**
 * swarmOptions derives a run's options from its seed ("swarm testing"): each seed switches
 * fault classes on or off and picks their rates, so a sweep covers many mixes rather than one
 * average. `overrides` pin any field, e.g. the node count from the command line.
 */
export function swarmOptions(seed: number, overrides: SimOverrides = {}): SimOptions {
  const prng = new Prng(seed).fork('options');
  const on = (p: number, rate: number): number => (prng.chance(p) ? rate : 0);
  const network: SimNetworkOptions = {
    delayMsMin: 1,
    delayMsMean: prng.pick([1, 2, 5, 10]),
    dropProbability: on(0.5, prng.pick([0.01, 0.05, 0.15])),
    duplicateProbability: on(0.4, prng.pick([0.01, 0.05, 0.1])),
    reorderProbability: on(0.4, prng.pick([0.02, 0.1])),
    reorderDelayMsMax: 30,
  };
  const faults: FaultOptions = {
    nemesisIntervalMsMin: 40,
    nemesisIntervalMsMax: prng.pick([120, 250]),
    crash: on(0.6, prng.pick([0.1, 0.25])),
    tornWriteCrash: on(0.4, 0.1),
    crashAll: on(0.2, 0.03),
    partition: on(0.6, prng.pick([0.1, 0.25])),
    pause: on(0.4, 0.15),
    membership: on(0.5, prng.pick([0.15, 0.3])),
    transferLeader: on(0.4, 0.1),
    leaderCuts: 0,
    faultMsMin: 30,
    faultMsMax: prng.pick([200, 500]),
  };
  const base: SimOptions = {
    seed,
    nodes: prng.chance(0.7) ? 3 : 5,
    durationMs: 1500,
    crashAllAtHeal: false,
    livenessMs: 4000,
    tickMs: 10,
    tickSkewMs: 0,
    electionTick: 10,
    heartbeatTick: 1,
    preVote: prng.chance(0.8),
    checkQuorum: prng.chance(0.8),
    maxSizePerMsg: prng.pick([256, 4096]),
    maxInflightMsgs: prng.pick([4, 64]),
    diskMsMax: prng.pick([0, 2, 5]),
    network,
    reportLoss: true,
    faults,
    clients: prng.intBetween(2, 4),
    keys: prng.intBetween(1, 3),
    readIndexRatio: prng.pick([0, 0.5]),
    clientTimeoutMs: 250,
    snapshotEveryEntries: prng.pick([10, 30, 100]),
    compactionKeepEntries: prng.pick([0, 5]),
    checks: {},
    bugs: {},
  };
  // Drawn last so that adding it kept every earlier choice of existing seeds.
  const reportLoss = prng.chance(0.5);
  const tickSkewMs = prng.pick([0, 1, 2]);
  const crashAllAtHeal = prng.chance(0.3);
  const leaderCuts = overrides.faults?.leaderCuts ?? (prng.chance(0.25) ? prng.pick([0.5, 1]) : 0);
  return {
    ...base,
    reportLoss,
    tickSkewMs,
    crashAllAtHeal,
    // Figure 8's window needs an old entry acknowledged one append ahead of the new term's.
    maxSizePerMsg: leaderCuts > 0 ? 1 : base.maxSizePerMsg,
    ...overrides,
    network: {...network, ...overrides.network},
    // Random partitions would heal the cuts between the links of Figure 8's chain.
    faults: {...faults, ...(leaderCuts > 0 ? {partition: 0} : {}), ...overrides.faults, leaderCuts},
  };
}
