import {
  CreateMode,
  EventType,
  ZooKeeperClient,
  etcdSkipReason,
  freePorts,
  readMetric,
  startSynod,
} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {waitForLeader} from './faults/support/member-status.js';

/**
 * A follower that falls so far behind that it catches up from a snapshot of the leader's store
 * opens a new store: the watches its ZooKeeper clients set cannot fire for the changes the
 * snapshot carries. So it ends their connections, as a ZooKeeper follower that resyncs with its
 * leader drops its clients; a client then resumes its session and sets its watches again with
 * the last zxid it saw, and hears at once what changed.
 */
describe.skipIf(etcdSkipReason !== undefined)(
  'ZooKeeper clients of a follower that catches up from a snapshot',
  () => {
    let cluster: EtcdCluster;
    let zkPorts: number[];

    beforeAll(async () => {
      zkPorts = await freePorts(3);
      cluster = await startSynod({
        members: 3,
        // Raft snapshots every 40 entries, keeping 10: a follower stopped for 600 writes
        // comes back too far behind for the log.
        extraArgs: ['--snapshot-count=40', '--experimental-snapshot-catchup-entries=10'],
        memberArgs: name => [
          `--listen-zk-urls=http://127.0.0.1:${zkPorts[Number(name.slice(1))] ?? 0}`,
        ],
      });
    }, 60_000);

    afterAll(async () => {
      await cluster.stop();
    });

    it('are disconnected, and hear what changed when they set their watches again', async () => {
      const leader = await waitForLeader(cluster.members);
      const follower = cluster.members.find(m => m !== leader);
      if (follower === undefined) throw new Error('no follower');
      const portOf = (m: typeof leader) => zkPorts[cluster.members.indexOf(m)] ?? 0;
      const writer = await ZooKeeperClient.connect({host: '127.0.0.1', port: portOf(leader)});
      const watcher = await ZooKeeperClient.connect({
        host: '127.0.0.1',
        port: portOf(follower),
        sessionTimeoutMs: 40_000,
      });
      try {
        expect(await writer.create('/w', 'x')).toMatchObject({err: 0});
        expect(await writer.create('/e', '', CreateMode.ephemeral)).toMatchObject({err: 0});
        await watcher.sync('/w');
        const watched = await watcher.exists('/w', true);
        expect(watched).toMatchObject({err: 0});

        await follower.kill('SIGSTOP');
        try {
          expect(await writer.delete('/w')).toMatchObject({err: 0});
          // More than the 512 messages the leader keeps in flight to a silent follower, so the
          // entries it has not sent get compacted away.
          const value = 'v'.repeat(1024);
          for (let i = 0; i < 600; i++) {
            expect(await writer.setData('/e', value)).toMatchObject({err: 0});
          }
        } finally {
          await follower.kill('SIGCONT');
        }

        // Before, the connection stayed open and the watch on /w never fired.
        expect(await watcher.closedWithin(20_000)).toBe(true);
        expect(await readMetric(follower.clientUrl, 'synod_server_snapshots_installed_total')).toBe(
          1,
        );
        const {sessionId, password} = watcher.session;
        const resumed = await ZooKeeperClient.connect({
          host: '127.0.0.1',
          port: portOf(follower),
          sessionId,
          password,
          keepAlive: false,
        });
        try {
          expect(resumed.session.sessionId).toBe(sessionId);
          const zxid = watched.kind === 'reply' ? watched.zxid : 0n;
          expect(await resumed.setWatches(zxid, {data: ['/w']})).toMatchObject({err: 0});
          const events = await resumed.takeEvents(1, 5000, 0);
          expect(events.map(e => [e.type, e.path])).toEqual([[EventType.nodeDeleted, '/w']]);
        } finally {
          resumed.disconnect();
        }
      } finally {
        writer.disconnect();
        watcher.disconnect();
      }
    }, 90_000);
  },
);
