import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {sleep, waitFor} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {
  Barrier,
  Counter,
  DoubleBarrier,
  PriorityQueue,
  Queue,
  ReadWriteLock,
  Semaphore,
  Session,
  StmConflictError,
  stm,
} from '../src/index.js';
import {servers, uniqueName} from './servers.js';

describe.each(servers)('Primitives on %s', (_name, start) => {
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

  it('stm transfers keep the total across concurrent conflicting transactions', async () => {
    const accounts = Array.from({length: 4}, (_, i) => uniqueName(`acct${i}`));
    for (const a of accounts) await client.kv.put(a, '100');
    let attempts = 0;
    await Promise.all(
      Array.from({length: 12}, (_, i) =>
        stm(client, async tx => {
          attempts++;
          const from = accounts[i % 4] as string;
          const to = accounts[(i + 1) % 4] as string;
          const a = Number(await tx.get(from));
          const b = Number(await tx.get(to));
          tx.put(from, String(a - 10));
          tx.put(to, String(b + 10));
        }),
      ),
    );
    const values = await Promise.all(accounts.map(async a => Number(await client.kv.getString(a))));
    expect(values.reduce((x, y) => x + y, 0)).toBe(400);
    expect(attempts).toBeGreaterThan(12); // some transactions conflicted and ran again
    const hot = uniqueName('hot');
    await expect(
      stm(
        client,
        async tx => {
          tx.put(hot, String(Number((await tx.get(hot)) ?? '0') + 1));
          await client.kv.put(hot, 'someone else');
        },
        {maxAttempts: 3},
      ),
    ).rejects.toBeInstanceOf(StmConflictError);
  });

  it('Counter adds atomically and value$ follows', async () => {
    const counter = new Counter(client, uniqueName('counter'));
    const seen: bigint[] = [];
    const sub = counter.value$.subscribe(v => seen.push(v));
    await Promise.all(Array.from({length: 10}, () => counter.add(1)));
    await counter.add(-3n);
    expect(await counter.get()).toBe(7n);
    await waitFor(() => seen.at(-1) === 7n);
    expect(seen[0]).toBe(0n);
    sub.unsubscribe();
  });

  it('Semaphore admits at most `permits` holders in arrival order', async () => {
    const name = uniqueName('sem');
    const sessions = await Promise.all([1, 2, 3].map(() => Session.create(client, {ttlSec: 5})));
    const [s1, s2, s3] = sessions as [Session, Session, Session];
    const h1 = await new Semaphore(s1, name, 2).acquire();
    const h2 = await new Semaphore(s2, name, 2).acquire();
    let third = false;
    const p3 = new Semaphore(s3, name, 2).acquire().then(h => {
      third = true;
      return h;
    });
    await sleep(300);
    expect(third).toBe(false);
    await h1.release();
    const h3 = await p3;
    expect(h3.fencingToken).toBeGreaterThan(h2.fencingToken);
    await Promise.all([h2.release(), h3.release()]);
    await Promise.all(sessions.map(s => s.close()));
  });

  it('ReadWriteLock shares reads and excludes a writer', async () => {
    const name = uniqueName('rw');
    const sessions = await Promise.all([1, 2, 3].map(() => Session.create(client, {ttlSec: 5})));
    const [s1, s2, s3] = sessions as [Session, Session, Session];
    const r1 = await new ReadWriteLock(s1, name).readLock();
    const r2 = await new ReadWriteLock(s2, name).readLock();
    let written = false;
    const w = new ReadWriteLock(s3, name).writeLock().then(h => {
      written = true;
      return h;
    });
    await sleep(200);
    expect(written).toBe(false);
    // A reader arriving after the writer waits for it.
    let lateRead = false;
    const late = new ReadWriteLock(s1, name).readLock().then(h => {
      lateRead = true;
      return h;
    });
    await r1.release();
    await r2.release();
    const wh = await w;
    await sleep(200);
    expect(lateRead).toBe(false);
    await wh.release();
    await (await late).release();
    await Promise.all(sessions.map(s => s.close()));
  });

  it('Barrier holds waiters until released', async () => {
    const barrier = new Barrier(client, uniqueName('barrier'));
    await barrier.wait(); // down: returns at once
    expect(await barrier.hold()).toBe(true);
    expect(await barrier.hold()).toBe(false);
    let passed = 0;
    const waiters = [1, 2, 3].map(() => barrier.wait().then(() => passed++));
    await sleep(200);
    expect(passed).toBe(0);
    await barrier.release();
    await Promise.all(waiters);
    expect(passed).toBe(3);
  });

  it('DoubleBarrier lets participants enter and leave together', async () => {
    const key = uniqueName('double');
    const sessions = await Promise.all([1, 2, 3].map(() => Session.create(client, {ttlSec: 5})));
    const [b0, b1, b2] = sessions.map(s => new DoubleBarrier(s, key, 3)) as [
      DoubleBarrier,
      DoubleBarrier,
      DoubleBarrier,
    ];
    const entered: number[] = [];
    const first = [b0, b1].map((b, i) => b.enter().then(() => entered.push(i)));
    await sleep(200);
    expect(entered).toEqual([]);
    await b2.enter();
    await Promise.all(first);
    expect(entered).toHaveLength(2);
    const left: number[] = [];
    const leaving = [b0, b1].map((b, i) => b.leave().then(() => left.push(i)));
    await sleep(200);
    expect(left).toEqual([]);
    await b2.leave();
    await Promise.all(leaving);
    expect(left).toHaveLength(2);
    expect((await client.kv.range({prefix: `${key}/`})).count).toBe(0);
    await Promise.all(sessions.map(s => s.close()));
  });

  it('Queue delivers in order, each item once; dequeue waits for an item', async () => {
    const queue = new Queue(client, uniqueName('queue'));
    for (const v of ['a', 'b', 'c', 'd']) await queue.enqueue(v);
    const got = await Promise.all([
      queue.dequeue(),
      queue.dequeue(),
      queue.dequeue(),
      queue.dequeue(),
    ]);
    expect([...got].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await queue.size()).toBe(0);
    const waiting = queue.dequeue();
    await sleep(100);
    await queue.enqueue('late');
    expect(await waiting).toBe('late');
    const controller = new AbortController();
    const aborted = queue.dequeue({signal: controller.signal});
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
  });

  it('PriorityQueue serves the lowest priority number first, FIFO within one', async () => {
    const queue = new PriorityQueue(client, uniqueName('pq'));
    await queue.enqueue('low-1', 5);
    await queue.enqueue('high', 1);
    await queue.enqueue('low-2', 5);
    await queue.enqueue('mid', 3);
    const order = [];
    for (let i = 0; i < 4; i++) order.push(await queue.dequeue());
    expect(order).toEqual(['high', 'mid', 'low-1', 'low-2']);
  });
});
