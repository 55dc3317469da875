import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {KvExecutor} from '../mvcc/kv-executor.js';
import {KvStore} from '../mvcc/kv-store.js';
import {Lessor} from './lessor.js';

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
const stores: KvStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

function open(dir?: string) {
  const d = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'synod-lease-'));
  if (dir === undefined) dirs.push(d);
  const clock = {now: 1_000_000};
  const lessor = new Lessor({nowMs: () => clock.now, minTtlSeconds: 2});
  const store = KvStore.open(d, {leaseHooks: lessor});
  stores.push(store);
  lessor.restore(store.backend);
  const exec = new KvExecutor(store, {leaseExists: id => lessor.exists(id)});
  return {dir: d, clock, lessor, store, exec};
}

const keysOf = (l: Lessor, id: bigint) =>
  l.timeToLive(id)?.keys.map(k => Buffer.from(k).toString());

describe('Lessor', () => {
  it('indexes attached keys, moves a key between leases, and raises short TTLs', () => {
    const {lessor, exec} = open();
    expect(lessor.grant(1n, 1).grantedTtlSeconds).toBe(2);
    lessor.grant(2n, 60);
    exec.put({key: b('a'), value: b(''), lease: 1n});
    exec.put({key: b('b'), value: b(''), lease: 1n});
    expect(keysOf(lessor, 1n)).toEqual(['a', 'b']);
    exec.put({key: b('b'), value: b(''), lease: 2n});
    expect(keysOf(lessor, 1n)).toEqual(['a']);
    expect(keysOf(lessor, 2n)).toEqual(['b']);
    exec.put({key: b('a'), value: b('')});
    exec.deleteRange({key: b('b')});
    expect(keysOf(lessor, 1n)).toEqual([]);
    expect(keysOf(lessor, 2n)).toEqual([]);
  });

  it('revokes a lease by deleting its keys in one revision', () => {
    const {lessor, exec, store} = open();
    lessor.grant(5n, 10);
    for (const k of ['x', 'y', 'z']) exec.put({key: b(k), value: b(''), lease: 5n});
    exec.put({key: b('keep'), value: b('')});
    const before = store.rev();
    lessor.revoke(5n, store);
    expect(store.rev()).toBe(before + 1);
    expect(
      exec
        .range({key: b('a'), rangeEnd: b('zz')})
        .response.kvs.map(kv => Buffer.from(kv.key).toString()),
    ).toEqual(['keep']);
    expect(lessor.exists(5n)).toBe(false);
    expect(() => {
      lessor.revoke(5n, store);
    }).toThrow('etcdserver: requested lease not found');
  });

  it('uses etcd errors for duplicate ids and too large TTLs', () => {
    const {lessor} = open();
    lessor.grant(1n, 10);
    expect(() => lessor.grant(1n, 10)).toThrow('etcdserver: lease already exists');
    expect(() => lessor.grant(2n, 9_000_000_001)).toThrow('etcdserver: too large lease TTL');
  });

  it('persists leases with checkpoints and rebuilds the key index on reopen', async () => {
    const first = open();
    first.lessor.grant(9n, 100);
    first.exec.put({key: b('k1'), value: b(''), lease: 9n});
    first.exec.put({key: b('k2'), value: b(''), lease: 9n});
    first.exec.deleteRange({key: b('k2')});
    first.lessor.checkpoint(9n, 40);
    await first.store.commit();
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);

    const again = open(first.dir);
    expect(again.lessor.list()).toEqual([9n]);
    expect(keysOf(again.lessor, 9n)).toEqual(['k1']);
    again.lessor.promote(1000);
    expect(again.lessor.timeToLive(9n)?.ttlSeconds).toBe(41);
  });

  it('expires leases only on the primary, by the injected clock', () => {
    const {lessor, clock} = open();
    lessor.grant(1n, 10);
    lessor.grant(2n, 20);
    clock.now += 60_000;
    expect(lessor.expired()).toEqual([]);
    lessor.promote(0);
    clock.now += 15_000;
    expect(lessor.expired()).toEqual([1n]);
    expect(lessor.renew(1n)).toBe(10);
    expect(lessor.expired()).toEqual([]);
    clock.now += 10_000;
    expect(lessor.expired()).toEqual([2n, 1n]);
    lessor.demote();
    expect(lessor.expired()).toEqual([]);
  });

  it('asks for checkpoints of elapsed time, and for clearing one a renewal made stale', () => {
    const {lessor, clock} = open();
    lessor.grant(1n, 60);
    lessor.grant(2n, 60);
    expect(lessor.checkpointsDue()).toEqual([]);
    lessor.promote(0);
    expect(lessor.checkpointsDue()).toEqual([]);
    clock.now += 20_500;
    expect(lessor.checkpointsDue()).toEqual([
      {id: 1n, remainingTtlSeconds: 40},
      {id: 2n, remainingTtlSeconds: 40},
    ]);
    lessor.checkpoint(1n, 40);
    lessor.checkpoint(2n, 40);
    expect(lessor.checkpointsDue()).toEqual([]);
    lessor.renew(1n);
    expect(lessor.hasCheckpoint(1n)).toBe(true);
    expect(lessor.checkpointsDue()).toEqual([{id: 1n, remainingTtlSeconds: 0}]);
    lessor.checkpoint(1n, 0);
    expect(lessor.hasCheckpoint(1n)).toBe(false);
    // A new leader resumes lease 2 from its checkpoint, lease 1 from its full TTL.
    lessor.demote();
    lessor.promote(0);
    expect(lessor.timeToLive(1n)?.ttlSeconds).toBe(60);
    expect(lessor.timeToLive(2n)?.ttlSeconds).toBe(40);
  });
});
