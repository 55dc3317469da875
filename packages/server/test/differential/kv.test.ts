import {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
} from '@synod/proto';
import type {RequestOp} from '@synod/proto';
import {etcdSkipReason} from '@synod/testing';
import {afterAll, beforeAll, beforeEach, describe, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {align, b, okValue, prefixEnd, same, startPair} from './harness.js';

const {EQUAL, GREATER, LESS, NOT_EQUAL} = Compare_CompareResult;
const {VERSION, CREATE, MOD, VALUE, LEASE} = Compare_CompareTarget;
const SORT_ORDERS = [
  RangeRequest_SortOrder.NONE,
  RangeRequest_SortOrder.ASCEND,
  RangeRequest_SortOrder.DESCEND,
];
const SORT_TARGETS = [
  RangeRequest_SortTarget.KEY,
  RangeRequest_SortTarget.VERSION,
  RangeRequest_SortTarget.CREATE,
  RangeRequest_SortTarget.MOD,
  RangeRequest_SortTarget.VALUE,
];

function put(key: string, value = 'v'): RequestOp {
  return {
    request: {
      $case: 'requestPut',
      value: {
        key: b(key),
        value: b(value),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      },
    },
  };
}

function get(key: string, rangeEnd = ''): RequestOp {
  return {
    request: {
      $case: 'requestRange',
      value: {
        key: b(key),
        rangeEnd: b(rangeEnd),
        limit: 0n,
        revision: 0n,
        sortOrder: RangeRequest_SortOrder.NONE,
        sortTarget: RangeRequest_SortTarget.KEY,
        serializable: false,
        keysOnly: false,
        countOnly: false,
        minModRevision: 0n,
        maxModRevision: 0n,
        minCreateRevision: 0n,
        maxCreateRevision: 0n,
      },
    },
  };
}

function del(key: string, rangeEnd = '', prevKv = false): RequestOp {
  return {
    request: {$case: 'requestDeleteRange', value: {key: b(key), rangeEnd: b(rangeEnd), prevKv}},
  };
}

describe.skipIf(etcdSkipReason !== undefined)('KV: etcd and Synod side by side', () => {
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

  async function seed(
    prefix: string,
    entries: readonly (readonly [string, string])[],
  ): Promise<void> {
    for (const [key, value] of entries) {
      await same(pair, s => s.kv.put({key: b(prefix + key), value: b(value)}), `put ${key}`);
    }
  }

  const range = (label: string, req: Parameters<Side['kv']['range']>[0]) =>
    same(pair, s => s.kv.range(req), label);

  it('ranges a single key, a prefix, from a key and all keys', async () => {
    await seed('r1/', [
      ['b', '2'],
      ['a', '1'],
      ['c', '3'],
      ['a', '11'],
    ]);
    await range('single', {key: b('r1/a')});
    await range('missing', {key: b('r1/zz')});
    await range('prefix', {key: b('r1/'), rangeEnd: prefixEnd('r1/')});
    await range('half-open', {key: b('r1/a'), rangeEnd: b('r1/c')});
    await range('from key', {key: b('r1/b'), rangeEnd: b('\0')});
    await range('all keys', {key: b('\0'), rangeEnd: b('\0'), countOnly: true});
    await range('end before key', {key: b('r1/c'), rangeEnd: b('r1/a')});
  });

  it('limits a range and reports more and count', async () => {
    await seed('r2/', [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['d', '4'],
    ]);
    for (const limit of [0n, 1n, 3n, 4n, 5n]) {
      await range(`limit ${limit}`, {key: b('r2/'), rangeEnd: prefixEnd('r2/'), limit});
    }
    await range('negative limit', {key: b('r2/'), rangeEnd: prefixEnd('r2/'), limit: -1n});
  });

  it('sorts by every target in every order, with and without a limit', async () => {
    await seed('r3/', [
      ['c', 'x'],
      ['a', 'z'],
      ['b', 'y'],
      ['a', 'zz'],
      ['d', 'x'],
      ['c', 'w'],
    ]);
    for (const sortOrder of SORT_ORDERS) {
      for (const sortTarget of SORT_TARGETS) {
        for (const limit of [0n, 2n]) {
          await range(`order ${sortOrder} target ${sortTarget} limit ${limit}`, {
            key: b('r3/'),
            rangeEnd: prefixEnd('r3/'),
            sortOrder,
            sortTarget,
            limit,
          });
        }
      }
    }
  });

  it('answers keys_only and count_only', async () => {
    await seed('r4/', [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    await range('keys only', {key: b('r4/'), rangeEnd: prefixEnd('r4/'), keysOnly: true});
    await range('count only', {key: b('r4/'), rangeEnd: prefixEnd('r4/'), countOnly: true});
    await range('count only limit', {
      key: b('r4/'),
      rangeEnd: prefixEnd('r4/'),
      countOnly: true,
      limit: 1n,
    });
    await range('keys only limit', {
      key: b('r4/'),
      rangeEnd: prefixEnd('r4/'),
      keysOnly: true,
      limit: 2n,
    });
  });

  it('filters by min/max mod and create revision', async () => {
    await seed('r5/', [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['a', '4'],
      ['d', '5'],
    ]);
    const res = okValue(await range('all', {key: b('r5/'), rangeEnd: prefixEnd('r5/')}));
    const kvs = res.kvs as {createRevision: number; modRevision: number}[];
    const lo = BigInt(Math.min(...kvs.map(kv => kv.createRevision)));
    const r = (n: number) => lo + BigInt(n);
    const whole = {key: b('r5/'), rangeEnd: prefixEnd('r5/')};
    await range('min mod', {...whole, minModRevision: r(2)});
    await range('max mod', {...whole, maxModRevision: r(2)});
    await range('min create', {...whole, minCreateRevision: r(1)});
    await range('max create', {...whole, maxCreateRevision: r(1)});
    await range('mod window', {...whole, minModRevision: r(1), maxModRevision: r(3)});
    await range('filter limit', {...whole, minModRevision: r(1), limit: 1n});
    await range('filter count only', {...whole, minModRevision: r(3), countOnly: true});
    await range('filter sorted', {
      ...whole,
      minCreateRevision: r(0),
      sortOrder: RangeRequest_SortOrder.DESCEND,
      sortTarget: RangeRequest_SortTarget.MOD,
      limit: 2n,
    });
  });

  it('reads historical revisions', async () => {
    await seed('r6/', [['a', '1']]);
    const first = okValue(await range('now', {key: b('r6/a')}));
    const rev = BigInt((first.header as {revision: number}).revision);
    await seed('r6/', [
      ['a', '2'],
      ['b', '1'],
    ]);
    await same(pair, s => s.kv.deleteRange({key: b('r6/a')}), 'delete');
    await range('at first', {key: b('r6/'), rangeEnd: prefixEnd('r6/'), revision: rev});
    await range('at second', {key: b('r6/'), rangeEnd: prefixEnd('r6/'), revision: rev + 1n});
    await range('at third', {key: b('r6/'), rangeEnd: prefixEnd('r6/'), revision: rev + 2n});
    await range('at current', {key: b('r6/'), rangeEnd: prefixEnd('r6/'), revision: rev + 3n});
    await range('future', {key: b('r6/a'), revision: rev + 4n});
    await range('far future', {key: b('r6/a'), revision: rev + 1000n});
    await range('negative', {key: b('r6/'), rangeEnd: prefixEnd('r6/'), revision: -5n});
    await range('historical count', {
      key: b('r6/'),
      rangeEnd: prefixEnd('r6/'),
      revision: rev + 1n,
      countOnly: true,
    });
  });

  it('rejects an empty key on range, put and delete', async () => {
    await range('range', {key: b('')});
    await same(pair, s => s.kv.put({key: b(''), value: b('x')}), 'put');
    await same(pair, s => s.kv.deleteRange({key: b('')}), 'delete');
  });

  it('puts with prev_kv, ignore_value and ignore_lease', async () => {
    const k = b('p1/k');
    await same(pair, s => s.kv.put({key: k, value: b('1'), prevKv: true}), 'first prev_kv');
    await same(pair, s => s.kv.put({key: k, value: b('2'), prevKv: true}), 'second prev_kv');
    await same(pair, s => s.kv.put({key: k, ignoreValue: true}), 'ignore value');
    await same(pair, s => s.kv.range({key: k}), 'after ignore value');
    await same(
      pair,
      s => s.kv.put({key: k, ignoreValue: true, value: b('x')}),
      'ignore value with value',
    );
    await same(
      pair,
      s => s.kv.put({key: b('p1/missing'), ignoreValue: true}),
      'ignore value missing',
    );
    await same(
      pair,
      s => s.kv.put({key: k, value: b('3'), ignoreLease: true, prevKv: true}),
      'ignore lease',
    );
    await same(
      pair,
      s => s.kv.put({key: k, value: b('3'), ignoreLease: true, lease: 5n}),
      'ignore lease with lease',
    );
    await same(
      pair,
      s => s.kv.put({key: b('p1/missing'), ignoreLease: true, value: b('x')}),
      'ignore lease missing',
    );
    await same(pair, s => s.kv.put({key: k, value: b('4'), lease: 424242n}), 'unknown lease');
    await same(
      pair,
      s => s.kv.put({key: k, ignoreValue: true, ignoreLease: true, prevKv: true}),
      'both ignores',
    );
    await same(pair, s => s.kv.range({key: k}), 'final');
  });

  it('deletes single keys and ranges with prev_kv', async () => {
    await seed('d1/', [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['d', '4'],
      ['e', '5'],
    ]);
    await same(pair, s => s.kv.deleteRange({key: b('d1/a'), prevKv: true}), 'single');
    await same(pair, s => s.kv.deleteRange({key: b('d1/a'), prevKv: true}), 'again');
    await same(
      pair,
      s => s.kv.deleteRange({key: b('d1/b'), rangeEnd: b('d1/d'), prevKv: true}),
      'range',
    );
    await same(pair, s => s.kv.deleteRange({key: b('d1/d')}), 'no prev_kv');
    await same(pair, s => s.kv.deleteRange({key: b('d1/x'), rangeEnd: b('d1/z')}), 'empty range');
    await same(
      pair,
      s => s.kv.deleteRange({key: b('d1/'), rangeEnd: b('\0'), prevKv: true}),
      'from key',
    );
    await same(pair, s => s.kv.range({key: b('d1/'), rangeEnd: prefixEnd('d1/')}), 'after');
  });

  it('evaluates compares of every target and result', async () => {
    await seed('t1/', [
      ['a', 'm'],
      ['a', 'n'],
      ['b', 'z'],
    ]);
    const targets = [
      [VERSION, {$case: 'version', value: 2n}],
      [CREATE, {$case: 'createRevision', value: 0n}],
      [MOD, {$case: 'modRevision', value: 1n}],
      [VALUE, {$case: 'value', value: b('n')}],
      [LEASE, {$case: 'lease', value: 0n}],
    ] as const;
    for (const [target, targetUnion] of targets) {
      for (const result of [EQUAL, GREATER, LESS, NOT_EQUAL]) {
        for (const key of ['t1/a', 't1/missing']) {
          for (const rangeEnd of ['', prefixEnd('t1/').toString()]) {
            await same(
              pair,
              s =>
                s.kv.txn({
                  compare: [{key: b(key), rangeEnd: b(rangeEnd), target, result, targetUnion}],
                  success: [get('t1/a')],
                  failure: [get('t1/b')],
                }),
              `target ${target} result ${result} key ${key} end ${rangeEnd}`,
            );
          }
        }
      }
    }
  });

  it('runs txns with writes, deletes and nested txns', async () => {
    await seed('t2/', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await same(
      pair,
      s =>
        s.kv.txn({
          compare: [
            {
              key: b('t2/a'),
              target: VALUE,
              result: EQUAL,
              targetUnion: {$case: 'value', value: b('1')},
            },
          ],
          success: [
            put('t2/c', '3'),
            {request: {$case: 'requestPut', value: {key: b('t2/a'), value: b('x'), prevKv: true}}},
            del('t2/b', '', true),
            get('t2/', prefixEnd('t2/').toString()),
          ],
          failure: [get('t2/a')],
        }),
      'multi op',
    );
    // The nested txn's own header differs; pinned by the next scenarios.
    await same(
      pair,
      s =>
        s.kv.txn({
          compare: [],
          success: [
            {
              request: {
                $case: 'requestTxn',
                value: {
                  compare: [
                    {
                      key: b('t2/c'),
                      target: VERSION,
                      result: GREATER,
                      targetUnion: {$case: 'version', value: 0n},
                    },
                  ],
                  success: [put('t2/n', 'then'), get('t2/n')],
                  failure: [put('t2/n', 'else')],
                },
              },
            },
            put('t2/m', 'outer'),
          ],
          failure: [],
        }),
      'nested',
    );
    await same(pair, s => s.kv.txn({}), 'empty txn');
    await same(pair, s => s.kv.txn({success: [get('t2/a')]}), 'read only');
    await same(pair, s => s.kv.txn({success: [del('t2/zz')]}), 'delete nothing');
    await same(pair, s => s.kv.range({key: b('t2/'), rangeEnd: prefixEnd('t2/')}), 'after');
  });

  it('leaves the header of a nested txn response at revision 0', async () => {
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {
              request: {
                $case: 'requestTxn',
                value: {compare: [], success: [put('t4/a')], failure: []},
              },
            },
          ],
        }),
      'nested txn header',
    );
  });

  // Inner response headers carry the revision the txn had reached when that op ran: the
  // pre-txn revision until the first change, the txn's own after it.
  it('numbers inner response headers by the revision reached at each op', async () => {
    await seed('t5/', [['a', '1']]);
    await same(
      pair,
      s =>
        s.kv.txn({success: [get('t5/a'), del('t5/none'), put('t5/b'), get('t5/b'), del('t5/a')]}),
      'inner headers',
    );
  });

  // etcd evaluates every compare of the whole txn tree against the state before the txn: a
  // nested txn's compares do not see the writes of earlier ops in the same outer txn.
  it('evaluates nested compares against the state before the txn', async () => {
    await seed('t6/', [['a', '1']]);
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            put('t6/a', '2'),
            {
              request: {
                $case: 'requestTxn',
                value: {
                  compare: [
                    {
                      key: b('t6/a'),
                      target: VALUE,
                      result: EQUAL,
                      targetUnion: {$case: 'value', value: b('1')},
                    },
                  ],
                  success: [get('t6/a')],
                  failure: [get('t6/none')],
                },
              },
            },
          ],
        }),
      'nested compare after a put',
    );
  });

  it('applies negative max revision filters', async () => {
    await seed('r7/', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await range('max create -1', {
      key: b('r7/'),
      rangeEnd: prefixEnd('r7/'),
      maxCreateRevision: -1n,
    });
    await range('max mod -1', {key: b('r7/'), rangeEnd: prefixEnd('r7/'), maxModRevision: -1n});
  });

  it('applies negative min revision filters', async () => {
    await seed('r8/', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await range('min create -1', {
      key: b('r8/'),
      rangeEnd: prefixEnd('r8/'),
      minCreateRevision: -1n,
    });
    await range('min mod -1', {key: b('r8/'), rangeEnd: prefixEnd('r8/'), minModRevision: -1n});
  });

  it('rejects invalid txns: duplicate keys, too many ops, empty keys', async () => {
    await same(pair, s => s.kv.txn({success: [put('t3/a'), put('t3/a')]}), 'duplicate put');
    await same(
      pair,
      s => s.kv.txn({success: [del('t3/', prefixEnd('t3/').toString()), put('t3/a')]}),
      'put in delete',
    );
    await same(pair, s => s.kv.txn({success: [del('t3/a'), del('t3/a')]}), 'overlapping deletes');
    await same(
      pair,
      s => s.kv.txn({success: [put('t3/a')], failure: [put('t3/a')]}),
      'same key in both branches',
    );
    const nested = (ops: RequestOp[]): RequestOp => ({
      request: {$case: 'requestTxn', value: {compare: [], success: ops, failure: []}},
    });
    await same(
      pair,
      s => s.kv.txn({success: [put('t3/a'), nested([put('t3/a')])]}),
      'duplicate in nested',
    );
    await same(
      pair,
      s => s.kv.txn({success: [nested([put('t3/b')]), nested([put('t3/b')])]}),
      'duplicate across nested',
    );
    const many = (n: number) => Array.from({length: n}, (_, i) => put(`t3/many/${i}`));
    await same(pair, s => s.kv.txn({success: many(128)}), '128 ops');
    await same(pair, s => s.kv.txn({success: many(129)}), '129 ops');
    await same(pair, s => s.kv.txn({failure: many(129)}), '129 failure ops');
    const compares = Array.from({length: 129}, () => ({
      key: b('t3/a'),
      target: VERSION,
      result: EQUAL,
    }));
    await same(pair, s => s.kv.txn({compare: compares}), '129 compares');
    await same(pair, s => s.kv.txn({success: [put('')]}), 'empty put key');
    await same(pair, s => s.kv.txn({success: [get('')]}), 'empty range key');
    await same(pair, s => s.kv.txn({success: [del('')]}), 'empty delete key');
    await same(
      pair,
      s => s.kv.txn({compare: [{key: b(''), target: VERSION, result: EQUAL}]}),
      'empty compare key',
    );
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [{request: {$case: 'requestPut', value: {key: b('t3/x'), ignoreValue: true}}}],
        }),
      'ignore value on missing key in txn',
    );
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestPut', value: {key: b('t3/x'), value: b('1'), lease: 99n}}},
          ],
        }),
      'unknown lease in txn',
    );
  });

  it('compacts and then refuses compacted and future revisions', async () => {
    await seed('c1/', [
      ['a', '1'],
      ['a', '2'],
      ['a', '3'],
      ['b', '1'],
    ]);
    const now = okValue(await range('now', {key: b('c1/a')}));
    const rev = BigInt((now.header as {revision: number}).revision);
    await same(pair, s => s.kv.compact({revision: rev - 2n}), 'compact');
    await range('below compact', {key: b('c1/a'), revision: rev - 3n});
    await range('at compact', {key: b('c1/'), rangeEnd: prefixEnd('c1/'), revision: rev - 2n});
    await range('after compact', {key: b('c1/'), rangeEnd: prefixEnd('c1/'), revision: rev - 1n});
    await same(pair, s => s.kv.compact({revision: rev - 2n}), 'same again');
    await same(pair, s => s.kv.compact({revision: rev - 3n}), 'older');
    await same(pair, s => s.kv.compact({revision: rev + 10n}), 'future');
    await same(pair, s => s.kv.compact({revision: rev, physical: true}), 'physical to current');
    await range('at new compact', {key: b('c1/'), rangeEnd: prefixEnd('c1/'), revision: rev});
    await range('below new compact', {
      key: b('c1/'),
      rangeEnd: prefixEnd('c1/'),
      revision: rev - 1n,
    });
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestRange', value: {key: b('c1/a'), revision: rev - 1n}}},
          ],
        }),
      'compacted read in txn',
    );
  });

  it('compacts to zero and negative revisions', async () => {
    await same(pair, s => s.kv.compact({revision: 0n}), 'zero');
    await same(pair, s => s.kv.compact({revision: -1n}), 'negative');
  });

  it('handles binary keys, 0xff prefixes and keys holding NUL', async () => {
    const keys = [
      Buffer.from([0xff]),
      Buffer.from([0xff, 0xff]),
      Buffer.from([0xff, 0x00]),
      Buffer.from('bin/\u0000a'),
      Buffer.from([0x62, 0x69, 0x6e, 0x2f, 0xfe]),
    ];
    for (const [i, key] of keys.entries()) {
      await same(pair, s => s.kv.put({key, value: Buffer.from([i, 0, 255])}), `put ${i}`);
    }
    await range('0xff from key', {key: Buffer.from([0xff]), rangeEnd: b('\0')});
    await range('0xff prefix', {key: Buffer.from([0xff]), rangeEnd: b('\0'), keysOnly: true});
    await range('bin/ prefix', {key: b('bin/'), rangeEnd: prefixEnd('bin/')});
    await same(
      pair,
      s => s.kv.deleteRange({key: Buffer.from([0xff]), rangeEnd: b('\0'), prevKv: true}),
      'delete 0xff',
    );
  });

  it('rejects a request over the size limit', async () => {
    const big = Buffer.alloc(1_600_000, 0x61);
    await same(pair, s => s.kv.put({key: b('big/a'), value: big}), 'put 1.6 MB');
    await same(pair, s => s.kv.txn({success: [put('big/b', 'x'.repeat(1_600_000))]}), 'txn 1.6 MB');
    await same(pair, s => s.kv.put({key: b('big/c'), value: Buffer.alloc(1_000_000)}), 'put 1 MB');
    await range('read 1 MB', {key: b('big/'), rangeEnd: prefixEnd('big/'), keysOnly: true});
  });

  // etcd 3.4 ignores an unknown sort_order and answers in key order (3.6 refuses it).
  // (An unknown sort_target is not compared: it makes etcd 3.4.23 panic.)
  it('answers an out-of-range sort order like etcd 3.4', async () => {
    await seed('e1/', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await range('sort order 7', {
      key: b('e1/'),
      rangeEnd: prefixEnd('e1/'),
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- out of range on purpose
      sortOrder: 7 as RangeRequest_SortOrder,
    });
  });

  it('deletes and ranges nothing when the end is not after the key', async () => {
    await seed('e2/', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await same(
      pair,
      s => s.kv.deleteRange({key: b('e2/b'), rangeEnd: b('e2/a')}),
      'delete end < key',
    );
    await same(
      pair,
      s => s.kv.deleteRange({key: b('e2/'), rangeEnd: b('e2/')}),
      'delete end = key',
    );
    await range('range end = key', {key: b('e2/a'), rangeEnd: b('e2/a')});
  });

  it('runs serializable ranges and serializable read-only txns', async () => {
    await seed('s1/', [['a', '1']]);
    await range('serializable', {key: b('s1/a'), serializable: true});
    await same(
      pair,
      s =>
        s.kv.txn({
          success: [
            {request: {$case: 'requestRange', value: {key: b('s1/a'), serializable: true}}},
          ],
        }),
      'serializable txn',
    );
  });
});
