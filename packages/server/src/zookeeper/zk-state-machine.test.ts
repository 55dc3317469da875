import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {ZkAcl, ZkOp, ZkRequest} from '@synod/proto/synodpb';
import {KvStore, Lessor, WatchableStore} from '@synod/storage';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import type {ZkAuthId} from './zk-auth.js';
import {ZkAuth} from './zk-auth.js';
import {ZkKeys} from './zk-keys.js';
import type {ZkApplied} from './zk-state-machine.js';
import {ZkStateMachine, childCreates, sequenceSuffix} from './zk-state-machine.js';

const openAcl = [{perms: 31, scheme: 'world', id: 'anyone'}];
const create = (path: string, mode = 0, data = ''): ZkOp => ({
  op: {
    $case: 'create',
    value: {
      path,
      data: Buffer.from(data),
      acl: openAcl,
      mode,
      ttlMs: 0n,
      opcode: 15,
      dataNull: false,
    },
  },
});
const del = (path: string, version = -1): ZkOp => ({op: {$case: 'delete', value: {path, version}}});
const setData = (path: string, data: string, version = -1): ZkOp => ({
  op: {$case: 'setData', value: {path, data: Buffer.from(data), version, dataNull: false}},
});
const check = (path: string, version: number): ZkOp => ({
  op: {$case: 'check', value: {path, version}},
});

