import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdSkipReason, freePorts, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {createClient} from './etcd.js';
import type {Etcd} from './etcd.js';
import {EtcdError} from './errors.js';

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Cluster and maintenance against $name',
  ({start}) => {
    let cluster: EtcdCluster;
    let client: Etcd;

    beforeAll(async () => {
      cluster = await start();
      client = createClient({endpoints: cluster.endpoints});
    });
    afterAll(async () => {
      client.close();
      await cluster.stop();
    });

    it('lists, adds, updates, refuses to promote and removes a learner', async () => {
      const before = await client.cluster.memberList();
      expect(before.members).toHaveLength(1);
      expect(before.members[0]?.clientURLs).toEqual([cluster.endpoints[0]]);
      const [port, otherPort] = await freePorts(2);
      const added = await client.cluster.memberAdd([`http://127.0.0.1:${port}`], {isLearner: true});
      const learner = added.member;
      expect(learner?.isLearner).toBe(true);
      expect(added.members).toHaveLength(2);
      const id = learner?.ID ?? 0n;
      const updated = await client.cluster.memberUpdate(id, [`http://127.0.0.1:${otherPort}`]);
      expect(updated.members.find(m => m.ID === id)?.peerURLs).toEqual([
        `http://127.0.0.1:${otherPort}`,
      ]);
      // A learner that never started cannot have caught up with the leader.
      const refused = await client.cluster.memberPromote(id).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EtcdError);
      expect((refused as EtcdError).etcdName).toBe('learnerNotReady');
      const removed = await client.cluster.memberRemove(id);
      expect(removed.members).toHaveLength(1);
      await expect(client.cluster.memberRemove(id)).rejects.toMatchObject({
        etcdName: 'memberNotFound',
      });
    });

    it('reports status, alarms and hashes, defragments and streams a snapshot', async () => {
      await client.kv.put('maint/k', 'v');
      const status = await client.maintenance.status({endpoint: cluster.endpoints[0]});
      expect(status.version).toMatch(/^3\./);
      expect(status.leader).toBe(status.header?.memberId);
      expect(status.dbSize).toBeGreaterThan(0n);
      expect(await client.maintenance.alarms()).toEqual([]);
      const hash = await client.maintenance.hash();
      expect(hash.hash).toBeGreaterThan(0);
      const first = await client.maintenance.hashKV();
      const again = await client.maintenance.hashKV(first.header.revision);
      expect(again.hash).toBe(first.hash);
      await client.kv.put('maint/k', 'changed');
      expect((await client.maintenance.hashKV()).hash).not.toBe(first.hash);
      await client.maintenance.defragment();
      const chunks: Buffer[] = [];
      for await (const chunk of client.maintenance.snapshot()) chunks.push(chunk);
      const size = chunks.reduce((sum, c) => sum + c.length, 0);
      // A backend image of 4 KiB pages (bbolt's for etcd, LMDB's for Synod) and its SHA-256.
      expect(size % 512).toBe(32);
      expect(size).toBeGreaterThan(4096);
    });

    it('rejects an endpoint it was not created with', async () => {
      await expect(client.maintenance.status({endpoint: 'http://127.0.0.1:1'})).rejects.toThrow(
        /unknown endpoint/,
      );
    });
  },
);
