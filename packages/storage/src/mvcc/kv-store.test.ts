import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {KvExecutor} from './kv-executor.js';
import {KvStore} from './kv-store.js';
import {CompareResult, CompareTarget, SortOrder, SortTarget} from './requests.js';
import {StorageError} from './storage-error.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (u: Uint8Array): string => Buffer.from(u).toString();
const dirs: string[] = [];
const stores: KvStore[] = [];
function openStore(dir?: string): {store: KvStore; exec: KvExecutor; dir: string} {
  const d = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'synod-mvcc-'));
  if (dir === undefined) dirs.push(d);
  const store = KvStore.open(d);
  stores.push(store);
  return {store, exec: new KvExecutor(store, {leaseExists: id => id === 7n}), dir: d};
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

function errorOf(fn: () => unknown): StorageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  throw new Error('expected a StorageError');
}

describe('KvStore revisions', () => {
  it('starts at revision 1 and gives the first put revision 2, like etcd', () => {
    const {store, exec} = openStore();
    expect(store.rev()).toBe(1);
    expect(store.firstRev()).toBe(-1);
    expect(exec.put({key: b('a'), value: b('1')}).revision).toBe(2);
    const kv = exec.range({key: b('a')}).response.kvs[0];
    expect(kv).toMatchObject({createRevision: 2, modRevision: 2, version: 1});
    exec.put({key: b('a'), value: b('2')});
    expect(exec.range({key: b('a')}).response.kvs[0]).toMatchObject({
      createRevision: 2,
      modRevision: 3,
      version: 2,
    });
  });

  it('does not move the revision for a delete that matches nothing', () => {
    const {store, exec} = openStore();
    exec.put({key: b('a'), value: b('1')});
    expect(exec.deleteRange({key: b('zz')}).response.deleted).toBe(0);
    expect(store.rev()).toBe(2);
    expect(exec.deleteRange({key: b('a'), prevKv: true}).response).toMatchObject({deleted: 1});
    expect(store.rev()).toBe(3);
  });

  it('resets create revision and version after delete and re-put', () => {
    const {exec} = openStore();
    exec.put({key: b('k'), value: b('1')});
    exec.deleteRange({key: b('k')});
    exec.put({key: b('k'), value: b('2')});
    expect(exec.range({key: b('k')}).response.kvs[0]).toMatchObject({
      createRevision: 4,
      version: 1,
    });
    expect(exec.range({key: b('k'), revision: 3}).response.kvs).toEqual([]);
    expect(str(exec.range({key: b('k'), revision: 2}).response.kvs[0]?.value ?? b(''))).toBe('1');
  });
});

