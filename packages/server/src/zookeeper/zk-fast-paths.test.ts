import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {ZkOp} from '@synod/proto/synodpb';
import {KvStore, Lessor, WatchableStore} from '@synod/storage';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {JuteWriter} from './jute-writer.js';
import {ZkStateMachine} from './zk-state-machine.js';
import {ZkWatchHub} from './zk-watch-hub.js';
import type {ZkWatchListener} from './zk-watch-hub.js';
import type {ZkChange} from './zk-watch-table.js';
import {JuteDecodeError} from './jute-reader.js';
import type {ZnodeRecord} from './znode-record.js';
import {
  decodeCounters,
  decodeZnode,
  encodeCounters,
  encodeZnode,
  znodeMzxid,
} from './znode-record.js';

/**
 * The shortcuts the ZooKeeper hot path takes (issue #20's figures) give what the long way
 * gives: a long written from a number, an mzxid read in place, a session's presence from the
 * key index, and a watch hub that skips the changes nobody watches but never a session's end.
 */
describe('ZooKeeper hot-path shortcuts', () => {
  it('writes a number as a long exactly as its BigInt', () => {
    const values = [0, 1, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 32 + 7, -(2 ** 32) - 7];
    for (const v of [
      ...values,
      1_733_480_000_123,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
    ]) {
      expect(new JuteWriter().long(v).bytes(), String(v)).toEqual(
        new JuteWriter().long(BigInt(v)).bytes(),
      );
    }
  });

  it("reads a record's mzxid in place as decoding it does, and nothing from a foreign value", () => {
    for (const mzxid of [0, 5, 2 ** 31, 2 ** 40 + 3]) {
      const record = encodeZnode({
        data: Buffer.from('payload'),
        version: 3,
        aversion: 1,
        ephemeralOwner: -5n,
        ctimeMs: 1_733_480_000_000,
        mtimeMs: 1_733_480_000_500,
        mzxid,
        container: false,
        ttlMs: 0,
        acl: [{perms: 31, scheme: 'world', id: 'anyone'}],
      });
      expect(znodeMzxid(record)).toBe(decodeZnode(record).mzxid);
      expect(znodeMzxid(record)).toBe(mzxid);
    }
    expect(znodeMzxid(Buffer.from('written by etcdctl, not a znode record'))).toBeUndefined();
    expect(znodeMzxid(Buffer.alloc(10))).toBeUndefined();
  });

  it('encodes a record byte for byte as a jute writer does, and decodes it back', () => {
    // The stored format as written before the direct encoder: what old members hold.
    const juteOf = (r: ZnodeRecord): Buffer => {
      const flags = (r.container ? 1 : 0) | (r.ttlMs > 0 ? 2 : 0) | (r.nullData === true ? 4 : 0);
      const w = new JuteWriter()
        .int(1)
        .int(flags)
        .int(r.version)
        .int(r.aversion)
        .long(r.ephemeralOwner)
        .long(r.ctimeMs)
        .long(r.mtimeMs)
        .long(r.mzxid)
        .long(r.ttlMs)
        .int(r.acl.length);
      for (const a of r.acl) w.int(a.perms).string(a.scheme).string(a.id);
      return Buffer.from(w.buffer(r.data).bytes());
    };
    const base: ZnodeRecord = {
      data: Buffer.from('payload'),
      version: 3,
      aversion: 1,
      ephemeralOwner: 0n,
      ctimeMs: 1_733_480_000_000,
      mtimeMs: 1_733_480_000_500,
      mzxid: 2 ** 40 + 3,
      container: false,
      ttlMs: 0,
      acl: [{perms: 31, scheme: 'world', id: 'anyone'}],
      nullData: false,
    };
    const records: ZnodeRecord[] = [
      base,
      {...base, data: Buffer.alloc(0), nullData: true, ephemeralOwner: 0x7fff_ffff_ffff_fffen},
      {...base, ephemeralOwner: -5n, version: -1, aversion: -1, container: true},
      {...base, ttlMs: 2 ** 40 - 1, ctimeMs: 0, mtimeMs: -1},
      {
        ...base,
        acl: [
          {perms: 1, scheme: 'digest', id: 'bob:Zx8Kc/9Zl3+qFHv+4yx0wz3QRYo='},
          {perms: 16, scheme: 'ip', id: '10.0.0.0/8'},
          {perms: 3, scheme: 'x509', id: 'CN=Grüße,O=测试'},
        ],
      },
      {...base, acl: [], data: Buffer.alloc(2000, 7)},
    ];
    for (const r of records) {
      const encoded = encodeZnode(r);
      expect(encoded.equals(juteOf(r))).toBe(true);
      expect(decodeZnode(encoded)).toEqual({...r, data: Buffer.from(r.data)});
      // Decoded twice (the second from the shared ACL), the same.
      expect(decodeZnode(juteOf(r))).toEqual(decodeZnode(encoded));
    }
    const counters = {cversion: -2, pzxid: 2 ** 35 + 1, numChildren: 7};
    expect(encodeCounters(counters)).toEqual(
      new JuteWriter()
        .int(-2)
        .long(2 ** 35 + 1)
        .int(7)
        .bytes(),
    );
    expect(decodeCounters(encodeCounters(counters))).toEqual(counters);
  });

  it('refuses a record cut short or of another format, as reading it with jute did', () => {
    const encoded = encodeZnode({
      data: Buffer.from('xyz'),
      version: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      ctimeMs: 1,
      mtimeMs: 1,
      mzxid: 1,
      container: false,
      ttlMs: 0,
      acl: [{perms: 31, scheme: 'world', id: 'anyone'}],
    });
    for (const cut of [0, 3, 20, 60, 64, encoded.length - 1]) {
      expect(() => decodeZnode(encoded.subarray(0, cut)), String(cut)).toThrow(JuteDecodeError);
    }
    expect(() => decodeZnode(Buffer.from('written by etcdctl, not a znode record'))).toThrow(
      /format|truncated/,
    );
    const hugeAcl = Buffer.from(encoded);
    hugeAcl.writeInt32BE(0x7fff_ffff, 56);
    expect(() => decodeZnode(hugeAcl)).toThrow(JuteDecodeError);
    expect(() => decodeCounters(Buffer.alloc(15))).toThrow(JuteDecodeError);
  });

  describe('on a store', () => {
    let dir: string;
    let store: WatchableStore;
    let zk: ZkStateMachine;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'synod-zk-fast-'));
      const lessor = new Lessor({nowMs: () => 0, minTtlSeconds: 1});
      const kv = KvStore.open(dir, {
        leaseHooks: lessor,
        schedule: step => {
          step();
        },
      });
      lessor.restore(kv.backend);
      store = new WatchableStore(kv, {schedule: () => undefined});
      const meta = new Map<string, Uint8Array>();
      zk = new ZkStateMachine({
        store,
        lessor,
        meta: {
          get: k => meta.get(Buffer.from(k).toString('hex')),
          put: (k, v) => {
            meta.set(Buffer.from(k).toString('hex'), v);
          },
        },
      });
    });

    afterEach(async () => {
      await store.close();
      rmSync(dir, {recursive: true, force: true});
    });

    const open = (id: bigint) =>
      zk.apply({
        sessionId: id,
        timeMs: 0n,
        request: {
          $case: 'createSession',
          value: {timeoutMs: 4000, secretCandidate: Buffer.alloc(32, 1)},
        },
        auth: [],
      });
    const write = (id: bigint, op: ZkOp) =>
      zk.apply({
        sessionId: id,
        timeMs: 0n,
        request: {$case: 'txn', value: {ops: [op], multi: false}},
        auth: [],
      });
    const close = (id: bigint) =>
      zk.apply({sessionId: id, timeMs: 0n, request: {$case: 'closeSession', value: {}}, auth: []});
    const createOp = (path: string): ZkOp => ({
      op: {
        $case: 'create',
        value: {
          path,
          data: Buffer.from('x'),
          acl: [{perms: 31, scheme: 'world', id: 'anyone'}],
          mode: 0,
          ttlMs: 0n,
          opcode: 1,
          dataNull: false,
        },
      },
    });

    it('knows a session is live from its key alone, and not once it is closed', () => {
      open(0x21n);
      expect(zk.reader().sessionExists(0x21n)).toBe(true);
      expect(zk.reader().sessionExists(0x22n)).toBe(false);
      expect(write(0x22n, createOp('/a'))).toEqual({kind: 'failed', error: 'sessionExpired'});
      close(0x21n);
      expect(zk.reader().sessionExists(0x21n)).toBe(false);
      expect(write(0x21n, createOp('/a'))).toEqual({kind: 'failed', error: 'sessionExpired'});
      expect(close(0x21n)).toEqual({kind: 'failed', error: 'sessionExpired'});
    });

    it("skips the changes while nobody watches, never a session's end", async () => {
      class Listener implements ZkWatchListener {
        readonly seen: ZkChange[] = [];
        readonly ended: bigint[] = [];
        constructor(readonly watching: boolean) {}
        changes(_revision: number, changes: readonly ZkChange[]): void {
          this.seen.push(...changes);
        }
        sessionEnded(id: bigint): void {
          this.ended.push(id);
        }
        storeClosed(): void {
          throw new Error('the store is not replaced here');
        }
      }
      const hub = new ZkWatchHub(() => store);
      const idle = new Listener(false);
      const watcher = new Listener(true);
      const lifeOf = async (id: bigint, path: string): Promise<void> => {
        open(id);
        write(id, createOp(path));
        write(id, {
          op: {
            $case: 'setData',
            value: {path, data: Buffer.from('y'), version: -1, dataNull: false},
          },
        });
        close(id);
        await new Promise(resolve => setImmediate(resolve));
      };
      hub.add(idle);
      try {
        // Nobody watches: no change is made, but the session's end still comes.
        await lifeOf(0x31n, '/n');
        expect(idle.seen).toEqual([]);
        expect(idle.ended).toEqual([0x31n]);
        hub.add(watcher);
        await lifeOf(0x32n, '/m');
        expect(watcher.seen).toEqual([
          {type: 'created', path: '/m'},
          {type: 'dataChanged', path: '/m'},
        ]);
        expect(watcher.ended).toEqual([0x32n]);
        expect(idle.ended).toEqual([0x31n, 0x32n]);
      } finally {
        hub.close();
      }
    });
  });
});
