import {netnsSkipReason, sleep, startSynodInNetns} from '@synod/testing';
import type {EtcdMember, NetnsCluster} from '@synod/testing';
import {afterEach, describe, expect, it} from 'vitest';

import {faultRuns, runName} from './support/fault-runs.js';
import {FaultLoad} from './support/fault-load.js';
import {waitForLeader} from './support/member-status.js';

/**
 * Network partitions between real Synod members, each in a network namespace of
 * its own, cut with iptables: the leader isolated, a minority split from a
 * majority, and raft traffic cut in one direction only. Each scenario runs the
 * fault load and ends with its checks: no acknowledged write lost, a
 * linearizable history, equal HashKV everywhere, a gap-free resumed watch, and
 * leases that neither die nor expire early.
 */

const heartbeatIntervalMs = 50;
const electionTimeoutMs = 500;
const runs = faultRuns();

let cluster: NetnsCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(members: number): Promise<NetnsCluster> {
  cluster = await startSynodInNetns({members, heartbeatIntervalMs, electionTimeoutMs});
  return cluster;
}

function others(c: NetnsCluster, ...excluded: EtcdMember[]): EtcdMember[] {
  return c.members.filter(m => !excluded.includes(m));
}

describe.skipIf(netnsSkipReason !== undefined)('Synod members split by the network', () => {
  for (const run of runs) {
    it(
      runName(
        'elects a new leader when the leader is cut off, and the old one rejoins as a follower',
        run,
        runs.length,
      ),
      async () => {
        const c = await start(3);
        const leader = await waitForLeader(c.members);
        const load = await FaultLoad.start(c, {
          prefix: `isolate-${run}`,
          watcherMember: c.members.indexOf(leader),
        });
        await load.writes.waitForMoreAcks(20, 5000);

        c.isolate(c.members.indexOf(leader));
        const cutAtMs = performance.now();
        const next = await waitForLeader(others(c, leader));
        expect(next).not.toBe(leader);
        await load.writes.waitForMoreAcks(20, 10_000);
        expect(load.writes.ackedSince(cutAtMs).length).toBeGreaterThan(0);
        // Long enough for the cut-off leader to notice it lost its quorum.
        await sleep(Math.max(0, cutAtMs + 4 * electionTimeoutMs - performance.now()));

        c.heal();
        await waitForLeader(c.members, 30_000);
        await load.writes.waitForMoreAcks(20, 10_000);
        await load.stopAndVerify();
      },
      120_000,
    );

    it(
      runName(
        'keeps the majority of five serving while a minority with the leader is split off',
        run,
        runs.length,
      ),
      async () => {
        const c = await start(5);
        const leader = await waitForLeader(c.members);
        const follower = others(c, leader)[0];
        if (follower === undefined) throw new Error('no follower');
        const minority = [leader, follower];
        const majority = others(c, ...minority);
        const load = await FaultLoad.start(c, {
          prefix: `split-${run}`,
          watcherMember: c.members.indexOf(leader),
        });
        await load.writes.waitForMoreAcks(20, 5000);

        for (const a of minority) {
          for (const b of majority) c.cut(c.members.indexOf(a), c.members.indexOf(b));
        }
        const cutAtMs = performance.now();
        await waitForLeader(majority);
        await load.writes.waitForMoreAcks(20, 10_000);
        expect(load.writes.ackedSince(cutAtMs).length).toBeGreaterThan(0);
        await sleep(Math.max(0, cutAtMs + 4 * electionTimeoutMs - performance.now()));

        c.heal();
        await waitForLeader(c.members, 30_000);
        await load.writes.waitForMoreAcks(20, 10_000);
        await load.stopAndVerify();
      },
      120_000,
    );

    it(
      runName(
        'stays available and safe when the leader can no longer send to one follower',
        run,
        runs.length,
      ),
      async () => {
        const c = await start(3);
        const leader = await waitForLeader(c.members);
        const follower = others(c, leader)[0];
        if (follower === undefined) throw new Error('no follower');
        const load = await FaultLoad.start(c, {
          prefix: `one-way-${run}`,
          watcherMember: c.members.indexOf(follower),
        });
        await load.writes.waitForMoreAcks(20, 5000);

        // The follower hears nothing from the leader but can still reach it and the other
        // follower: its election attempts must not disturb a leader the others still follow.
        c.cutOneWay(c.members.indexOf(leader), c.members.indexOf(follower));
        const cutAtMs = performance.now();
        await sleep(6 * electionTimeoutMs);
        await load.writes.waitForMoreAcks(20, 10_000);
        expect(load.writes.ackedSince(cutAtMs).length).toBeGreaterThan(0);

        c.heal();
        await waitForLeader(c.members, 30_000);
        await load.writes.waitForMoreAcks(20, 10_000);
        await load.stopAndVerify();
      },
      120_000,
    );
  }
});
