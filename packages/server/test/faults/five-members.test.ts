import {sleep, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';

import {faultRuns, runName} from './support/fault-runs.js';
import {FaultLoad} from './support/fault-load.js';
import {othersThan, waitForLeader} from './support/member-status.js';

/**
 * A five-member Synod cluster of real processes tolerates two failures and no more: with
 * two members killed it keeps serving; with a third gone no write is acknowledged, and the
 * errors say why (no leader, timeout); when one member returns it serves again, and after
 * all return every promise of {@link FaultLoad} holds.
 */

const heartbeatIntervalMs = 50;
const electionTimeoutMs = 500;
const runs = faultRuns();

let cluster: EtcdCluster;
let scenario = 0;

beforeAll(async () => {
  cluster = await startSynod({members: 5, heartbeatIntervalMs, electionTimeoutMs});
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

beforeEach(async () => {
  for (const member of cluster.members) {
    if (member.running) await member.kill('SIGCONT');
    else await member.restart();
  }
  await waitForLeader(cluster.members);
}, 60_000);

function indexOf(member: EtcdMember): number {
  return cluster.members.indexOf(member);
}

/** What a client may be told when the cluster has no quorum. */
const noQuorumError = /no leader|timed out|deadline/i;

describe('a five-member Synod cluster losing members to SIGKILL', () => {
  for (const run of runs) {
    it(
      runName(
        'serves with two members killed, acknowledges no write with three, and recovers when one returns',
        run,
        runs.length,
      ),
      async () => {
        const leader = await waitForLeader(cluster.members);
        const [second, third] = othersThan(cluster, leader);
        scenario++;
        const load = await FaultLoad.start(cluster, {
          prefix: `lose-three-${scenario}`,
          watcherMember: indexOf(leader),
        });
        await load.writes.waitForMoreAcks(20, 5000);

        // Two of five down, the leader among them: a quorum of three remains.
        await Promise.all([leader.kill('SIGKILL'), second!.kill('SIGKILL')]);
        const lostTwoAtMs = performance.now();
        await waitForLeader(othersThan(cluster, leader, second!));
        await load.writes.waitForMoreAcks(20, 5000);
        expect(load.writes.ackedSince(lostTwoAtMs).length).toBeGreaterThan(0);

        // Three of five down: nothing called from now on may be acknowledged.
        await third!.kill('SIGKILL');
        const lostThreeAtMs = performance.now();
        await sleep(4 * electionTimeoutMs);
        // The writers pinned to the two members still up are told there is no quorum.
        const alive = othersThan(cluster, leader, second!, third!).map(m => m.clientUrl);
        const failures = load.writes.failed.filter(
          f => f.callMs >= lostThreeAtMs && f.pinnedTo !== undefined && alive.includes(f.pinnedTo),
        );
        expect(failures.length).toBeGreaterThan(0);
        const unexplained = failures.filter(f => !noQuorumError.test(f.message));
        expect(unexplained.map(f => f.message)).toEqual([]);

        // Until the third member's process is started again, no quorum can exist.
        const restartingAtMs = performance.now();
        await third!.restart();
        await load.writes.waitForMoreAcks(20, 10_000);
        const ackedWithoutQuorum = load.writes
          .ackedSince(lostThreeAtMs)
          .filter(p => p.ackMs < restartingAtMs);
        expect(ackedWithoutQuorum.map(p => p.key)).toEqual([]);
        const putsWithoutQuorum = load.history.history.filter(
          op =>
            op.input.kind === 'put' &&
            op.output !== undefined &&
            op.callMs >= lostThreeAtMs &&
            op.returnMs < restartingAtMs,
        );
        expect(putsWithoutQuorum).toEqual([]);

        await Promise.all([leader.restart(), second!.restart()]);
        await load.writes.waitForMoreAcks(10, 5000);
        const summary = await load.stopAndVerify();
        expect(summary.watchReconnects).toBeGreaterThan(0);
      },
      90_000,
    );
  }
});
