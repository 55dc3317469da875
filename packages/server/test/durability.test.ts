import type {EtcdCluster} from '@synod/testing';
import {startSynod, waitFor} from '@synod/testing';
import {MaintenanceDefinition} from '@synod/proto';
import {Etcd3} from 'etcd3';
import {createChannel, createClient} from 'nice-grpc';
import {afterEach, describe, expect, it} from 'vitest';

/**
 * Nothing acknowledged is ever lost: real `synod` processes are killed with
 * SIGKILL while clients write, restarted, and every write that a client saw
 * succeed must be there with its value.
 */

const clusters: EtcdCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map(c => c.stop()));
});

/** Writes unique keys from `writers` concurrent loops until stopped; returns the acknowledged ones. */
function writeLoad(client: Etcd3, prefix: string, writers: number) {
  const acked = new Map<string, string>();
  let running = true;
  let attempts = 0;
  const loops = Array.from({length: writers}, async (_, w) => {
    for (let i = 0; running; i++) {
      const key = `${prefix}/${w}/${i}`;
      const value = `v-${w}-${i}`;
      attempts++;
      try {
        await client.put(key).value(value);
        acked.set(key, value);
      } catch {
        // Unacknowledged: the write may or may not have happened.
        await new Promise(r => setTimeout(r, 20));
      }
    }
  });
  return {
    acked,
    get attempts() {
      return attempts;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** HashKV of every member at `revision`, retried until they agree or 10 s pass. */
async function waitForEqualHashes(
  endpoints: readonly string[],
  revision: bigint,
): Promise<number[]> {
  const channels = endpoints.map(e => createChannel(e.replace('http://', '')));
  try {
    const clients = channels.map(ch => createClient(MaintenanceDefinition, ch));
    const deadline = Date.now() + 10_000;
    let hashes: number[] = [];
    for (;;) {
      hashes = await Promise.all(clients.map(async c => (await c.hashKV({revision})).hash)).catch(
        () => [],
      );
      if (
        (hashes.length === endpoints.length && new Set(hashes).size === 1) ||
        Date.now() > deadline
      ) {
        return hashes;
      }
      await new Promise(r => setTimeout(r, 200));
    }
  } finally {
    for (const ch of channels) ch.close();
  }
}

async function readAll(endpoint: string, prefix: string): Promise<Record<string, string>> {
  const client = new Etcd3({hosts: endpoint});
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return await client.getAll().prefix(`${prefix}/`).strings();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise(r => setTimeout(r, 100));
      }
    }
  } finally {
    client.close();
  }
}

describe('durability of acknowledged writes across SIGKILL', () => {
  it('keeps every acknowledged write of a single member killed mid-write', async () => {
    const cluster = await startSynod({members: 1});
    clusters.push(cluster);
    const client = new Etcd3({hosts: [...cluster.endpoints]});
    const load = writeLoad(client, 'solo', 8);
    await new Promise(r => setTimeout(r, 1500));
    await cluster.members[0]?.kill('SIGKILL');
    await load.stop();
    client.close();
    expect(load.acked.size).toBeGreaterThan(20);
    await cluster.members[0]?.restart();
    const stored = await readAll(cluster.endpoints[0] ?? '', 'solo');
    for (const [key, value] of load.acked) expect(stored[key], key).toBe(value);
  }, 60_000);

  it('keeps every acknowledged write when all three members are killed at once', async () => {
    const cluster = await startSynod({members: 3});
    clusters.push(cluster);
    const client = new Etcd3({hosts: [...cluster.endpoints]});
    const load = writeLoad(client, 'all', 8);
    await new Promise(r => setTimeout(r, 2000));
    await Promise.all(cluster.members.map(m => m.kill('SIGKILL')));
    await load.stop();
    client.close();
    expect(load.acked.size).toBeGreaterThan(20);
    await Promise.all(cluster.members.map(m => m.restart()));
    for (const endpoint of cluster.endpoints) {
      const stored = await readAll(endpoint, 'all');
      for (const [key, value] of load.acked)
        expect(stored[key], `${key} on ${endpoint}`).toBe(value);
    }
  }, 90_000);

  it('carries on through a SIGKILL of the leader, then every member converges', async () => {
    const cluster = await startSynod({members: 3});
    clusters.push(cluster);
    const probe = new Etcd3({hosts: [...cluster.endpoints]});
    const status = await Promise.all(
      cluster.members.map(async m => {
        const c = new Etcd3({hosts: m.clientUrl});
        try {
          const s = await c.maintenance.status({});
          return {member: m, isLeader: s.leader === s.header.member_id};
        } finally {
          c.close();
        }
      }),
    );
    const leader = status.find(s => s.isLeader)?.member;
    expect(leader).toBeDefined();
    const load = writeLoad(probe, 'failover', 8);
    await new Promise(r => setTimeout(r, 1500));
    const before = load.acked.size;
    await leader?.kill('SIGKILL');
    // Writes are acknowledged after the leader died: a new leader took over. How soon
    // depends on the election and on the client's own failover, so wait for them rather
    // than for a fixed time.
    await waitFor(() => load.acked.size > before + 20, 20_000, 'writes after the kill');
    await load.stop();
    probe.close();
    expect(load.acked.size).toBeGreaterThan(before);
    await leader?.restart();

    const stored = await readAll(cluster.endpoints[0] ?? '', 'failover');
    for (const [key, value] of load.acked) expect(stored[key], key).toBe(value);

    // All members hold the same history: HashKV agrees at one revision.
    const reader = new Etcd3({hosts: cluster.endpoints[0] ?? ''});
    const rev = BigInt((await reader.get('failover/none').exec()).header.revision);
    reader.close();
    const hashes = await waitForEqualHashes(cluster.endpoints, rev);
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes).size).toBe(1);
  }, 90_000);
});
