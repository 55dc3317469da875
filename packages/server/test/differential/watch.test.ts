import {WatchCreateRequest_FilterType} from '@synod/proto';
import type {WatchCreateRequest} from '@synod/proto';
import {etcdSkipReason} from '@synod/testing';
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';

import type {Pair, WatchStream} from './harness.js';
import {
  align,
  b,
  okValue,
  prefixEnd,
  same,
  sameWatch,
  sendBoth,
  startPair,
  watchBoth,
} from './harness.js';

function create(request: Partial<WatchCreateRequest>) {
  return {
    requestUnion: {
      $case: 'createRequest' as const,
      value: {
        key: Buffer.alloc(0),
        rangeEnd: Buffer.alloc(0),
        startRevision: 0n,
        progressNotify: false,
        filters: [],
        prevKv: false,
        watchId: 0n,
        fragment: false,
        ...request,
      },
    },
  };
}

function cancel(watchId: bigint) {
  return {requestUnion: {$case: 'cancelRequest' as const, value: {watchId}}};
}

const progress = {requestUnion: {$case: 'progressRequest' as const, value: {}}};

describe.skipIf(etcdSkipReason !== undefined)('Watch: etcd and Synod side by side', () => {
  let pair: Pair;
  let streams: [WatchStream, WatchStream] | undefined;

  beforeAll(async () => {
    pair = await startPair();
  });

  afterAll(async () => {
    await pair.stop();
  });

  beforeEach(async () => {
    await align(pair);
  });

  afterEach(() => {
    for (const stream of streams ?? []) stream.close();
    streams = undefined;
  });

  function open(): [WatchStream, WatchStream] {
    streams = watchBoth(pair);
    return streams;
  }

  async function put(key: string, value = 'v'): Promise<number> {
    const res = okValue(
      await same(pair, s => s.kv.put({key: b(key), value: b(value)}), `put ${key}`),
    );
    return (res.header as {revision: number}).revision;
  }

  async function del(key: string, rangeEnd = ''): Promise<void> {
    await same(pair, s => s.kv.deleteRange({key: b(key), rangeEnd: b(rangeEnd)}), `delete ${key}`);
  }

  it('replays history from a start revision, with prev_kv', async () => {
    const first = await put('w1/a', '1');
    await put('w1/b', '1');
    await put('w1/a', '2');
    await del('w1/b');
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestPut', value: {key: b('w1/c'), value: b('x')}}},
            {request: {$case: 'requestPut', value: {key: b('w1/a'), value: b('3')}}},
          ],
        }),
      'txn',
    );
    const ws = open();
    sendBoth(ws, create({key: b('w1/'), rangeEnd: prefixEnd('w1/'), startRevision: BigInt(first)}));
    await sameWatch(ws, 2, 'history');
    sendBoth(
      ws,
      create({
        key: b('w1/'),
        rangeEnd: prefixEnd('w1/'),
        startRevision: BigInt(first),
        prevKv: true,
      }),
    );
    await sameWatch(ws, 2, 'history with prev_kv');
    sendBoth(ws, create({key: b('w1/a'), startRevision: BigInt(first) + 1n}));
    await sameWatch(ws, 2, 'single key history');
  });

  it('streams live events grouped per revision', async () => {
    const ws = open();
    sendBoth(ws, create({key: b('w2/'), rangeEnd: prefixEnd('w2/'), prevKv: true}));
    await sameWatch(ws, 1, 'created');
    await put('w2/a', '1');
    await sameWatch(ws, 1, 'create event');
    await put('w2/a', '2');
    await sameWatch(ws, 1, 'update event');
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestPut', value: {key: b('w2/b'), value: b('x')}}},
            {request: {$case: 'requestPut', value: {key: b('w2/c'), value: b('y')}}},
            {request: {$case: 'requestDeleteRange', value: {key: b('w2/a')}}},
          ],
        }),
      'txn',
    );
    await sameWatch(ws, 1, 'txn events');
    await del('w2/', prefixEnd('w2/').toString());
    await sameWatch(ws, 1, 'range delete');
    await put('w3/outside');
    await sameWatch(ws, 0, 'outside the range');
  });

  it('applies the NOPUT and NODELETE filters', async () => {
    const ws = open();
    sendBoth(
      ws,
      create({
        key: b('w4/'),
        rangeEnd: prefixEnd('w4/'),
        filters: [WatchCreateRequest_FilterType.NOPUT],
      }),
    );
    sendBoth(
      ws,
      create({
        key: b('w4/'),
        rangeEnd: prefixEnd('w4/'),
        filters: [WatchCreateRequest_FilterType.NODELETE],
      }),
    );
    sendBoth(
      ws,
      create({
        key: b('w4/'),
        rangeEnd: prefixEnd('w4/'),
        filters: [WatchCreateRequest_FilterType.NOPUT, WatchCreateRequest_FilterType.NODELETE],
      }),
    );
    await sameWatch(ws, 3, 'created');
    await put('w4/a');
    await sameWatch(ws, 1, 'after put');
    await del('w4/a');
    await sameWatch(ws, 1, 'after delete');
  });

  it('cancels a watch, and ignores an unknown id', async () => {
    const ws = open();
    sendBoth(ws, create({key: b('w5/a')}));
    sendBoth(ws, create({key: b('w5/b')}));
    await sameWatch(ws, 2, 'created');
    sendBoth(ws, cancel(0n));
    await sameWatch(ws, 1, 'canceled');
    await put('w5/a');
    await put('w5/b');
    await sameWatch(ws, 1, 'only the live watch');
    sendBoth(ws, cancel(42n));
    await sameWatch(ws, 0, 'unknown id');
    sendBoth(ws, cancel(0n));
    await sameWatch(ws, 0, 'cancel twice');
  });

  async function compactedKey(key: string): Promise<number> {
    await put(key, '1');
    await put(key, '2');
    const now = await put(key, '3');
    await same(pair, s => s.kv.compact({revision: BigInt(now - 1)}), 'compact');
    return now;
  }

  // The cancel response of a compacted watch has revision 0 in its header, as etcd's.
  it('cancels a watch that starts below the compact revision', async () => {
    const now = await compactedKey('w6/a');
    const ws = open();
    sendBoth(ws, create({key: b('w6/a'), startRevision: BigInt(now - 2)}));
    await sameWatch(ws, 2, 'compacted start');
  });

  it('cancels a watch below the compact revision with compact_revision set', async () => {
    const now = await compactedKey('w6/b');
    const ws = open();
    sendBoth(ws, create({key: b('w6/b'), startRevision: BigInt(now - 2)}));
    const [e, s] = await Promise.all(ws.map(stream => stream.take(2)));
    // The same comparison as above without the cancel response's header, so that the rest
    // of the answer stays pinned while the header difference is open.
    const withoutHeaders = (responses: unknown[] | undefined) =>
      (responses ?? []).map(res => ({...(res as object), header: undefined}));
    expect(withoutHeaders(s)).toEqual(withoutHeaders(e));
    expect(e).toHaveLength(2);
  });

  it('replays from the compact revision itself, with prev_kv', async () => {
    const now = await compactedKey('w6/c');
    const ws = open();
    sendBoth(ws, create({key: b('w6/c'), startRevision: BigInt(now - 1), prevKv: true}));
    await sameWatch(ws, 2, 'at the compact revision');
  });

  // etcd 3.4 answers with watch_id -1 and the current revision, watchers or not.
  it('answers a progress request on a stream without watchers', async () => {
    const ws = open();
    sendBoth(ws, progress);
    await sameWatch(ws, 1, 'no watchers', 1000);
  });

  it('answers a progress request', async () => {
    const ws = open();
    sendBoth(ws, create({key: b('w7/a')}));
    await sameWatch(ws, 1, 'created');
    await put('w7/b');
    sendBoth(ws, progress);
    await sameWatch(ws, 1, 'progress');
  });

  it('rejects a duplicate explicit watch id and an empty range', async () => {
    const ws = open();
    sendBoth(ws, create({key: b('w8/a'), watchId: 7n}));
    await sameWatch(ws, 1, 'explicit id');
    sendBoth(ws, create({key: b('w8/b'), watchId: 7n}));
    await sameWatch(ws, 1, 'duplicate id');
    sendBoth(ws, create({key: b('w8/b')}));
    await sameWatch(ws, 1, 'auto id after explicit');
    sendBoth(ws, create({key: b('w8/z'), rangeEnd: b('w8/a')}));
    await sameWatch(ws, 1, 'empty range');
    sendBoth(ws, create({key: b(''), rangeEnd: b('\0')}));
    await sameWatch(ws, 1, 'empty key from-key');
    await put('w8/a');
    await sameWatch(ws, 2, 'events to the matching watchers');
  });

  it('watches from a future revision', async () => {
    const now = await put('w9/a', '1');
    const ws = open();
    sendBoth(ws, create({key: b('w9/a'), startRevision: BigInt(now + 2)}));
    await sameWatch(ws, 1, 'created');
    await put('w9/a', '2');
    await sameWatch(ws, 0, 'before start');
    await put('w9/a', '3');
    await sameWatch(ws, 1, 'at start');
  });

  it('replays history with filters, from-key ranges and prev_kv of compacted versions', async () => {
    const first = await put('wa/a', '1');
    await put('wa/a', '2');
    await put('wa/b', '1');
    await del('wa/a');
    await same(pair, s => s.kv.compact({revision: BigInt(first)}), 'compact');
    const ws = open();
    sendBoth(
      ws,
      create({
        key: b('wa/'),
        rangeEnd: b('\0'),
        startRevision: BigInt(first),
        filters: [WatchCreateRequest_FilterType.NOPUT],
        prevKv: true,
      }),
    );
    await sameWatch(ws, 2, 'no puts from key');
    sendBoth(
      ws,
      create({
        key: b('wa/a'),
        startRevision: BigInt(first + 1),
        filters: [WatchCreateRequest_FilterType.NODELETE],
        prevKv: true,
      }),
    );
    await sameWatch(ws, 2, 'no deletes with prev_kv at the compact revision');
  });

  it('splits a long history into responses the same way', async () => {
    const first = await put('wb/k', '0');
    for (let i = 1; i < 1100; i++) {
      await Promise.all(
        pair.sides.map(side => side.kv.put({key: b(`wb/k${i % 3}`), value: b(String(i))})),
      );
    }
    const ws = open();
    sendBoth(ws, create({key: b('wb/'), rangeEnd: prefixEnd('wb/'), startRevision: BigInt(first)}));
    const [e, s] = await Promise.all(ws.map(stream => stream.take(3)));
    const shape = (responses: unknown[] | undefined) =>
      (responses ?? []).map(res => {
        const events = (res as {events: {kv: {modRevision: number}}[]}).events;
        return {
          events: events.length,
          first: events[0]?.kv.modRevision,
          last: events[events.length - 1]?.kv.modRevision,
        };
      });
    expect(shape(s)).toEqual(shape(e));
    expect(s).toEqual(e);
  });

  it('creates a watch at start revision current+1 like a watch from now', async () => {
    const now = await put('wc/a', '1');
    const ws = open();
    sendBoth(ws, create({key: b('wc/a'), startRevision: BigInt(now + 1)}));
    await sameWatch(ws, 1, 'created');
    await put('wc/a', '2');
    await sameWatch(ws, 1, 'next event');
  });

  it('numbers many watchers on one stream in order and reuses a canceled explicit id', async () => {
    const ws = open();
    for (let i = 0; i < 40; i++) sendBoth(ws, create({key: b(`wd/${i % 4}`)}));
    await sameWatch(ws, 40, 'forty created');
    sendBoth(ws, create({key: b('wd/x'), watchId: 100n}));
    await sameWatch(ws, 1, 'explicit 100');
    sendBoth(ws, cancel(100n));
    await sameWatch(ws, 1, 'cancel 100');
    sendBoth(ws, create({key: b('wd/y'), watchId: 100n}));
    await sameWatch(ws, 1, 'explicit 100 again');
    sendBoth(ws, create({key: b('wd/z')}));
    await sameWatch(ws, 1, 'auto after explicit 100');
    await put('wd/1');
    await sameWatch(ws, 10, 'events to ten watchers');
  });
});
