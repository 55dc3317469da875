import {Compare_CompareResult, Compare_CompareTarget} from '@synod/proto';
import {etcdSkipReason} from '@synod/testing';
import {afterAll, beforeAll, beforeEach, describe, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {align, b, prefixEnd, same, sameWatch, sendBoth, startPair, watchBoth} from './harness.js';

/** Sends one keepalive on a fresh stream and returns the first answer. */
async function keepAliveOnce(side: Side, id: bigint): Promise<unknown> {
  const abort = new AbortController();
  async function* requests() {
    yield {ID: id};
    // Keep the request side open until the answer is read.
    await new Promise(resolve => {
      abort.signal.addEventListener('abort', resolve);
    });
  }
  try {
    for await (const res of side.lease.leaseKeepAlive(requests(), {signal: abort.signal})) {
      return res;
    }
    return undefined;
  } finally {
    abort.abort();
  }
}

describe.skipIf(etcdSkipReason !== undefined)('Lease: etcd and Synod side by side', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair();
  });

  afterAll(async () => {
    await pair.stop();
  });

  beforeEach(async () => {
    await align(pair);
  });

  it('grants leases and rejects a TTL that is too large or an id in use', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 60n}), 'grant 60');
    // Short leases are revoked at once so that expiry timing stays out of the comparison.
    await same(pair, s => s.lease.leaseGrant({TTL: 1n}), 'grant 1');
    await same(pair, s => s.lease.leaseRevoke({ID: s.leaseId(1)}), 'revoke 1');
    await same(pair, s => s.lease.leaseGrant({TTL: 0n}), 'grant 0');
    await same(pair, s => s.lease.leaseRevoke({ID: s.leaseId(2)}), 'revoke 0');
    await same(pair, s => s.lease.leaseGrant({TTL: -5n}), 'grant negative');
    await same(pair, s => s.lease.leaseRevoke({ID: s.leaseId(3)}), 'revoke negative');
    await same(pair, s => s.lease.leaseGrant({TTL: 9_000_000_000n}), 'grant max');
    await same(pair, s => s.lease.leaseGrant({TTL: 9_000_000_001n}), 'grant too large');
    await same(pair, s => s.lease.leaseGrant({TTL: 30n, ID: 777n}), 'explicit id');
    await same(pair, s => s.lease.leaseGrant({TTL: 30n, ID: 777n}), 'explicit id again');
    await same(pair, s => s.lease.leaseLeases({}), 'list');
  });

  it('reports time to live with attached keys, and -1 for an unknown lease', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 100n, ID: 4001n}), 'grant');
    for (const key of ['l2/b', 'l2/a', 'l2/c']) {
      await same(pair, s => s.kv.put({key: b(key), value: b('v'), lease: 4001n}), `attach ${key}`);
    }
    await same(
      pair,
      s => s.kv.range({key: b('l2/'), rangeEnd: prefixEnd('l2/')}),
      'keys carry the lease',
    );
    await same(pair, s => s.lease.leaseTimeToLive({ID: 4001n, keys: true}), 'with keys');
    await same(pair, s => s.lease.leaseTimeToLive({ID: 4001n}), 'without keys');
    await same(pair, s => s.kv.put({key: b('l2/a'), value: b('w')}), 'detach by re-put');
    await same(pair, s => s.lease.leaseTimeToLive({ID: 4001n, keys: true}), 'after detach');
    await same(
      pair,
      s => s.kv.put({key: b('l2/b'), value: b('x'), ignoreLease: true, prevKv: true}),
      'ignore lease keeps it',
    );
    await same(pair, s => s.lease.leaseTimeToLive({ID: 4001n, keys: true}), 'after ignore lease');
    await same(pair, s => s.lease.leaseTimeToLive({ID: 4999n, keys: true}), 'unknown');
    await same(
      pair,
      s =>
        s.kv.txn({
          compare: [
            {
              key: b('l2/b'),
              target: Compare_CompareTarget.LEASE,
              result: Compare_CompareResult.EQUAL,
              targetUnion: {$case: 'lease', value: 4001n},
            },
          ],
          success: [{request: {$case: 'requestRange', value: {key: b('l2/b')}}}],
        }),
      'compare lease',
    );
  });

  it('answers keepalives, with TTL 0 for an unknown lease', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 50n}), 'grant');
    await same(pair, s => keepAliveOnce(s, s.leaseIds[s.leaseIds.length - 1] ?? 0n), 'known');
    await same(pair, s => keepAliveOnce(s, 5555n), 'unknown');
  });

  it('revokes a lease, deleting its keys with one event each', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 100n, ID: 6001n}), 'grant');
    for (const key of ['l4/a', 'l4/b']) {
      await same(pair, s => s.kv.put({key: b(key), value: b('v'), lease: 6001n}), `attach ${key}`);
    }
    const ws = watchBoth(pair);
    try {
      sendBoth(ws, {
        requestUnion: {
          $case: 'createRequest',
          value: {
            key: b('l4/'),
            rangeEnd: prefixEnd('l4/'),
            startRevision: 0n,
            progressNotify: false,
            filters: [],
            prevKv: true,
            watchId: 0n,
            fragment: false,
          },
        },
      });
      await sameWatch(ws, 1, 'created');
      await same(pair, s => s.lease.leaseRevoke({ID: 6001n}), 'revoke');
      await sameWatch(ws, 1, 'delete events');
    } finally {
      for (const stream of ws) stream.close();
    }
    await same(pair, s => s.kv.range({key: b('l4/'), rangeEnd: prefixEnd('l4/')}), 'keys gone');
    await same(pair, s => s.lease.leaseTimeToLive({ID: 6001n}), 'revoked ttl');
    await same(pair, s => s.lease.leaseRevoke({ID: 6001n}), 'revoke again');
    await same(pair, s => s.lease.leaseRevoke({ID: 123456n}), 'revoke unknown');
    await same(
      pair,
      s => s.kv.put({key: b('l4/c'), value: b('v'), lease: 6001n}),
      'put with revoked lease',
    );
  });

  it('lists leases', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 40n, ID: 7001n}), 'grant a');
    await same(pair, s => s.lease.leaseGrant({TTL: 40n, ID: 7002n}), 'grant b');
    await same(pair, s => s.lease.leaseRevoke({ID: 7001n}), 'revoke a');
    await same(pair, s => s.lease.leaseLeases({}), 'list');
  });

  it('expires a lease, deleting its keys with events, then reports it gone', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 1n, ID: 8001n}), 'grant');
    await same(pair, s => s.kv.put({key: b('l6/a'), value: b('v'), lease: 8001n}), 'attach');
    const ws = watchBoth(pair);
    try {
      sendBoth(ws, {
        requestUnion: {
          $case: 'createRequest',
          value: {
            key: b('l6/'),
            rangeEnd: prefixEnd('l6/'),
            startRevision: 0n,
            progressNotify: false,
            filters: [],
            prevKv: true,
            watchId: 0n,
            fragment: false,
          },
        },
      });
      await sameWatch(ws, 1, 'created');
      await sameWatch(ws, 1, 'expiry', 6000);
    } finally {
      for (const stream of ws) stream.close();
    }
    await same(pair, s => s.lease.leaseTimeToLive({ID: 8001n, keys: true}), 'expired ttl');
    await same(pair, s => s.kv.range({key: b('l6/'), rangeEnd: prefixEnd('l6/')}), 'keys gone');
  });

  it('drops deleted keys from a lease and revokes the rest', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 100n, ID: 9001n}), 'grant');
    await same(pair, s => s.kv.put({key: b('l7/a'), value: b('v'), lease: 9001n}), 'attach a');
    await same(pair, s => s.kv.put({key: b('l7/b'), value: b('v'), lease: 9001n}), 'attach b');
    await same(pair, s => s.kv.deleteRange({key: b('l7/a')}), 'delete a');
    await same(pair, s => s.lease.leaseTimeToLive({ID: 9001n, keys: true}), 'after delete');
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestPut', value: {key: b('l7/c'), value: b('v'), lease: 9001n}}},
          ],
        }),
      'attach in txn',
    );
    await same(pair, s => s.lease.leaseTimeToLive({ID: 9001n, keys: true}), 'after txn');
    await same(pair, s => s.lease.leaseRevoke({ID: 9001n}), 'revoke');
    await same(pair, s => s.kv.range({key: b('l7/'), rangeEnd: prefixEnd('l7/')}), 'keys gone');
  });

  it('grants a lease with a negative explicit id', async () => {
    await same(pair, s => s.lease.leaseGrant({TTL: 100n, ID: -5n}), 'negative id');
    await same(pair, s => s.kv.range({key: b('l8/a')}), 'still serving');
  });
});
