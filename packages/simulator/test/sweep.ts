import {expect, it} from 'vitest';
import {runSimulation, SimulationFailure, swarmOptions} from '../src/index.js';
import type {SimOverrides, SimResult} from '../src/index.js';

/**
 * defineSweep declares one test per seed (so a failure names its seed and replays with
 * `tools/sim.ts --seed N`), then a final test proving the runs really exercised every fault
 * class: a sweep that silently stopped injecting faults would otherwise still pass.
 */
export function defineSweep(seeds: readonly number[], overrides: SimOverrides = {}): void {
  const results: SimResult[] = [];
  for (const seed of seeds) {
    it(`seed ${seed}`, () => {
      const result = runSimulation(swarmOptions(seed, overrides));
      results.push(result);
      if (result.failure !== undefined) throw new SimulationFailure(result);
      expect(result.linearizability).toBe('ok');
      expect(result.recoveryMs).toBeDefined();
    });
  }
  it('exercised every fault class across its seeds', () => {
    const total = (f: (r: SimResult) => number): number => results.reduce((s, r) => s + f(r), 0);
    expect(results).toHaveLength(seeds.length);
    expect(total(r => r.stats.crashes)).toBeGreaterThan(0);
    expect(total(r => r.stats.tornWrites)).toBeGreaterThan(0);
    expect(total(r => r.stats.partitions)).toBeGreaterThan(0);
    expect(total(r => r.stats.pauses)).toBeGreaterThan(0);
    expect(total(r => r.stats.confChangesApplied)).toBeGreaterThan(0);
    expect(total(r => r.stats.transfers)).toBeGreaterThan(0);
    expect(total(r => r.stats.snapshotsInstalled)).toBeGreaterThan(0);
    expect(total(r => r.network.dropped)).toBeGreaterThan(0);
    expect(total(r => r.network.duplicated)).toBeGreaterThan(0);
    expect(total(r => r.network.reordered)).toBeGreaterThan(0);
    expect(total(r => r.stats.opsAcked)).toBeGreaterThan(seeds.length * 10);
    expect(total(r => r.stats.opsIndeterminate)).toBeGreaterThan(0);
  });
}

/** seedRange returns the seeds lo..hi inclusive. */
export function seedRange(lo: number, hi: number): number[] {
  return Array.from({length: hi - lo + 1}, (_, i) => lo + i);
}
