import type {EtcdCluster} from '@synod/testing';
import {startSynod} from '@synod/testing';
import {Etcd3} from 'etcd3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/**
 * Real `synod` processes, one member and three, used through the etcd3 npm
 * package exactly as an application would use it against etcd.
 */
describe.each([1, 3])('%i-member Synod cluster of real processes, through etcd3', size => {
  let cluster: EtcdCluster;
  let client: Etcd3;

  beforeAll(async () => {
    cluster = await startSynod({members: size});
    client = new Etcd3({hosts: [...cluster.endpoints]});
  }, 60_000);

  afterAll(async () => {
    client.close();
    await cluster.stop();
  });

  it('puts, gets, reads a prefix and runs a transaction', async () => {
    await client.put('app/a').value('1');
    await client.put('app/b').value('2');
    expect(await client.get('app/a').string()).toBe('1');
    expect(await client.getAll().prefix('app/').strings()).toEqual({'app/a': '1', 'app/b': '2'});
    const txn = await client
      .if('app/a', 'Value', '==', '1')
      .then(client.put('app/a').value('one'))
      .else(client.put('app/a').value('lost'))
      .commit();
    expect(txn.succeeded).toBe(true);
    expect(await client.get('app/a').string()).toBe('one');
  });

  it('delivers a watch event written through another member', async () => {
    const watcher = await client.watch().key('app/watched').create();
    const got = new Promise<string>(resolve => {
      watcher.on('put', kv => {
        resolve(kv.value.toString());
      });
    });
    const writer = new Etcd3({hosts: cluster.endpoints.at(-1) ?? ''});
    try {
      await writer.put('app/watched').value('seen');
      expect(await got).toBe('seen');
    } finally {
      writer.close();
      await watcher.cancel();
    }
  });

  it('expires a lease that is not kept alive, deleting its key', async () => {
    const lease = client.lease(2, {autoKeepAlive: false});
    await lease.put('app/ephemeral').value('here');
    expect(await client.get('app/ephemeral').string()).toBe('here');
    const deadline = Date.now() + 8000;
    let value: string | null = 'here';
    while (value !== null && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 250));
      value = await client.get('app/ephemeral').string();
    }
    expect(value).toBeNull();
  });

  it('excludes a second holder of a lock until the first releases it', async () => {
    const first = await client.lock('app/lock').ttl(5).acquire();
    const second = client.lock('app/lock').ttl(5);
    const tried = await second.acquire().then(
      () => 'acquired',
      () => 'refused',
    );
    // etcd3's lock is try-once: with the lock held, the second attempt fails.
    expect(tried).toBe('refused');
    await first.release();
    await second.acquire();
    await second.release();
  });

  it('elects one campaigner and hands over when it resigns', async () => {
    const election = client.election('app/election');
    const a = election.campaign('alpha');
    await new Promise<void>((resolve, reject) => {
      a.on('elected', () => {
        resolve();
      });
      a.on('error', reject);
    });
    expect(await election.leader()).toBe('alpha');
    const b = election.campaign('beta');
    await a.resign();
    await new Promise<void>((resolve, reject) => {
      b.on('elected', () => {
        resolve();
      });
      b.on('error', reject);
    });
    expect(await election.leader()).toBe('beta');
    await b.resign();
  });
});
