import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {compare} from './compare.js';
import {createClient} from './etcd.js';
import type {Etcd} from './etcd.js';
import {CompactedError, EtcdError, FutureRevisionError, LeaseNotFoundError} from './errors.js';
import {op} from './ops.js';

describe.skipIf(etcdSkipReason !== undefined).each(testServers)('KV: $name', ({start}) => {
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

  const keys = (kvs: readonly {keyString: string}[]): string[] => kvs.map(kv => kv.keyString);

  it('puts and gets strings and bytes, and misses absent keys', async () => {
    const put = await client.kv.put('basic/a', 'alpha');
    expect(put.header.revision).toBeGreaterThan(1n);
    await client.kv.put(Buffer.from('basic/bin'), Uint8Array.from([0, 255, 7]));
    expect(await client.kv.getString('basic/a')).toBe('alpha');
    const bin = await client.kv.get('basic/bin');
    expect([...(bin?.value ?? [])]).toEqual([0, 255, 7]);
    expect(bin?.version).toBe(1n);
    expect(await client.kv.get('basic/missing')).toBeUndefined();
  });

  it('honours every range option', async () => {
    const first = await client.kv.put('r/a', '3');
    await client.kv.put('r/b', '1');
    await client.kv.put('r/c', '2');
    const afterC = await client.kv.put('r/a', '4'); // r/a: version 2, mod revision newest
    await client.kv.put('r/d', '0');
    await client.kv.put('rz', 'outside');
    const base = first.header.revision;

    expect(keys((await client.kv.range({prefix: 'r/'})).kvs)).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
    expect(keys((await client.kv.range({key: 'r/b', end: 'r/d'})).kvs)).toEqual(['r/b', 'r/c']);
    expect(keys((await client.kv.range({fromKey: 'r/c'})).kvs)).toEqual(['r/c', 'r/d', 'rz']);

    const limited = await client.kv.range({prefix: 'r/'}, {limit: 2});
    expect(keys(limited.kvs)).toEqual(['r/a', 'r/b']);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(4);

    const old = await client.kv.range({prefix: 'r/'}, {revision: base + 1n});
    expect(keys(old.kvs)).toEqual(['r/a', 'r/b']);
    expect(old.kvs[0]?.valueString).toBe('3');

    const byValueDesc = await client.kv.range(
      {prefix: 'r/'},
      {sort: {target: 'value', order: 'descend'}},
    );
    expect(byValueDesc.kvs.map(kv => kv.valueString)).toEqual(['4', '2', '1', '0']);
    const byModAsc = await client.kv.range(
      {prefix: 'r/'},
      {sort: {target: 'mod', order: 'ascend'}},
    );
    expect(keys(byModAsc.kvs)).toEqual(['r/b', 'r/c', 'r/a', 'r/d']);
    const byCreateDesc = await client.kv.range(
      {prefix: 'r/'},
      {sort: {target: 'create', order: 'descend'}, limit: 1},
    );
    expect(keys(byCreateDesc.kvs)).toEqual(['r/d']);
    const byVersion = await client.kv.range(
      {prefix: 'r/'},
      {sort: {target: 'version', order: 'descend'}, limit: 1},
    );
    expect(keys(byVersion.kvs)).toEqual(['r/a']);
    const byKeyDesc = await client.kv.range(
      {prefix: 'r/'},
      {sort: {target: 'key', order: 'descend'}},
    );
    expect(keys(byKeyDesc.kvs)).toEqual(['r/d', 'r/c', 'r/b', 'r/a']);

    const keysOnly = await client.kv.range({prefix: 'r/'}, {keysOnly: true});
    expect(keysOnly.kvs).toHaveLength(4);
    expect(keysOnly.kvs.every(kv => kv.value.length === 0)).toBe(true);

    const countOnly = await client.kv.range({prefix: 'r/'}, {countOnly: true});
    expect(countOnly.kvs).toHaveLength(0);
    expect(countOnly.count).toBe(4);

    const modWindow = await client.kv.range(
      {prefix: 'r/'},
      {minModRevision: base + 2n, maxModRevision: afterC.header.revision},
    );
    expect(keys(modWindow.kvs)).toEqual(['r/a', 'r/c']);
    const createWindow = await client.kv.range(
      {prefix: 'r/'},
      {minCreateRevision: base + 1n, maxCreateRevision: base + 2n},
    );
    expect(keys(createWindow.kvs)).toEqual(['r/b', 'r/c']);

    const serializable = await client.kv.range({prefix: 'r/'}, {serializable: true});
    expect(serializable.count).toBe(4);
  });

  it('puts with lease, prevKv, ignoreValue and ignoreLease', async () => {
    const lease = await client.lease.grant(30);
    await client.kv.put('p/k', 'v1', {lease: lease.id});
    const replaced = await client.kv.put('p/k', 'v2', {prevKv: true, ignoreLease: true});
    expect(replaced.prevKv?.valueString).toBe('v1');
    expect((await client.kv.get('p/k'))?.lease).toBe(lease.id);
    await client.kv.put('p/k', '', {ignoreValue: true, lease: 0n});
    const now = await client.kv.get('p/k');
    expect(now?.valueString).toBe('v2');
    expect(now?.lease).toBe(0n);
    await expect(client.kv.put('p/absent', '', {ignoreValue: true})).rejects.toMatchObject({
      etcdName: 'keyNotFound',
    });
    await expect(client.kv.put('p/k', 'v', {lease: 0x7777n})).rejects.toBeInstanceOf(
      LeaseNotFoundError,
    );
    await client.lease.revoke(lease.id);
  });

  it('deletes keys, prefixes and ranges with prevKv', async () => {
    await client.kv.put('d/1', 'a');
    await client.kv.put('d/2', 'b');
    await client.kv.put('d/3', 'c');
    const one = await client.kv.delete('d/1', {prevKv: true});
    expect(one.deleted).toBe(1);
    expect(one.prevKvs.map(kv => kv.valueString)).toEqual(['a']);
    const rest = await client.kv.delete({prefix: 'd/'});
    expect(rest.deleted).toBe(2);
    expect(rest.prevKvs).toEqual([]);
    expect((await client.kv.range({prefix: 'd/'})).count).toBe(0);
  });

  it('runs transactions guarded by every compare target', async () => {
    const lease = await client.lease.grant(30);
    const created = await client.kv.put('t/k', 'v', {lease: lease.id});
    const rev = created.header.revision;
    const cases = [
      [compare.version('t/k', '=', 1), true],
      [compare.version('t/k', '>', 1), false],
      [compare.createRevision('t/k', '=', rev), true],
      [compare.createRevision('t/k', '<', rev), false],
      [compare.modRevision('t/k', '=', rev), true],
      [compare.modRevision('t/k', '!=', rev), false],
      [compare.value('t/k', '=', 'v'), true],
      [compare.value('t/k', '>', 'w'), false],
      [compare.lease('t/k', '=', lease.id), true],
      [compare.lease('t/k', '=', 0), false],
      [compare.version('t/absent', '=', 0), true],
      [compare.value('t/absent', '!=', 'x'), false],
      [compare.version({prefix: 't/'}, '=', 1), true],
    ] as const;
    for (const [condition, expected] of cases) {
      const result = await client.kv
        .txn()
        .if(condition)
        .then(op.get('t/k'))
        .else(op.put('te/else', 'ran'))
        .commit();
      expect({condition, succeeded: result.succeeded}).toEqual({condition, succeeded: expected});
      expect(result.responses[0]?.type).toBe(expected ? 'range' : 'put');
    }
    await client.lease.revoke(lease.id);
  });

  it('runs nested transactions and returns every branch result', async () => {
    await client.kv.put('n/a', '1');
    const inner = client.kv
      .txn()
      .if(compare.value('n/a', '=', '1'))
      .then(op.put('n/b', 'inner', {prevKv: true}))
      .else(op.get('n/a'));
    const result = await client.kv
      .txn()
      .if(compare.version('n/a', '>', 0))
      .then(
        op.put('n/c', 'outer'),
        inner.toOp(),
        op.txn([compare.value('n/a', '=', 'nope')], [], [op.delete('n/a', {prevKv: true})]),
      )
      .commit();
    expect(result.succeeded).toBe(true);
    expect(result.responses.map(r => r.type)).toEqual(['put', 'txn', 'txn']);
    const first = result.responses[1];
    expect(first?.type === 'txn' && first.succeeded).toBe(true);
    const second = result.responses[2];
    expect(second?.type === 'txn' && !second.succeeded).toBe(true);
    const deleted = second?.type === 'txn' ? second.responses[0] : undefined;
    expect(deleted?.type === 'delete' ? deleted.prevKvs.map(kv => kv.valueString) : []).toEqual([
      '1',
    ]);
    expect(await client.kv.getString('n/b')).toBe('inner');
    expect(await client.kv.get('n/a')).toBeUndefined();
  });

  it('refuses to be awaited as a promise', async () => {
    const txn = client.kv.txn().then(op.get('x'));
    await expect((async () => await (txn as unknown as Promise<unknown>))()).rejects.toThrow(
      /commit\(\)/,
    );
  });

  it('reports compaction and future revisions as typed errors', async () => {
    const first = await client.kv.put('c/k', '1');
    await client.kv.put('c/k', '2');
    const last = await client.kv.put('c/k', '3');
    await client.kv.compact(last.header.revision, {physical: true});
    const compacted = client.kv.get('c/k', {revision: first.header.revision});
    await expect(compacted).rejects.toBeInstanceOf(CompactedError);
    await expect(compacted).rejects.toMatchObject({
      etcdName: 'compacted',
      details: 'etcdserver: mvcc: required revision has been compacted',
    });
    expect((await client.kv.get('c/k', {revision: last.header.revision}))?.valueString).toBe('3');
    await expect(client.kv.compact(first.header.revision)).rejects.toBeInstanceOf(CompactedError);
    await expect(
      client.kv.get('c/k', {revision: last.header.revision + 1000n}),
    ).rejects.toBeInstanceOf(FutureRevisionError);
  });

  it('keeps namespaces apart and strips their prefix', async () => {
    const app = client.namespace('ns/app/');
    const other = client.namespace('ns/other/');
    await app.kv.put('k', 'mine');
    await other.kv.put('k', 'theirs');
    await client.kv.put('ns/app', 'just outside');
    await client.kv.put('ns/app0', 'after the prefix end');

    expect(await app.kv.getString('k')).toBe('mine');
    expect(await other.kv.getString('k')).toBe('theirs');
    expect(await client.kv.getString('ns/app/k')).toBe('mine');
    expect(keys((await app.kv.range({prefix: ''})).kvs)).toEqual(['k']);
    expect(keys((await app.kv.range({fromKey: 'a'})).kvs)).toEqual(['k']);
    expect(keys((await app.kv.range({key: 'a', end: '\0'})).kvs)).toEqual(['k']);

    const txn = await app.kv
      .txn()
      .if(compare.value('k', '=', 'mine'))
      .then(op.put('t', 'x', {prevKv: true}), op.range({prefix: ''}))
      .commit();
    expect(txn.succeeded).toBe(true);
    const listed = txn.responses[1];
    expect(listed?.type === 'range' ? keys(listed.kvs) : []).toEqual(['k', 't']);
    expect(await client.kv.getString('ns/app/t')).toBe('x');

    const nested = app.namespace('deeper/');
    await nested.kv.put('z', '1');
    expect(await client.kv.getString('ns/app/deeper/z')).toBe('1');

    const removed = await app.kv.delete({prefix: ''}, {prevKv: true});
    expect(keys(removed.prevKvs).sort()).toEqual(['deeper/z', 'k', 't']);
    expect(await other.kv.getString('k')).toBe('theirs');
    expect(await client.kv.getString('ns/app')).toBe('just outside');
    expect(await client.kv.getString('ns/app0')).toBe('after the prefix end');
  });

  it('maps server errors to EtcdError with the gRPC code and etcd name', async () => {
    const error = await client.kv.put('', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtcdError);
    expect(error).toMatchObject({etcdName: 'emptyKey', code: 3});
  });

  it('honours an abort signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(client.kv.get('x', {signal: controller.signal})).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});
