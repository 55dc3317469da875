import {join} from 'node:path';

import {Backend} from '@synod/storage';
import type {EtcdCluster} from '@synod/testing';
import {startSynod} from '@synod/testing';
import {Etcd3} from 'etcd3';
import {afterEach, describe, expect, it} from 'vitest';

/**
 * Applied writes reach the backend's file in batches (etcd's --backend-batch-interval and
 * --backend-batch-limit), the WAL holding them meanwhile. These tests SIGKILL a member while
 * writes wait for their batch and check that nothing acknowledged is lost, that a raft
 * snapshot never gets ahead of the backend on disk, and that the limit commits a batch.
 */

const clusters: EtcdCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map(c => c.stop()));
});

async function startOne(extraArgs: string[]): Promise<{cluster: EtcdCluster; client: Etcd3}> {
  const cluster = await startSynod({members: 1, extraArgs});
  clusters.push(cluster);
  const client = new Etcd3({hosts: cluster.endpoints[0] ?? ''});
  return {cluster, client};
}

/** Revisions the backend file of a stopped member holds (every put is one). */
async function revisionsOnDisk(dataDir: string): Promise<number> {
  const backend = Backend.open(join(dataDir, 'member', 'db'));
  try {
    return [...backend.range('key', new Uint8Array(0))].length;
  } finally {
    await backend.close();
  }
}

describe('backend batches', () => {
  it('keeps every acknowledged write across SIGKILL while the batch waits, snapshots included', async () => {
    // The interval never elapses: only the snapshots (every 25 entries) commit the backend.
    const {cluster, client} = await startOne([
      '--backend-batch-interval=1h',
      '--snapshot-count=25',
      '--experimental-snapshot-catchup-entries=1',
    ]);
    const member = cluster.members[0];
    if (member === undefined) throw new Error('no member');
    try {
      for (let i = 0; i < 120; i++) await client.put(`k/${i}`).value(`v${i}`);
      // Reads see applied writes at once, committed to the file or not.
      expect(await client.get('k/119').string()).toBe('v119');
    } finally {
      client.close();
    }
    await member.kill('SIGKILL');
    // Snapshots were taken, and each waited for the backend to hold what it covers.
    const onDisk = await revisionsOnDisk(member.dataDir);
    expect(onDisk).toBeGreaterThanOrEqual(75);
    await member.restart();
    const again = new Etcd3({hosts: member.clientUrl});
    try {
      const all = await again.getAll().prefix('k/').strings();
      expect(Object.keys(all)).toHaveLength(120);
      for (let i = 0; i < 120; i++) expect(all[`k/${i}`]).toBe(`v${i}`);
    } finally {
      again.close();
    }
  });

  it('commits a batch as soon as it holds --backend-batch-limit writes', async () => {
    const {cluster, client} = await startOne([
      '--backend-batch-interval=1h',
      '--backend-batch-limit=10',
    ]);
    const member = cluster.members[0];
    if (member === undefined) throw new Error('no member');
    try {
      for (let i = 0; i < 55; i++) await client.put(`k/${i}`).value(`v${i}`);
    } finally {
      client.close();
    }
    // Let the last full batch land, then kill: the remainder is only in the WAL.
    await new Promise(r => setTimeout(r, 300));
    await member.kill('SIGKILL');
    const onDisk = await revisionsOnDisk(member.dataDir);
    expect(onDisk).toBeGreaterThanOrEqual(45);
    expect(onDisk).toBeLessThan(55);
  });

  it('commits a batch once --backend-batch-interval has passed', async () => {
    const {cluster, client} = await startOne(['--backend-batch-interval=50ms']);
    const member = cluster.members[0];
    if (member === undefined) throw new Error('no member');
    try {
      for (let i = 0; i < 20; i++) await client.put(`k/${i}`).value(`v${i}`);
    } finally {
      client.close();
    }
    await new Promise(r => setTimeout(r, 400));
    await member.kill('SIGKILL');
    expect(await revisionsOnDisk(member.dataDir)).toBe(20);
  });
});
