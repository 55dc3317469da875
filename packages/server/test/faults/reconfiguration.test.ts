import {rmSync} from 'node:fs';

import {createClient} from '@synod/client';
import {startSynod, waitFor} from '@synod/testing';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {afterEach, describe, expect, it} from 'vitest';

import {faultRuns, runName} from './support/fault-runs.js';
import {FaultLoad} from './support/fault-load.js';
import {othersThan, waitForLeader} from './support/member-status.js';

/**
 * Membership changes while the cluster serves a write load: a member is removed,
 * its data wiped, and a new member added back as a learner, caught up and
 * promoted. The load's checks hold across the change: nothing acknowledged is
 * lost, the history is linearizable, every member (the new one too) ends with
 * the same HashKV, and the watch and leases keep their promises.
 */

const heartbeatIntervalMs = 50;
const electionTimeoutMs = 500;
const runs = faultRuns();

let cluster: EtcdCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** `cluster` without the members that have left it, for the load's final checks. */
function currentMembers(c: EtcdCluster, gone: ReadonlySet<EtcdMember>): EtcdCluster {
  return {
    get members() {
      return c.members.filter(m => !gone.has(m));
    },
    get endpoints() {
      return c.members.filter(m => !gone.has(m)).map(m => m.clientUrl);
    },
    get pids() {
      return c.pids;
    },
    stop: () => c.stop(),
    newMemberSpec: name => c.newMemberSpec(name),
    startAdded: (spec, initialCluster) => c.startAdded(spec, initialCluster),
  };
}

describe('a Synod cluster changing members under load', () => {
  for (const run of runs) {
    it(
      runName(
        'replaces a member: remove it, wipe it, add a new one as a learner, promote it',
        run,
        runs.length,
      ),
      async () => {
        const c = await startSynod({members: 3, heartbeatIntervalMs, electionTimeoutMs});
        cluster = c;
        const gone = new Set<EtcdMember>();
        const view = currentMembers(c, gone);
        const leader = await waitForLeader(c.members);
        const victim = othersThan(c, leader)[0];
        if (victim === undefined) throw new Error('no follower');
        const load = await FaultLoad.start(view, {
          prefix: `replace-${run}`,
          watcherMember: c.members.indexOf(victim),
        });
        const admin = createClient({endpoints: [leader.clientUrl], defaultTimeoutMs: 10_000});
        try {
          await load.writes.waitForMoreAcks(20, 5000);
          const listed = await admin.cluster.memberList();
          const victimId = listed.members.find(m => m.name === victim.name)?.ID;
          if (victimId === undefined) throw new Error('victim not listed');

          const exited = victim.exited();
          await admin.cluster.memberRemove(victimId);
          await exited;
          gone.add(victim);
          rmSync(victim.dataDir, {recursive: true, force: true});
          await load.writes.waitForMoreAcks(20, 5000);

          const spec = await c.newMemberSpec(`new-${run}`);
          const added = await admin.cluster.memberAdd([spec.peerUrl], {isLearner: true});
          const newId = added.member?.ID;
          if (newId === undefined) throw new Error('no id for the added member');
          const initialCluster = [
            ...added.members
              .filter(m => m.ID !== newId)
              .map(m => `${m.name}=${m.peerURLs[0] ?? ''}`),
            `${spec.name}=${spec.peerUrl}`,
          ].join(',');
          await c.startAdded(spec, initialCluster);
          await load.writes.waitForMoreAcks(20, 5000);

          // Promotion is refused until the learner has caught up: retry, as an operator would.
          await waitFor(
            async () => {
              try {
                await admin.cluster.memberPromote(newId);
                return true;
              } catch {
                return false;
              }
            },
            15_000,
            'the learner promoted',
          );
          const after = await admin.cluster.memberList();
          expect(after.members).toHaveLength(3);
          expect(after.members.every(m => !m.isLearner)).toBe(true);
          expect(after.members.map(m => m.ID)).not.toContain(victimId);
          await load.writes.waitForMoreAcks(20, 5000);
          await load.stopAndVerify();
        } finally {
          admin.close();
        }
      },
      120_000,
    );
  }
});
