import type {InjectedBug} from '@synod/server';

import {Prng} from '../prng.js';
import type {SimNetworkOptions} from '../sim-network.js';

/** Everything a run of real members depends on: the same options replay the same run. */
export interface MemberSimOptions {
  readonly seed: number;
  readonly members: number;
  /** Virtual time of the fault phase, with clients running. */
  readonly faultMs: number;
  readonly clients: number;
  /** Keys the clients share: few, so operations contend. */
  readonly keys: number;
  /** Chance, per fault slot of {@link slotMs}, of each fault. */
  readonly crashProbability: number;
  readonly crashAllProbability: number;
  readonly partitionProbability: number;
  /** How a crash damages unsynced writes. */
  readonly tear: 'none' | 'sector' | 'byte';
  readonly slotMs: number;
  readonly network: SimNetworkOptions;
  readonly snapshotCount: number;
  readonly snapshotCatchUpEntries: number;
  readonly backendBatchIntervalMs: number;
  readonly bugs: readonly InjectedBug[];
  /**
   * Chance that a new leader is cut off right after one of its first appends (the
   * {@link LeaderIsolationNemesis}, aimed at Raft's Figure 8); 0 when that fault is off.
   */
  readonly leaderCutProbability: number;
  /** Raft's byte limit of one append (etcd's 1 MiB, or 1: one entry per append). */
  readonly maxSizePerMsg: number;
}

/** What a caller may pin instead of letting the seed choose. */
export interface MemberSimOverrides {
  readonly members?: number;
  readonly faultMs?: number;
  readonly crash?: boolean;
  readonly crashAll?: boolean;
  readonly partition?: boolean;
  readonly networkFaults?: boolean;
  readonly bugs?: readonly InjectedBug[];
  /** Pins the chance of a crash per slot (a crash-heavy sweep hunts ordering bugs faster). */
  readonly crashProbability?: number;
  readonly backendBatchIntervalMs?: number;
  /** Switches the leader-cutting nemesis on (at this chance per term) or off (0). */
  readonly leaderCutProbability?: number;
}

/**
 * The options seed `seed` picks (swarm testing: each seed switches faults on and off and sets
 * their rates, so a sweep covers quiet runs and storms alike), with `overrides` applied.
 */
export function memberSwarmOptions(
  seed: number,
  overrides: MemberSimOverrides = {},
): MemberSimOptions {
  const p = new Prng(seed).fork('member-options');
  const late = new Prng(seed).fork('member-options-2');
  const networkFaults = overrides.networkFaults ?? true;
  const on = (flag: boolean | undefined, chance: number): boolean =>
    (flag ?? true) && p.chance(chance);
  return {
    seed,
    members: overrides.members ?? (p.chance(0.75) ? 3 : 5),
    faultMs: overrides.faultMs ?? 3000,
    clients: p.intBetween(2, 4),
    keys: p.intBetween(1, 4),
    crashProbability:
      overrides.crashProbability ?? (on(overrides.crash, 0.8) ? p.pick([0.01, 0.03, 0.1]) : 0),
    crashAllProbability: on(overrides.crashAll, 0.5) ? p.pick([0.005, 0.02]) : 0,
    partitionProbability: on(overrides.partition, 0.6) ? p.pick([0.02, 0.05]) : 0,
    tear: p.pick(['none', 'sector', 'byte'] as const),
    slotMs: 50,
    network: {
      delayMsMin: 1,
      delayMsMean: p.pick([1, 3, 10]),
      dropProbability: networkFaults ? p.pick([0, 0, 0.01, 0.05]) : 0,
      duplicateProbability: networkFaults ? p.pick([0, 0.01]) : 0,
      reorderProbability: networkFaults ? p.pick([0, 0.02, 0.1]) : 0,
      reorderDelayMsMax: 20,
    },
    snapshotCount: p.pick([8, 20, 50]),
    snapshotCatchUpEntries: p.pick([2, 5, 20]),
    backendBatchIntervalMs: overrides.backendBatchIntervalMs ?? p.pick([10, 50, 200]),
    bugs: overrides.bugs ?? [],
    // From a stream of their own, so that every choice above is what it was before they came.
    ...leaderCuts(late, overrides),
  };
}

/**
 * One seed in four cuts leaders off early in their terms, with appends of one entry each: the
 * window of Raft's Figure 8 (see {@link LeaderIsolationNemesis}), instead of random partitions,
 * which would heal its cuts. Longer faults give the chain of four elections it needs time to
 * happen, at 500 ms election timeouts.
 */
function leaderCuts(
  p: Prng,
  overrides: MemberSimOverrides,
): {
  leaderCutProbability: number;
  maxSizePerMsg: number;
  faultMs?: number;
  partitionProbability?: number;
} {
  const probability = overrides.leaderCutProbability ?? (p.chance(0.25) ? p.pick([0.5, 1]) : 0);
  if (probability === 0) return {leaderCutProbability: 0, maxSizePerMsg: defaultMaxSizePerMsg};
  return {
    leaderCutProbability: probability,
    maxSizePerMsg: 1,
    faultMs: overrides.faultMs ?? 6000,
    // Random partitions would heal the cuts between the links of the chain.
    partitionProbability: 0,
  };
}

/** etcd's limit of one append's entries, which the member uses in production. */
const defaultMaxSizePerMsg = 1024 * 1024;
