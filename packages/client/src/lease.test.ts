import {firstValueFrom} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readMetric} from '@synod/testing';
import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {sleep, waitFor} from '@synod/testing';
import {createClient} from './etcd.js';
import type {Etcd} from './etcd.js';
import {LeaseNotFoundError} from './errors.js';
import type {LeaseLostError} from './lease-keeper.js';

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Lease against one member: $name',
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

    it('grants, lists, reports time to live with keys, and revokes', async () => {
      const lease = await client.lease.grant(30);
      expect(lease.ttlSec).toBe(30);
      await client.namespace('lz/').kv.put('k', 'v', {lease: lease.id});
      expect(await client.lease.leases()).toContain(lease.id);
      const ttl = await client.lease.timeToLive(lease.id, {keys: true});
      expect(ttl.grantedTtlSec).toBe(30);
      expect(ttl.ttlSec).toBeGreaterThan(25);
      expect(ttl.keys.map(k => k.toString())).toEqual(['lz/k']);
      expect(
        (await client.namespace('lz/').lease.timeToLive(lease.id, {keys: true})).keys.map(String),
      ).toEqual(['k']);
      await client.lease.revoke(lease.id);
      expect(await client.kv.get('lz/k')).toBeUndefined();
      expect((await client.lease.timeToLive(lease.id)).ttlSec).toBe(-1);
      await expect(client.lease.keepAlive(lease.id)).rejects.toBeInstanceOf(LeaseNotFoundError);
    });

    it('keeps a 2 s lease alive for 6 s', async () => {
      const kept = await client.lease.grantKeptAlive(2);
      await client.kv.put('ka/k', 'v', {lease: kept.id});
      let lost: LeaseLostError | undefined;
      kept.lost$.subscribe(e => (lost = e));
      await sleep(6000);
      expect(lost).toBeUndefined();
      expect(kept.active).toBe(true);
      expect((await client.lease.timeToLive(kept.id)).ttlSec).toBeGreaterThan(0);
      expect(await client.kv.getString('ka/k')).toBe('v');
      expect(kept.expiresAtMs).toBeGreaterThan(Date.now());
      kept.release();
      expect(kept.active).toBe(false);
      await client.lease.revoke(kept.id);
    });

    it('emits lost$ with not-found when the lease is revoked behind its back', async () => {
      const kept = await client.lease.grantKeptAlive(3);
      const other = createClient({endpoints: cluster.endpoints});
      try {
        const lost = firstValueFrom(kept.lost$);
        await other.lease.revoke(kept.id);
        const error = await lost;
        expect(error.reason).toBe('not-found');
        expect(error.leaseId).toBe(kept.id);
        expect(kept.active).toBe(false);
      } finally {
        other.close();
      }
    });

    it('keeps every lease on one stream, closed when none is left', async () => {
      const url = cluster.endpoints[0]!;
      const keepAlive = 'grpc_method="LeaseKeepAlive"';
      const started = async (): Promise<number> =>
        (await readMetric(url, 'grpc_server_started_total', keepAlive)) ?? 0;
      const finished = async (): Promise<number> =>
        (await readMetric(url, 'grpc_server_handled_total', keepAlive)) ?? 0;
      const startedBefore = await started();
      const finishedBefore = await finished();
      const kept = await Promise.all([5, 6, 7].map(ttl => client.lease.grantKeptAlive(ttl)));
      await sleep(300);
      expect(await started()).toBe(startedBefore + 1);
      for (const lease of kept) lease.release();
      await waitFor(async () => (await finished()) === finishedBefore + 1);
      for (const lease of kept) await client.lease.revoke(lease.id);
    });
  },
);
