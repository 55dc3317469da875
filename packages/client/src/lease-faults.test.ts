import {firstValueFrom} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {sleep, waitFor} from '@synod/testing';
import {createClient} from './etcd.js';
import {DeadlineExceededError} from './errors.js';
import type {LeaseLostError} from './lease-keeper.js';

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Lease when the only member stops: $name',
  ({start}) => {
    let cluster: EtcdCluster;

    beforeAll(async () => {
      cluster = await start();
    });
    afterAll(async () => {
      await cluster.stop();
    });

    it('emits lost$ once the TTL runs out without a renewal, and calls hit their deadline', async () => {
      const client = createClient({endpoints: cluster.endpoints});
      const member = cluster.members[0]!;
      try {
        const kept = await client.lease.grantKeptAlive(2);
        await sleep(300);
        const lost = firstValueFrom(kept.lost$);
        await member.kill('SIGSTOP');
        const stoppedAt = Date.now();
        await sleep(50); // let an answer already on its way land
        const expiresAtMs = kept.expiresAtMs;
        const error = await lost;
        const lostAt = Date.now();
        expect(error.reason).toBe('deadline');
        // The last confirmed renewal was sent before the stop, so the lease is lost within a
        // TTL of the stop, and as soon as its expiry passes (timers may run a little late).
        expect(expiresAtMs - stoppedAt).toBeLessThanOrEqual(2000);
        expect(lostAt).toBeGreaterThanOrEqual(expiresAtMs - 5);
        expect(lostAt - expiresAtMs).toBeLessThan(500);
        await expect(client.kv.get('x', {timeoutMs: 300})).rejects.toBeInstanceOf(
          DeadlineExceededError,
        );
      } finally {
        await member.kill('SIGCONT');
        client.close();
      }
    });
  },
);

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Lease across a leader crash: $name',
  ({start}) => {
    let cluster: EtcdCluster;

    beforeAll(async () => {
      cluster = await start({members: 3});
    });
    afterAll(async () => {
      await cluster.stop();
    });

    it('keeps the lease alive on another member when the connected one (the leader) dies', async () => {
      const probe = createClient({endpoints: cluster.endpoints});
      const statuses = await Promise.all(
        cluster.members.map(m => probe.maintenance.status({endpoint: m.clientUrl})),
      );
      probe.close();
      const leader = cluster.members[statuses.findIndex(s => s.leader === s.header?.memberId)]!;
      const others = cluster.members.filter(m => m !== leader);
      const client = createClient({endpoints: [leader.clientUrl, ...others.map(m => m.clientUrl)]});
      const observer = createClient({endpoints: others.map(m => m.clientUrl)});
      try {
        const kept = await client.lease.grantKeptAlive(3);
        let lost: LeaseLostError | undefined;
        kept.lost$.subscribe(e => (lost = e));
        await sleep(500);
        expect(client.currentEndpoint).toBe(leader.clientUrl);
        const killedAt = Date.now();
        await leader.kill('SIGKILL');
        // A renewal sent after the crash was confirmed by the surviving members...
        await waitFor(() => kept.expiresAtMs > killedAt + 3000, 4000, 'a renewal after the crash');
        // ...and renewals go on for longer than the TTL.
        await sleep(3500);
        expect(lost).toBeUndefined();
        expect(kept.expiresAtMs).toBeGreaterThan(Date.now());
        expect(client.currentEndpoint).not.toBe(leader.clientUrl);
        expect((await observer.lease.timeToLive(kept.id)).ttlSec).toBeGreaterThan(0);
      } finally {
        client.close();
        observer.close();
      }
    });
  },
);
