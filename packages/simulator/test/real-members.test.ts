import {describe, expect, it} from 'vitest';

import {describeMemberFailure, memberSwarmOptions, runMemberSimulation} from '../src/index.js';
import type {MemberSimResult} from '../src/index.js';

/**
 * The shipped member code (MemberCore, RaftLoop, Applier, WAL on a crashing file system, the
 * LMDB backend, snapshots) as a cluster under virtual time: a few seeds must pass every check
 * and, between them, really crash members, cut the network and send snapshots; the same seed
 * must replay the same run.
 */
describe('a cluster of real members under the simulator', () => {
  const results: MemberSimResult[] = [];

  for (const seed of [1, 4, 10]) {
    it(`seed ${seed} passes every check`, async () => {
      const result = await runMemberSimulation(memberSwarmOptions(seed));
      results.push(result);
      if (result.failure !== undefined) throw new Error(describeMemberFailure(result));
      expect(result.linearizability).toBe('ok');
    }, 60_000);
  }

  it('the seeds crashed members, cut the network, sent snapshots and answered clients', () => {
    const total = (f: (r: MemberSimResult) => number): number =>
      results.reduce((s, r) => s + f(r), 0);
    expect(results).toHaveLength(3);
    expect(total(r => r.stats.crashes)).toBeGreaterThan(0);
    expect(total(r => r.stats.crashAlls)).toBeGreaterThan(0);
    expect(total(r => r.stats.partitions)).toBeGreaterThan(0);
    expect(total(r => r.stats.snapshotsSent)).toBeGreaterThan(0);
    expect(total(r => r.stats.opsAcked)).toBeGreaterThan(30);
  });

  it('replays a seed exactly: the same trace and the same history', async () => {
    const options = memberSwarmOptions(1);
    const first = await runMemberSimulation(options);
    const second = await runMemberSimulation(options);
    expect(first.trace.length).toBeGreaterThan(20);
    expect(second.trace).toEqual(first.trace);
    expect(second.history).toEqual(first.history);
  }, 60_000);
});
