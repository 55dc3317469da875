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
import {decodeZnode, encodeZnode, znodeMzxid} from './znode-record.js';

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