describe('KvExecutor range options', () => {
  function seeded() {
    const s = openStore();
    for (const [k, v] of [
      ['a', '3'],
      ['b', '1'],
      ['c', '2'],
      ['d', '0'],
    ] as const) {
      s.exec.put({key: b(k), value: b(v)});
    }
    s.exec.put({key: b('b'), value: b('9')});
    return s;
  }

  it('limits with more and an unlimited count', () => {
    const {exec} = seeded();
    const r = exec.range({key: b('a'), rangeEnd: b('z'), limit: 2}).response;
    expect(r.kvs.map(kv => str(kv.key))).toEqual(['a', 'b']);
    expect(r.more).toBe(true);
    expect(r.count).toBe(4);
    expect(exec.range({key: b('a'), rangeEnd: b('z'), limit: 4}).response.more).toBe(false);
  });

  it('treats \\0 as "all keys >= key" and an empty end as a single key', () => {
    const {exec} = seeded();
    expect(exec.range({key: b('b'), rangeEnd: Buffer.of(0)}).response.count).toBe(3);
    expect(exec.range({key: Buffer.of(0), rangeEnd: Buffer.of(0)}).response.count).toBe(4);
    expect(exec.range({key: b('b')}).response.count).toBe(1);
  });

  it('sorts by target, ascending when the order is NONE but the target is not KEY', () => {
    const {exec} = seeded();
    const keys = (order: SortOrder, target: SortTarget): string[] =>
      exec
        .range({key: b('a'), rangeEnd: b('z'), sortOrder: order, sortTarget: target})
        .response.kvs.map(kv => str(kv.key));
    expect(keys(SortOrder.None, SortTarget.Value)).toEqual(['d', 'c', 'a', 'b']);
    expect(keys(SortOrder.Descend, SortTarget.Value)).toEqual(['b', 'a', 'c', 'd']);
    expect(keys(SortOrder.Descend, SortTarget.Key)).toEqual(['d', 'c', 'b', 'a']);
    expect(keys(SortOrder.Ascend, SortTarget.Mod)).toEqual(['a', 'c', 'd', 'b']);
    expect(keys(SortOrder.Descend, SortTarget.Version)[0]).toBe('b');
    const last = exec.range({
      key: b('a'),
      rangeEnd: b('z'),
      sortOrder: SortOrder.Descend,
      sortTarget: SortTarget.Create,
      limit: 1,
    }).response;
    expect(last.kvs.map(kv => str(kv.key))).toEqual(['d']);
    expect(last.more).toBe(true);
  });

  it('filters by mod and create revision, keys_only and count_only', () => {
    const {exec} = seeded();
    const r = exec.range({key: b('a'), rangeEnd: b('z'), minModRevision: 4, maxCreateRevision: 4});
    expect(r.response.kvs.map(kv => str(kv.key))).toEqual(['b', 'c']);
    expect(r.response.count).toBe(4);
    const ko = exec.range({key: b('a'), rangeEnd: b('z'), keysOnly: true}).response;
    expect(ko.kvs.every(kv => kv.value.length === 0)).toBe(true);
    const co = exec.range({key: b('a'), rangeEnd: b('z'), countOnly: true}).response;
    expect(co.kvs).toEqual([]);
    expect(co.count).toBe(4);
  });

  it('rejects future and compacted revisions with etcd messages', async () => {
    const {store, exec} = seeded();
    expect(errorOf(() => exec.range({key: b('a'), revision: 99})).message).toBe(
      'mvcc: required revision is a future revision',
    );
    await store.compact(4).done;
    expect(exec.range({key: b('a'), rangeEnd: b('z'), revision: 4}).response.count).toBe(3);
    const e = errorOf(() => exec.range({key: b('a'), revision: 3}));
    expect(e.message).toBe('mvcc: required revision has been compacted');
    expect(e.code).toBe('OutOfRange');
    expect(errorOf(() => store.compact(4)).message).toBe(
      'mvcc: required revision has been compacted',
    );
    expect(errorOf(() => store.compact(100)).message).toBe(
      'mvcc: required revision is a future revision',
    );
  });

  it('rejects an empty key', () => {
    const {exec} = openStore();
    expect(errorOf(() => exec.range({key: b('')})).message).toBe('etcdserver: key is not provided');
    expect(errorOf(() => exec.put({key: b(''), value: b('x')})).message).toBe(
      'etcdserver: key is not provided',
    );
  });
});

describe('KvExecutor put options', () => {
  it('returns prev_kv and honours ignore_value / ignore_lease', () => {
    const {exec} = openStore();
    exec.put({key: b('k'), value: b('v1'), lease: 7n});
    const r = exec.put({key: b('k'), value: b('v2'), prevKv: true, ignoreLease: true}).response;
    expect(str(r.prevKv?.value ?? b(''))).toBe('v1');
    expect(exec.range({key: b('k')}).response.kvs[0]?.lease).toBe(7n);
    exec.put({key: b('k'), value: b(''), ignoreValue: true});
    const kv = exec.range({key: b('k')}).response.kvs[0];
    expect(str(kv?.value ?? b(''))).toBe('v2');
    expect(kv?.lease).toBe(0n);
  });

  it('uses etcd error strings for bad put options', () => {
    const {exec} = openStore();
    expect(errorOf(() => exec.put({key: b('k'), value: b('x'), ignoreValue: true})).message).toBe(
      'etcdserver: value is provided',
    );
    expect(
      errorOf(() => exec.put({key: b('k'), value: b(''), lease: 7n, ignoreLease: true})).message,
    ).toBe('etcdserver: lease is provided');
    expect(errorOf(() => exec.put({key: b('k'), value: b(''), ignoreValue: true})).message).toBe(
      'etcdserver: key not found',
    );
    const e = errorOf(() => exec.put({key: b('k'), value: b('x'), lease: 5n}));
    expect(e.message).toBe('etcdserver: requested lease not found');
    expect(e.code).toBe('NotFound');
  });
});

