import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {createClient} from './etcd.js';
import {UnavailableError} from './errors.js';

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Failover across a member crash: $name',
  ({start}) => {
    let cluster: EtcdCluster;
    let follower: EtcdMember;
    let others: EtcdMember[];

    beforeAll(async () => {
      cluster = await start({members: 3});
      const probe = createClient({endpoints: cluster.endpoints});
      const statuses = await Promise.all(
        cluster.members.map(m => probe.maintenance.status({endpoint: m.clientUrl})),
      );
      probe.close();
      follower = cluster.members[statuses.findIndex(s => s.leader !== s.header?.memberId)]!;
      others = cluster.members.filter(m => m !== follower);
    });
    afterAll(async () => {
      await cluster.stop();
    });

    const endpoints = (): string[] => [follower.clientUrl, ...others.map(m => m.clientUrl)];

    it('keeps reading after the connected member is killed', async () => {
      const client = createClient({endpoints: endpoints()});
      try {
        await client.kv.put('f/k', 'v');
        expect(await client.kv.getString('f/k')).toBe('v');
        expect(client.currentEndpoint).toBe(follower.clientUrl);
        await follower.kill('SIGKILL');
        expect(await client.kv.getString('f/k')).toBe('v');
        expect(await client.kv.getString('f/k', {serializable: true})).toBe('v');
        expect(client.currentEndpoint).not.toBe(follower.clientUrl);
        const status = await client.maintenance.status();
        expect(status.version).toMatch(/^3\./);
        expect((await client.cluster.memberList()).members).toHaveLength(3);
      } finally {
        client.close();
        await follower.restart();
      }
    });

    it('surfaces a failed put instead of retrying it, and retries it when told to', async () => {
      const client = createClient({endpoints: endpoints()});
      try {
        await client.kv.get('f/warm');
        expect(client.currentEndpoint).toBe(follower.clientUrl);
        await follower.kill('SIGKILL');
        const error = await client.kv.put('f/once', '1').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        // The failure moved the client off the dead member: the next call goes elsewhere.
        expect(client.currentEndpoint).not.toBe(follower.clientUrl);
        await follower.restart();
        await follower.kill('SIGKILL');
        const retried = createClient({endpoints: endpoints()});
        try {
          const put = await retried.kv.put('f/twice', '2', {retry: true});
          expect(put.header.revision).toBeGreaterThan(0n);
          expect(await retried.kv.getString('f/twice')).toBe('2');
        } finally {
          retried.close();
        }
      } finally {
        client.close();
      }
    });

    it('moves leadership to the member it is asked to', async () => {
      if (!follower.running) await follower.restart();
      const client = createClient({endpoints: cluster.endpoints});
      try {
        const target = await client.maintenance.status({endpoint: follower.clientUrl});
        const targetId = target.header?.memberId ?? 0n;
        expect(target.leader).not.toBe(targetId);
        await client.maintenance.moveLeader(targetId);
        const after = await client.maintenance.status({endpoint: follower.clientUrl});
        expect(after.leader).toBe(targetId);
      } finally {
        client.close();
      }
    });
  },
);
