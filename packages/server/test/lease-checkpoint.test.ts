import {afterEach, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import type {InProcessCluster} from './support/in-process-cluster.js';
import {startInProcessCluster} from './support/in-process-cluster.js';

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(r => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Hands leadership to another member and returns the new leader. */
async function moveLeadership(cluster: InProcessCluster, from: Member): Promise<Member> {
  const target = cluster.members.find(m => m !== undefined && m !== from);
  if (target === undefined) throw new Error('no other member');
  await from.core.transferLeadership(target.memberId);
  return target;
}

/**
 * Leases across a change of leader, with checkpoints every 300 ms: the new
 * leader resumes each lease from its recorded remaining TTL, so a lease nobody
 * renews still expires about on time, and a lease renewed just before the
 * change is not cut short by a checkpoint the renewal made stale.
 */
describe('lease checkpoints across leader changes', () => {
  let cluster: InProcessCluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('does not let a leader change extend a lease nobody renews', async () => {
    cluster = await startInProcessCluster(3, {leaseCheckpointIntervalMs: 300});
    const leader = await cluster.leader();
    const start = Date.now();
    const granted = await leader.core.propose({$case: 'leaseGrant', value: {ID: 77n, TTL: 6n}});
    expect(granted.ok).toBe(true);
    await sleep(4000);
    const next = await moveLeadership(cluster, leader);
    // Restarting the clock would keep the lease until about 4 + 6 = 10 s.
    await waitUntil(() => !next.core.lessor.exists(77n), 9000 - (Date.now() - start));
    expect(Date.now() - start).toBeGreaterThanOrEqual(5500);
  }, 20_000);

  it('does not let a stale checkpoint cut short a lease renewed before the change', async () => {
    cluster = await startInProcessCluster(3, {leaseCheckpointIntervalMs: 300});
    const leader = await cluster.leader();
    expect((await leader.core.propose({$case: 'leaseGrant', value: {ID: 78n, TTL: 6n}})).ok).toBe(
      true,
    );
    await sleep(4000);
    expect(leader.core.lessor.hasCheckpoint(78n)).toBe(true);
    const renewedAt = Date.now();
    expect(leader.core.renewLease(78n)).toBe(6);
    await waitUntil(() => !leader.core.lessor.hasCheckpoint(78n), 2000);
    const next = await moveLeadership(cluster, leader);
    // The stale checkpoint (about 2 s) would have it revoked about 2.5 s after the renewal.
    await sleep(Math.max(0, 4500 - (Date.now() - renewedAt)));
    expect(next.core.lessor.exists(78n)).toBe(true);
    await waitUntil(() => !next.core.lessor.exists(78n), 4000);
  }, 20_000);
});