describe('KvExecutor txn', () => {
  it('runs one branch at one revision with sub-revisions in op order', () => {
    const {store, exec} = openStore();
    const r = exec.txn({
      compare: [
        {key: b('k'), target: CompareTarget.Create, result: CompareResult.Equal, createRevision: 0},
      ],
      success: [
        {put: {key: b('k'), value: b('1')}},
        {put: {key: b('j'), value: b('2')}},
        {range: {key: b('j')}},
      ],
      failure: [],
    });
    expect(r.response.succeeded).toBe(true);
    expect(r.revision).toBe(2);
    expect(store.rev()).toBe(2);
    const inner = r.response.responses[2];
    expect(inner !== undefined && 'range' in inner ? inner.range.count : -1).toBe(1);
    const again = exec.txn({
      compare: [
        {key: b('k'), target: CompareTarget.Create, result: CompareResult.Equal, createRevision: 0},
      ],
      success: [{put: {key: b('k'), value: b('x')}}],
      failure: [{range: {key: b('k')}}],
    });
    expect(again.response.succeeded).toBe(false);
    expect(store.rev()).toBe(2);
  });

  it('compares over every key of a range; VALUE on a missing key is false', () => {
    const {exec} = openStore();
    exec.put({key: b('p/1'), value: b('a')});
    exec.put({key: b('p/2'), value: b('b')});
    const cmp = (result: CompareResult, value: string, key = 'p/') =>
      exec.txn({
        compare: [
          {key: b(key), rangeEnd: b('p0'), target: CompareTarget.Value, result, value: b(value)},
        ],
        success: [],
        failure: [],
      }).response.succeeded;
    expect(cmp(CompareResult.Greater, '0')).toBe(true);
    expect(cmp(CompareResult.Equal, 'a')).toBe(false);
    expect(cmp(CompareResult.Less, 'c')).toBe(true);
    expect(cmp(CompareResult.NotEqual, 'zzz', 'q/')).toBe(false);
  });

  it('rejects duplicate writes in a branch but allows them across nested branches', () => {
    const {exec} = openStore();
    const dup = (success: Parameters<KvExecutor['txn']>[0]['success']) =>
      errorOf(() => exec.txn({compare: [], success, failure: []})).message;
    expect(dup([{put: {key: b('a'), value: b('1')}}, {put: {key: b('a'), value: b('2')}}])).toBe(
      'etcdserver: duplicate key given in txn request',
    );
    expect(
      dup([{deleteRange: {key: b('a'), rangeEnd: b('c')}}, {put: {key: b('b'), value: b('2')}}]),
    ).toBe('etcdserver: duplicate key given in txn request');
    expect(
      dup([
        {put: {key: b('a'), value: b('1')}},
        {txn: {compare: [], success: [{put: {key: b('a'), value: b('2')}}], failure: []}},
      ]),
    ).toBe('etcdserver: duplicate key given in txn request');
    const ok = exec.txn({
      compare: [],
      success: [
        {
          txn: {
            compare: [],
            success: [{put: {key: b('a'), value: b('s')}}],
            failure: [{put: {key: b('a'), value: b('f')}}],
          },
        },
        {deleteRange: {key: b('x'), rangeEnd: b('z')}},
        {deleteRange: {key: b('y')}},
      ],
      failure: [],
    });
    expect(ok.response.succeeded).toBe(true);
  });

  it('rejects too many operations, with nested txns counting against the remaining budget', () => {
    const {exec} = openStore();
    const puts = (n: number) =>
      Array.from({length: n}, (_, i) => ({put: {key: b(`k${i}`), value: b('')}}));
    expect(errorOf(() => exec.txn({compare: [], success: puts(129), failure: []})).message).toBe(
      'etcdserver: too many operations in txn request',
    );
    expect(exec.txn({compare: [], success: puts(128), failure: []}).response.succeeded).toBe(true);
    const nested = {txn: {compare: [], success: puts(2), failure: []}};
    expect(
      errorOf(() => exec.txn({compare: [], success: [...puts(127), nested], failure: []})).message,
    ).toBe('etcdserver: too many operations in txn request');
  });

  it('writes nothing when a put in the chosen branch fails its checks', () => {
    const {store, exec} = openStore();
    const e = errorOf(() =>
      exec.txn({
        compare: [],
        success: [
          {put: {key: b('a'), value: b('1')}},
          {put: {key: b('b'), value: b('1'), lease: 99n}},
        ],
        failure: [],
      }),
    );
    expect(e.message).toBe('etcdserver: requested lease not found');
    expect(store.rev()).toBe(1);
    expect(exec.range({key: b('a')}).response.count).toBe(0);
  });
});

