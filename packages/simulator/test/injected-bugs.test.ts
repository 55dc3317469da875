import {describe, expect, it} from 'vitest';
import {runSimulation, SimulationFailure, swarmOptions} from '../src/index.js';
import type {SimOverrides} from '../src/index.js';

/**
 * The checkers must catch what they claim. Each case injects a bug into the cluster driver
 * and counts which invariant fired over a few seeds.
 */
function failuresBy(seeds: number, overrides: SimOverrides): Map<string, number> {
  const counts = new Map<string, number>();
  for (let seed = 1; seed <= seeds; seed++) {
    const name = runSimulation(swarmOptions(seed, overrides)).failure?.invariant ?? 'pass';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('injected bugs are caught', () => {
  it('acknowledging a write before it commits breaks durability at once', () => {
    const counts = failuresBy(10, {bugs: {ackBeforeCommit: true}});
    expect(counts.get('durability')).toBe(10);
  });

  it('acknowledging before commit is also caught by the linearizability checker alone', () => {
    const counts = failuresBy(30, {bugs: {ackBeforeCommit: true}, checks: {durability: false}});
    expect(counts.get('linearizability') ?? 0).toBeGreaterThan(0);
    // Only the history check is left to notice a lost write; nothing else may fire.
    expect([...counts.keys()].every(k => k === 'linearizability' || k === 'pass')).toBe(true);
  });

  it('a disk that loses synced entries on crash is caught by the safety checkers', () => {
    const counts = failuresBy(60, {bugs: {loseSyncedTailOnCrash: true}});
    const bySimulatorCheckers = [
      'durability',
      'leader-completeness',
      'state-machine-safety',
    ].reduce((n, k) => n + (counts.get(k) ?? 0), 0);
    expect(bySimulatorCheckers).toBeGreaterThan(0);
  });

  it('reads served from local state without ReadIndex are caught as stale reads', () => {
    const counts = failuresBy(20, {bugs: {localReads: true}});
    expect(counts.get('linearizability') ?? 0).toBeGreaterThan(0);
    expect([...counts.keys()].every(k => k === 'linearizability' || k === 'pass')).toBe(true);
  });

  it("committing an earlier term's entry by counting replicas (Figure 8) is caught when leaders are cut off early", () => {
    // Every leader is cut off as one of its first own-term appends leaves; seeds 9, 11 and 20
    // lose a committed entry (the default swarm, with this in a quarter of its seeds, first
    // fails at seed 146).
    const counts = failuresBy(20, {
      bugs: {commitEarlierTermByCount: true},
      faults: {leaderCuts: 1},
    });
    const caught = ['leader-completeness', 'state-machine-safety', 'durability'].reduce(
      (n, k) => n + (counts.get(k) ?? 0),
      0,
    );
    expect(caught).toBeGreaterThan(0);
    expect(failuresBy(20, {faults: {leaderCuts: 1}}).get('pass')).toBe(20);
  });

  it('without injected bugs the same seeds pass', () => {
    const counts = failuresBy(10, {});
    expect(counts.get('pass')).toBe(10);
  });
});

describe('determinism', () => {
  it('replays a seed bit for bit', () => {
    const a = runSimulation(swarmOptions(123));
    const b = runSimulation(swarmOptions(123));
    expect(b.events).toBe(a.events);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
    expect(b.historyOps).toBe(a.historyOps);
  });
});

describe('regressions found by the simulator', () => {
  // With silent message loss (no reportUnreachable from the transport), a follower in
  // replicate state whose in-flight MsgApps were all lost stayed paused forever: the inflight
  // window never freed and heartbeat responses did not resume sending, so no write committed
  // after the faults healed. Fixed in the core by freeing one inflight slot on a heartbeat
  // response; these seeds failed liveness before the fix.
  for (const seed of [74, 76, 117, 142, 177, 216, 222]) {
    it(`seed ${seed} with silent message loss recovers after the heal`, () => {
      // Without the leader cuts a later change drew for some seeds, to keep the scenario.
      const result = runSimulation(
        swarmOptions(seed, {reportLoss: false, faults: {leaderCuts: 0}}),
      );
      if (result.failure !== undefined) throw new SimulationFailure(result);
      expect(result.recoveryMs).toBeLessThan(result.options.livenessMs);
    });
  }
});
