import {LeaseDefinition} from '@synod/proto';
import {Etcd3} from 'etcd3';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {InProcessCluster} from './support/in-process-cluster.js';
import {loggedMessages, startInProcessCluster} from './support/in-process-cluster.js';

describe('a three-member cluster in one process, used through the etcd3 npm client', () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await startInProcessCluster(3);
    await cluster.leader();
  });

  afterAll(async () => {
    await cluster.close();
  });

  function clientOf(i: number): Etcd3 {
    return new Etcd3({hosts: cluster.endpoints[i] ?? ''});
  }

  it('elects one leader that every member agrees on', async () => {
    const leader = await cluster.leader();
    await new Promise(r => setTimeout(r, 100));
    for (const m of cluster.members) expect(m?.core.leader).toBe(leader.memberId);
  });

  it('reads on every member what was written through any member', async () => {
    const clients = [0, 1, 2].map(clientOf);
    try {
      for (const [i, c] of clients.entries()) await c.put(`from/${i}`).value(`member ${i}`);
      for (const c of clients) {
        expect(await c.getAll().prefix('from/').strings()).toEqual({
          'from/0': 'member 0',
          'from/1': 'member 1',
          'from/2': 'member 2',
        });
      }
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('delivers a write made on one member to a watcher on another', async () => {
    const [writer, watcherClient] = [clientOf(0), clientOf(2)];
    try {
      const watcher = await watcherClient.watch().key('watched').create();
      const got = new Promise<string>(resolve => {
        watcher.on('put', kv => {
          resolve(kv.value.toString());
        });
      });
      await writer.put('watched').value('across members');
      expect(await got).toBe('across members');
      await watcher.cancel();
    } finally {
      writer.close();
      watcherClient.close();
    }
  });

  it('keeps a lease alive through a follower and lists every member', async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.findIndex(m => m !== undefined && m !== leader);
    const c = clientOf(follower);
    try {
      const lease = c.lease(2);
      await lease.put('kept').value('alive');
      await new Promise(r => setTimeout(r, 3000));
      expect(await c.get('kept').string()).toBe('alive');
      await lease.revoke();
      expect(await c.get('kept').string()).toBeNull();
      const list = await c.cluster.memberList({});
      expect(list.members.map(m => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    } finally {
      c.close();
    }
  });

  it('elects a new leader when the leader stops, and keeps every acknowledged write', async () => {
    const leader = await cluster.leader();
    const index = cluster.members.indexOf(leader);
    const survivors = [0, 1, 2].filter(i => i !== index);
    const c = new Etcd3({hosts: survivors.map(i => cluster.endpoints[i] ?? '')});
    try {
      await c.put('before').value('failover');
      await cluster.stop(index);
      const next = await cluster.leader(5000);
      expect(next.memberId).not.toBe(leader.memberId);
      await c.put('after').value('failover');
      await cluster.restart(index);
      const back = clientOf(index);
      try {
        const deadline = Date.now() + 5000;
        let seen: string | null = null;
        while (seen === null && Date.now() < deadline) {
          seen = await back
            .get('after')
            .string()
            .catch(() => null);
          if (seen === null) await new Promise(r => setTimeout(r, 50));
        }
        expect(seen).toBe('failover');
        expect(await back.get('before').string()).toBe('failover');
      } finally {
        back.close();
      }
    } finally {
      c.close();
    }
  });
});

describe('a follower that falls behind the compacted log', () => {
  it('catches up from a snapshot of the leader’s state, then from the log', async () => {
    const cluster = await startInProcessCluster(3, {snapshotCount: 20, snapshotCatchUpEntries: 5});
    try {
      const leader = await cluster.leader();
      const lagging = cluster.members.findIndex(m => m !== undefined && m !== leader);
      await cluster.stop(lagging);
      const others = [0, 1, 2].filter(i => i !== lagging).map(i => cluster.endpoints[i] ?? '');
      const c = new Etcd3({hosts: others});
      try {
        for (let i = 0; i < 150; i++) await c.put(`lag/${i}`).value(`v${i}`);
      } finally {
        c.close();
      }
      await cluster.restart(lagging);
      const back = new Etcd3({hosts: cluster.endpoints[lagging] ?? ''});
      try {
        const deadline = Date.now() + 10_000;
        let count = 0;
        while (count < 150 && Date.now() < deadline) {
          count = await back
            .getAll()
            .prefix('lag/')
            .count()
            .catch(() => 0);
          if (count < 150) await new Promise(r => setTimeout(r, 100));
        }
        expect(count).toBe(150);
        expect(loggedMessages).toContain('installed a snapshot from the leader');
        await back.put('after').value('catch-up');
        expect(await back.get('lag/149').string()).toBe('v149');
      } finally {
        back.close();
      }
    } finally {
      await cluster.close();
    }
  });
});

describe('lease keep-alives through a follower', () => {
  it('keep answering when the leader dies: the follower waits for the next leader', async () => {
    const cluster = await startInProcessCluster(3);
    try {
      const leader = await cluster.leader();
      const leaderIndex = cluster.members.indexOf(leader);
      const follower = [0, 1, 2].find(i => i !== leaderIndex) ?? 0;
      const channel = createChannel((cluster.endpoints[follower] ?? '').replace('http://', ''));
      try {
        const lease = createClient(LeaseDefinition, channel);
        const {ID} = await lease.leaseGrant({TTL: 3n, ID: 0n});
        const ttls: bigint[] = [];
        async function* renewals() {
          for (let i = 0; i < 20; i++) {
            yield {ID};
            await new Promise(r => setTimeout(r, 100));
          }
        }
        let killed = false;
        for await (const r of lease.leaseKeepAlive(renewals())) {
          ttls.push(r.TTL);
          if (!killed && ttls.length === 3) {
            killed = true;
            await cluster.stop(leaderIndex);
          }
        }
        expect(ttls).toHaveLength(20);
        expect(ttls.every(t => t === 3n)).toBe(true);
      } finally {
        channel.close();
      }
    } finally {
      await cluster.close();
    }
  });
});