describe('ZooKeeper state machine on the MVCC store', () => {
  let dir: string;
  let kv: KvStore;
  let store: WatchableStore;
  let lessor: Lessor;
  let zk: ZkStateMachine;
  const meta = new Map<string, Uint8Array>();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-sm-'));
    lessor = new Lessor({nowMs: () => 0, minTtlSeconds: 1});
    kv = KvStore.open(dir, {
      leaseHooks: lessor,
      schedule: step => {
        step();
      },
    });
    lessor.restore(kv.backend);
    store = new WatchableStore(kv, {schedule: () => undefined});
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

  const session = (id: bigint, timeoutMs = 4000) =>
    zk.apply({
      sessionId: id,
      timeMs: 1000n,
      request: {$case: 'createSession', value: {timeoutMs, secretCandidate: Buffer.alloc(32, 7)}},
      auth: [],
    });
  const txn = (
    sessionId: bigint,
    ops: ZkOp[],
    multi = false,
    timeMs = 5000n,
    auth: ZkAuthId[] = [],
  ): ZkApplied => zk.apply({sessionId, timeMs, request: {$case: 'txn', value: {ops, multi}}, auth});
  const close = (id: bigint) =>
    zk.apply({sessionId: id, timeMs: 0n, request: {$case: 'closeSession', value: {}}, auth: []});

  it('opens a session as a lease of the same id and keeps the first secret', () => {
    expect(session(0x10n, 6000)).toEqual({kind: 'session', sessionId: 0x10n, timeoutMs: 6000});
    expect(lessor.exists(0x10n)).toBe(true);
    expect(zk.reader().sessionTimeoutMs(0x10n)).toBe(6000);
    zk.apply({
      sessionId: 0x11n,
      timeMs: 0n,
      request: {
        $case: 'createSession',
        value: {timeoutMs: 4000, secretCandidate: Buffer.alloc(32, 9)},
      },
      auth: [],
    });
    expect(Buffer.from(zk.sessionSecret() ?? []).equals(Buffer.alloc(32, 7))).toBe(true);
    expect(zk.reader().children('/')).toEqual(['zookeeper']);
  });

  it('fills every Stat field of a created node, at one revision with its parent counters', () => {
    session(1n);
    const r = txn(1n, [create('/a', 0, 'hello')]);
    const rev = store.rev();
    expect(r).toMatchObject({kind: 'txn', results: [{type: 'create', path: '/a'}]});
    expect(zk.reader().node('/a')?.stat).toEqual({
      czxid: rev,
      mzxid: rev,
      ctime: 5000,
      mtime: 5000,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 5,
      numChildren: 0,
      pzxid: rev,
    });
    // The root's cversion starts at -1, as ZooKeeper 3.8 reports it.
    expect(zk.reader().node('/')?.stat).toMatchObject({cversion: 0, pzxid: rev, numChildren: 2});
    txn(1n, [setData('/a', 'bye', 0)], false, 6000n);
    expect(zk.reader().node('/a')?.stat).toMatchObject({
      czxid: rev,
      mzxid: rev + 1,
      mtime: 6000,
      version: 1,
      dataLength: 3,
    });
  });

  it('refuses a write proposed by a member that no longer owns the session (SessionMoved)', () => {
    zk.apply({
      sessionId: 0x20n,
      timeMs: 0n,
      request: {
        $case: 'createSession',
        value: {timeoutMs: 4000, secretCandidate: Buffer.alloc(32)},
      },
      auth: [],
      memberId: 1n,
    });
    const write = (memberId: bigint, path: string) =>
      zk.apply({
        sessionId: 0x20n,
        timeMs: 0n,
        request: {$case: 'txn', value: {ops: [create(path)], multi: false}},
        auth: [],
        memberId,
      });
    expect(zk.reader().sessionOwner(0x20n)).toBe(1n);
    expect(write(1n, '/owned')).toMatchObject({kind: 'txn', results: [{path: '/owned'}]});
    expect(write(2n, '/elsewhere')).toEqual({kind: 'failed', error: 'sessionMoved'});
    const move = (memberId: bigint) =>
      zk.apply({
        sessionId: 0x20n,
        timeMs: 0n,
        request: {$case: 'moveSession', value: {}},
        auth: [],
        memberId,
      });
    expect(move(2n)).toEqual({kind: 'session', sessionId: 0x20n, timeoutMs: 4000});
    expect(write(1n, '/stale')).toEqual({kind: 'failed', error: 'sessionMoved'});
    expect(write(2n, '/moved')).toMatchObject({kind: 'txn', results: [{path: '/moved'}]});
    // Requests of the cluster itself (no member id) are not fenced.
    expect(write(0n, '/cluster')).toMatchObject({kind: 'txn', results: [{path: '/cluster'}]});
    expect(zk.reader().sessionTimeoutMs(0x20n)).toBe(4000);
    expect(move(3n)).toMatchObject({kind: 'session'});
    close(0x20n);
    expect(move(2n)).toEqual({kind: 'failed', error: 'sessionExpired'});
  });

  it("applies a connection's txns only in the order it sent them: a lost one takes the later ones with it", () => {
    session(0x30n);
    const write = (connectionId: bigint, seq: number, path: string) =>
      zk.apply({
        sessionId: 0x30n,
        timeMs: 0n,
        request: {$case: 'txn', value: {ops: [create(path)], multi: false}},
        auth: [],
        connectionId,
        seq,
      });
    expect(write(7n, 1, '/o1')).toMatchObject({kind: 'txn', results: [{path: '/o1'}]});
    // A failed write takes its turn too.
    expect(write(7n, 2, '/missing/x')).toMatchObject({kind: 'txn', error: 'noNode'});
    // Seq 3 was lost on its way: 4 must not apply without it, nor 3 after 4's refusal and more.
    expect(write(7n, 4, '/o4')).toEqual({kind: 'failed', error: 'connectionLoss'});
    expect(zk.reader().node('/o4')).toBeUndefined();
    expect(write(7n, 3, '/o3')).toMatchObject({kind: 'txn', results: [{path: '/o3'}]});
    // A new connection of the session starts again at 1; the old one's stragglers are out.
    expect(write(8n, 2, '/n2')).toEqual({kind: 'failed', error: 'connectionLoss'});
    expect(write(8n, 1, '/n1')).toMatchObject({kind: 'txn', results: [{path: '/n1'}]});
    expect(write(7n, 4, '/o4')).toEqual({kind: 'failed', error: 'connectionLoss'});
    // Without a place in an order (requests of the cluster itself), nothing is checked.
    expect(write(0n, 0, '/free')).toMatchObject({kind: 'txn', results: [{path: '/free'}]});
  });

  it('names sequential nodes from the count of child creates at apply time, deletes not', () => {
    session(1n);
    txn(1n, [create('/q')]);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = txn(1n, [create('/q/x-', 2)]);
      if (r.kind === 'txn' && r.results[0]?.type === 'create') names.push(r.results[0].path);
    }
    txn(1n, [del('/q/x-0000000001')]);
    const r = txn(1n, [create('/q/x-', 2)]);
    expect(names).toEqual(['/q/x-0000000000', '/q/x-0000000001', '/q/x-0000000002']);
    // Three creates and one delete: the shown cversion is 4, the next name counts creates.
    expect(r).toMatchObject({results: [{path: '/q/x-0000000003'}]});
    expect(sequenceSuffix(-2147483648)).toBe('-2147483648');
    expect(sequenceSuffix(-1)).toBe('-000000001');
    expect(childCreates({cversion: -1, numChildren: 1})).toBe(0);
    expect(childCreates({cversion: 4, numChildren: 0})).toBe(2);
    expect(childCreates({cversion: 7, numChildren: 3})).toBe(5);
  });

  it('gives errors as ZooKeeper checks them, in its order', () => {
    session(1n);
    txn(1n, [create('/p'), create('/p/c')]);
    expect(txn(1n, [create('/p')])).toMatchObject({error: 'nodeExists'});
    expect(txn(1n, [create('/none/c')])).toMatchObject({error: 'noNode'});
    expect(txn(1n, [del('/p')])).toMatchObject({error: 'notEmpty'});
    expect(txn(1n, [del('/p', 3)])).toMatchObject({error: 'badVersion'});
    expect(txn(1n, [setData('/p', 'x', 7)])).toMatchObject({error: 'badVersion'});
    expect(txn(1n, [del('/zookeeper')])).toMatchObject({error: 'badArguments'});
    expect(txn(1n, [create('/p/')])).toMatchObject({error: 'badArguments'});
    txn(1n, [create('/e', 1)]);
    expect(txn(1n, [create('/e/c')])).toMatchObject({error: 'noChildrenForEphemerals'});
    expect(txn(99n, [create('/x')])).toEqual({kind: 'failed', error: 'sessionExpired'});
  });

  it('runs a multi all or nothing at one revision', () => {
    session(1n);
    const before = store.rev();
    const ok = txn(1n, [create('/m'), create('/m/a'), setData('/m', 'd', 0), check('/m', 1)], true);
    expect(ok).toMatchObject({kind: 'txn', results: [{}, {}, {}, {type: 'check'}]});
    expect(store.rev()).toBe(before + 1);
    expect(zk.reader().node('/m/a')?.czxid).toBe(before + 1);
    const failed = txn(1n, [create('/m/b'), check('/m', 0), create('/m/c')], true);
    expect(failed).toEqual({
      kind: 'txn',
      error: 'badVersion',
      results: [
        {type: 'error', error: 'ok'},
        {type: 'error', error: 'badVersion'},
        {type: 'error', error: 'runtimeInconsistency'},
      ],
    });
    expect(store.rev()).toBe(before + 1);
    expect(zk.reader().node('/m/b')).toBeUndefined();
  });

  it('deletes a session’s ephemerals through the delete logic when it closes', () => {
    session(1n);
    session(2n);
    txn(2n, [create('/locks')]);
    txn(1n, [create('/locks/l-', 3), create('/mine', 1)]);
    const parentBefore = zk.reader().node('/locks')?.stat;
    expect(zk.ephemerals(1n, '/')).toEqual(['/locks/l-0000000000', '/mine']);
    expect(close(1n)).toEqual({kind: 'closed'});
    expect(lessor.exists(1n)).toBe(false);
    expect(zk.reader().children('/locks')).toEqual([]);
    expect(zk.reader().node('/mine')).toBeUndefined();
    const parent = zk.reader().node('/locks')?.stat;
    expect(parent?.cversion).toBe((parentBefore?.cversion ?? 0) + 1);
    expect(parent?.pzxid).toBe(store.rev());
    expect(close(1n)).toEqual({kind: 'failed', error: 'sessionExpired'});
  });

  it('does the same when the session’s lease is revoked (expiry)', () => {
    session(1n);
    txn(1n, [create('/gone', 1)]);
    zk.leaseRevoking(1n);
    lessor.revoke(1n, store);
    expect(zk.reader().node('/gone')).toBeUndefined();
    expect(zk.reader().sessionTimeoutMs(1n)).toBeUndefined();
  });

  it('leaves an emptied container to the sweep, which deletes it in a revision of its own', () => {
    session(1n);
    const container = (path: string): ZkOp => {
      const op = create(path);
      if (op.op?.$case === 'create') op.op.value.mode = 4;
      return op;
    };
    txn(1n, [container('/box')]);
    txn(1n, [container('/unused')]);
    txn(1n, [create('/box/a')]);
    expect(zk.emptyContainers()).toEqual([]);
    txn(1n, [del('/box/a')]);
    // As in ZooKeeper: the container outlives its last child until the container manager
    // runs, and one that never had a child is not the sweep's to delete.
    expect(zk.reader().node('/box')).toBeDefined();
    expect(zk.emptyContainers()).toEqual(['/box']);
    const rev = store.rev();
    zk.apply({
      sessionId: 0n,
      timeMs: 2000n,
      request: {$case: 'deleteContainers', value: {paths: ['/box', '/unused', '/nope']}},
      auth: [],
    });
    // '/unused' is a container without children: ZooKeeper's deleteContainer takes it too
    // when asked; '/nope' is not there. One revision per deleted container.
    expect(store.rev()).toBe(rev + 2);
    expect(zk.reader().node('/box')).toBeUndefined();
    expect(zk.reader().node('/unused')).toBeUndefined();
    expect(zk.reader().node('/')?.stat.pzxid).toBe(rev + 2);
    expect(zk.emptyContainers()).toEqual([]);
  });

  it('keeps a container that has a child again when its deletion applies', () => {
    session(1n);
    const op = create('/box');
    if (op.op?.$case === 'create') op.op.value.mode = 4;
    txn(1n, [op]);
    txn(1n, [create('/box/a')]);
    txn(1n, [del('/box/a')]);
    txn(1n, [create('/box/b')]);
    zk.apply({
      sessionId: 0n,
      timeMs: 2000n,
      request: {$case: 'deleteContainers', value: {paths: ['/box']}},
      auth: [],
    });
    expect(zk.reader().node('/box')?.stat.numChildren).toBe(1);
  });

  it('keeps a parent’s child counters in their own small key', () => {
    session(1n);
    txn(1n, [create('/big', 0, 'x'.repeat(10_000))]);
    const bigRev = store.range(ZkKeys.node('/big'), undefined).kvs[0]?.modRevision;
    txn(1n, [create('/big/c')]);
    expect(store.range(ZkKeys.node('/big'), undefined).kvs[0]?.modRevision).toBe(bigRev);
    expect(zk.reader().node('/big')?.stat.numChildren).toBe(1);
    expect(zk.reader().countDescendants('/')).toBe(5);
  });

  describe('a batch of txns proposed as one entry', () => {
    const inBatch = (
      sessionId: bigint,
      ops: ZkOp[],
      connectionId = 0n,
      seq = 0,
      timeMs = 5000n,
    ): ZkRequest => ({
      sessionId,
      timeMs,
      request: {$case: 'txn', value: {ops, multi: false}},
      auth: [],
      memberId: 0n,
      connectionId,
      seq,
    });
    const batch = (requests: ZkRequest[]) =>
      zk.apply({sessionId: 0n, timeMs: 0n, request: {$case: 'batch', value: {requests}}, auth: []});

    it('applies its txns in order, each at a revision of its own, as if proposed alone', () => {
      session(1n);
      session(2n);
      const before = store.rev();
      const r = batch([
        inBatch(1n, [create('/a', 0, 'one')]),
        inBatch(2n, [create('/a/s-', 2)]),
        inBatch(1n, [setData('/a', 'two', 0)], 0n, 0, 6000n),
        inBatch(2n, [create('/a/s-', 2)]),
      ]);
      expect(r).toMatchObject({
        kind: 'batch',
        items: [
          {applied: {kind: 'txn', zxid: before + 1}, revision: before + 1},
          {applied: {results: [{path: '/a/s-0000000000'}]}, revision: before + 2},
          {applied: {results: [{type: 'setData', stat: {version: 1, mzxid: before + 3}}]}},
          {applied: {results: [{path: '/a/s-0000000001'}]}, revision: before + 4},
        ],
      });
      expect(zk.reader().node('/a')?.stat).toMatchObject({
        czxid: before + 1,
        mzxid: before + 3,
        mtime: 6000,
        cversion: 2,
        numChildren: 2,
        pzxid: before + 4,
      });
    });

    it('lets an error in the middle touch only its own txn', () => {
      session(1n);
      session(2n);
      txn(1n, [create('/a', 0, 'x')]);
      const before = store.rev();
      const r = batch([
        inBatch(1n, [create('/a/b')]),
        inBatch(2n, [create('/a/b')]),
        inBatch(2n, [setData('/a', 'y', 7)]),
        inBatch(3n, [create('/a/c')]),
        inBatch(1n, [setData('/a', 'z', 0)]),
      ]);
      expect(r).toMatchObject({
        kind: 'batch',
        items: [
          {applied: {kind: 'txn', zxid: before + 1}, revision: before + 1},
          {applied: {kind: 'txn', results: [], error: 'nodeExists'}, revision: before + 1},
          {applied: {kind: 'txn', results: [], error: 'badVersion'}, revision: before + 1},
          {applied: {kind: 'failed', error: 'sessionExpired'}, revision: before + 1},
          {applied: {kind: 'txn', zxid: before + 2}, revision: before + 2},
        ],
      });
      expect(zk.reader().children('/a')).toEqual(['b']);
      expect(zk.reader().node('/a')?.stat).toMatchObject({version: 1, numChildren: 1});
    });

    it("keeps each connection's turns across and within batches", () => {
      session(1n);
      session(2n);
      const r = batch([
        inBatch(1n, [create('/x')], 7n, 1),
        inBatch(2n, [create('/y')], 8n, 1),
        inBatch(1n, [create('/z')], 7n, 2),
        // 7's third write was lost on its way: its fourth is out of turn.
        inBatch(1n, [create('/w')], 7n, 4),
        inBatch(2n, [create('/v')], 8n, 2),
      ]);
      expect(r.kind === 'batch' && r.items.map(i => i.applied)).toMatchObject([
        {kind: 'txn'},
        {kind: 'txn'},
        {kind: 'txn'},
        {kind: 'failed', error: 'connectionLoss'},
        {kind: 'txn'},
      ]);
      // The client reconnects (connection 9) and goes on; 8 goes on in the next batch.
      expect(
        batch([inBatch(1n, [create('/u')], 9n, 1), inBatch(2n, [create('/t')], 8n, 3)]),
      ).toMatchObject({items: [{applied: {kind: 'txn'}}, {applied: {kind: 'txn'}}]});
      expect(zk.reader().children('/').sort()).toEqual(['t', 'u', 'v', 'x', 'y', 'z', 'zookeeper']);
    });

    it('refuses anything but a txn inside a batch, and changes nothing for it', () => {
      const before = store.rev();
      const r = batch([
        {
          sessionId: 9n,
          timeMs: 0n,
          request: {
            $case: 'createSession',
            value: {timeoutMs: 4000, secretCandidate: Buffer.alloc(0)},
          },
          auth: [],
          memberId: 0n,
          connectionId: 0n,
          seq: 0,
        },
      ]);
      expect(r).toMatchObject({items: [{applied: {kind: 'failed', error: 'unimplemented'}}]});
      expect(lessor.exists(9n)).toBe(false);
      expect(store.rev()).toBe(before);
    });
  });

  it('checks ACLs against the ids the request carries, so every member decides alike', () => {
    const alice: ZkAuthId = {scheme: 'digest', id: ZkAuth.digestId('alice:secret')};
    const ip: ZkAuthId = {scheme: 'ip', id: '127.0.0.1'};
    const withAcl = (path: string, acl: ZkAcl[]): ZkOp => {
      const op = create(path);
      if (op.op?.$case === 'create') op.op.value.acl = acl;
      return op;
    };
    session(1n);
    // `auth` becomes the request's digest ids; without one it is InvalidACL.
    const mine: ZkAcl[] = [{perms: 31, scheme: 'auth', id: ''}];
    expect(txn(1n, [withAcl('/a', mine)], false, 5000n, [ip])).toMatchObject({
      error: 'invalidACL',
    });
    txn(1n, [withAcl('/a', mine)], false, 5000n, [ip, alice]);
    expect(zk.reader().node('/a')?.record.acl).toEqual([{perms: 31, ...alice}]);
    // The same writes: NoAuth without alice's id, applied with it, and with `super`.
    expect(txn(1n, [setData('/a', 'x')], false, 5000n, [ip])).toMatchObject({error: 'noAuth'});
    expect(txn(1n, [create('/a/b')], false, 5000n, [ip])).toMatchObject({error: 'noAuth'});
    expect(txn(1n, [setData('/a', 'x')], false, 5000n, [ip, alice])).toMatchObject({
      results: [{type: 'setData'}],
    });
    expect(txn(1n, [create('/a/b')], false, 5000n, [{scheme: 'super', id: ''}])).toMatchObject({
      results: [{type: 'create'}],
    });
    // DELETE is checked on the parent before the node is looked for.
    expect(txn(1n, [del('/a/missing')], false, 5000n, [ip])).toMatchObject({error: 'noAuth'});
    expect(txn(1n, [del('/a/missing')], false, 5000n, [alice])).toMatchObject({error: 'noNode'});
  });

  it('keeps the tree figures as a fresh count of the store finds them, through every kind of write', () => {
    const counted = () => zk.treeCounts();
    // A state machine built now counts the tree by scanning the store.
    const scanned = () =>
      new ZkStateMachine({
        store,
        lessor,
        meta: {get: () => undefined, put: () => undefined},
      }).treeCounts();
    // Read first, so what follows moves counts already made instead of one final scan.
    expect(counted()).toEqual({znodeCount: 0, ephemeralsCount: 0, approximateDataSizeBytes: 0});
    session(1n);
    session(2n);
    expect(counted()).toEqual(scanned());
    txn(1n, [create('/a', 0, 'hello')]);
    txn(2n, [create('/e', 1, 'eph')]);
    txn(2n, [create('/e-', 3, 'seq')]);
    txn(1n, [setData('/a', 'longer than before')]);
    expect(counted()).toEqual(scanned());
    txn(
      1n,
      [create('/m', 0, '1'), del('/a'), create('/r', 0, 'r1'), del('/r'), create('/r', 0, 'r22')],
      true,
    );
    txn(1n, [create('/n', 0, 'no'), del('/missing')], true);
    expect(counted()).toEqual(scanned());
    const ttl = create('/t', 5, 'ttl');
    if (ttl.op?.$case === 'create') Object.assign(ttl.op.value, {opcode: 21, ttlMs: 10n});
    const box = create('/box');
    if (box.op?.$case === 'create') box.op.value.mode = 4;
    txn(1n, [ttl]);
    txn(1n, [box]);
    txn(1n, [create('/box/a', 0, 'child')]);
    txn(1n, [del('/box/a')]);
    zk.apply({
      sessionId: 0n,
      timeMs: 10n ** 9n,
      request: {$case: 'expireTtl', value: {paths: ['/t']}},
      auth: [],
    });
    zk.apply({
      sessionId: 0n,
      timeMs: 0n,
      request: {$case: 'deleteContainers', value: {paths: ['/box']}},
      auth: [],
    });
    expect(zk.reader().node('/t')).toBeUndefined();
    expect(zk.reader().node('/box')).toBeUndefined();
    expect(counted()).toEqual(scanned());
    close(2n);
    // What is left: the four system nodes, /m and /r; ZooKeeper counts the root twice.
    expect(counted()).toEqual({
      znodeCount: 7,
      ephemeralsCount: 0,
      approximateDataSizeBytes:
        '/'.length +
        '/zookeeper'.length +
        '/zookeeper/config'.length +
        '/zookeeper/quota'.length +
        3 +
        5,
    });
    expect(counted()).toEqual(scanned());
  });
});