describe('KvStore persistence and compaction', () => {
  it('rebuilds the index from the backend on reopen, with consistent index and compaction', async () => {
    const {store, exec, dir} = openStore();
    for (let i = 0; i < 20; i++) exec.put({key: b(`k${i % 5}`), value: b(`v${i}`)});
    exec.deleteRange({key: b('k3')});
    store.setConsistentIndex(42);
    await store.compact(10).done;
    const hashBefore = await store.hashKV(0);
    await store.commit();
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    const again = openStore(dir);
    expect(again.store.rev()).toBe(22);
    expect(again.store.firstRev()).toBe(10);
    expect(again.store.consistentIndex()).toBe(42);
    expect(again.exec.range({key: b('k'), rangeEnd: b('l')}).response.count).toBe(4);
    expect(again.exec.range({key: b('k'), rangeEnd: b('l'), revision: 10}).response.count).toBe(5);
    expect(await again.store.hashKV(0)).toEqual(hashBefore);
  });

  it('keeps an overwritten key’s create revision, version and lease across a compaction and a reopen', async () => {
    const {store, exec, dir} = openStore();
    exec.put({key: b('a'), value: b('1')});
    exec.put({key: b('a'), value: b('2'), lease: 7n});
    await store.compact(3).done;
    await store.commit();
    await store.close();
    stores.splice(stores.indexOf(store), 1);

    const detached: string[] = [];
    const again = KvStore.open(dir, {
      leaseHooks: {
        attach: () => undefined,
        detach: (lease, key) => detached.push(`${lease} ${str(key)}`),
      },
    });
    stores.push(again);
    const exec2 = new KvExecutor(again, {leaseExists: id => id === 7n});
    exec2.put({key: b('a'), value: b('3')});
    expect(exec2.range({key: b('a')}).response.kvs[0]).toMatchObject({
      createRevision: 2,
      modRevision: 4,
      version: 3,
      lease: 0n,
    });
    expect(detached).toEqual(['7 a']);
    exec2.deleteRange({key: b('a')});
    exec2.put({key: b('a'), value: b('4')});
    expect(exec2.range({key: b('a')}).response.kvs[0]).toMatchObject({
      createRevision: 6,
      version: 1,
    });
  });

  it('removes compacted revisions from the backend in several steps and hashes deterministically', async () => {
    const a = openStore();
    const c = openStore();
    for (const s of [a, c]) {
      for (let i = 0; i < 500; i++) s.exec.put({key: b(`k${i % 50}`), value: b(`v${i}`)});
    }
    const before = [...a.store.backend.range('key', Buffer.alloc(0))].length;
    expect(before).toBe(500);
    await a.store.compact(400).done;
    const after = [...a.store.backend.range('key', Buffer.alloc(0))].length;
    // 50 keys keep their revision at or below 400, plus the 101 revisions after it.
    expect(after).toBe(50 + 101);
    await c.store.compact(400).done;
    expect(await a.store.hashKV(450)).toEqual(await c.store.hashKV(450));
    c.exec.put({key: b('extra'), value: b('')});
    expect((await a.store.hashKV(501)).hash).not.toBe((await c.store.hashKV(502)).hash);
  });
});
