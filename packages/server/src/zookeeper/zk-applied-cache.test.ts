import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {ZkOp} from '@synod/proto/synodpb';
import {KvStore, Lessor, WatchableStore} from '@synod/storage';
import {afterEach, describe, expect, it} from 'vitest';

import {ZkAppliedCache} from './zk-applied-cache.js';
import type {ZkApplyRequest} from './zk-state-machine.js';
import {ZkStateMachine} from './zk-state-machine.js';
import {ZkKeys, prefixEnd} from './zk-keys.js';

const openAcl = [{perms: 31, scheme: 'world', id: 'anyone'}];
const create = (path: string, mode = 0, data = 'd', ttlMs = 0n): ZkOp => ({
  op: {
    $case: 'create',
    value: {
      path,
      data: Buffer.from(data),
      acl: openAcl,
      mode,
      ttlMs,
      opcode: ttlMs > 0n ? 21 : 15,
      dataNull: false,
    },
  },
});
const del = (path: string, version = -1): ZkOp => ({op: {$case: 'delete', value: {path, version}}});
const setData = (path: string, data: string, version = -1): ZkOp => ({
  op: {$case: 'setData', value: {path, data: Buffer.from(data), version, dataNull: false}},
});
const setAcl = (path: string, version = -1): ZkOp => ({
  op: {$case: 'setAcl', value: {path, acl: [{perms: 1, scheme: 'world', id: 'anyone'}], version}},
});

/** A member's state as the state machine sees it: a store, its lessor and the meta bucket. */
class Replica {
  readonly dir = mkdtempSync(join(tmpdir(), 'synod-zk-cache-'));
  readonly lessor = new Lessor({nowMs: () => 0, minTtlSeconds: 1});
  readonly kv = KvStore.open(this.dir, {
    leaseHooks: this.lessor,
    schedule: step => {
      step();
    },
  });
  readonly store = new WatchableStore(this.kv, {schedule: () => undefined});
  private readonly meta = new Map<string, Uint8Array>();
  private machine: ZkStateMachine | undefined;

  constructor(private readonly fresh: boolean) {
    this.lessor.restore(this.kv.backend);
  }

  /** The state machine: the same one throughout, or a new one (an empty cache) each time. */
  zk(): ZkStateMachine {
    if (this.machine !== undefined && !this.fresh) return this.machine;
    this.machine = new ZkStateMachine({
      store: this.store,
      lessor: this.lessor,
      meta: {
        get: k => this.meta.get(Buffer.from(k).toString('hex')),
        put: (k, v) => {
          this.meta.set(Buffer.from(k).toString('hex'), v);
        },
      },
    });
    return this.machine;
  }

  /** Every ZooKeeper key with its value, create revision and lease. */
  contents(): string[] {
    const start = Buffer.from(ZkKeys.prefix);
    return this.store
      .range(start, prefixEnd(start))
      .kvs.map(
        kv =>
          `${Buffer.from(kv.key).toString()} ${kv.createRevision}/${kv.modRevision} ` +
          `${kv.lease} ${Buffer.from(kv.value).toString('hex')}`,
      );
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, {recursive: true, force: true});
  }
}

describe('the state machine with the sessions it has decoded kept', () => {
  const replicas: Replica[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close();
  });

  it('applies every kind of write as a state machine that reads everything from the store', () => {
    const warm = new Replica(false);
    const cold = new Replica(true);
    replicas.push(warm, cold);
    const turns = new Map<bigint, number>();
    const steps: ((zk: ZkStateMachine, r: Replica) => unknown)[] = [];
    const apply = (request: Omit<ZkApplyRequest, 'timeMs' | 'auth'>) =>
      steps.push(zk => zk.apply({timeMs: 5000n + BigInt(steps.length), auth: [], ...request}));
    const session = (id: bigint) =>
      apply({
        sessionId: id,
        request: {
          $case: 'createSession',
          value: {timeoutMs: 4000, secretCandidate: Buffer.alloc(32, 7)},
        },
        memberId: 1n,
      });
    const txn = (sessionId: bigint, ops: ZkOp[], multi = false, memberId = 1n) => {
      const seq = (turns.get(sessionId) ?? 0) + 1;
      turns.set(sessionId, seq);
      apply({
        sessionId,
        request: {$case: 'txn', value: {ops, multi}},
        memberId,
        connectionId: 9n + sessionId,
        seq,
      });
    };
    session(1n);
    session(2n);
    txn(1n, [create('/app')]);
    for (let i = 0; i < 5; i++) txn(1n, [create('/app/lock-', 3)]);
    txn(1n, [create('/app/x'), setData('/app/x', 'v1'), setData('/app/x', 'v2', 1)], true);
    txn(1n, [setData('/app/x', 'v3', 7)]);
    txn(1n, [setData('/app/x', 'v3', 2)]);
    txn(1n, [setAcl('/app/x', 0)]);
    txn(1n, [del('/app/x'), create('/app/x', 0, 'again'), del('/nope')], true);
    txn(1n, [del('/app/x'), create('/app/x', 0, 'again')], true);
    txn(1n, [create('/app/x/e', 1)]);
    txn(1n, [create('/app/x/e/child')]);
    txn(2n, [create('/app/other-', 1)]);
    txn(2n, [setData('/app', 'moved')], false, 2n);
    apply({sessionId: 2n, request: {$case: 'moveSession', value: {}}, memberId: 2n});
    txn(2n, [setData('/app', 'from 2')], false, 2n);
    txn(1n, [create('/box', 4), create('/box/a'), create('/t', 5, 't', 1n)], true);
    txn(1n, [del('/box/a')]);
    apply({sessionId: 0n, request: {$case: 'deleteContainers', value: {paths: ['/box']}}});
    apply({sessionId: 0n, request: {$case: 'expireTtl', value: {paths: ['/t']}}});
    steps.push((zk, r) => {
      zk.leaseRevoking(2n);
      r.lessor.revoke(2n, r.store);
    });
    apply({sessionId: 1n, request: {$case: 'closeSession', value: {}}});
    turns.set(1n, 0);
    txn(1n, [setData('/app', 'after close')]);
    session(3n);
    txn(3n, [create('/app/x/e', 1), setData('/app', 'last')], true);
    const outcomes: unknown[] = [];
    for (const [i, step] of steps.entries()) {
      const a = step(warm.zk(), warm);
      const b = step(cold.zk(), cold);
      expect(a, `step ${i}`).toEqual(b);
      expect(warm.contents(), `step ${i}`).toEqual(cold.contents());
      outcomes.push(a);
    }
    // No write was refused for its turn: each ran its checks.
    expect(outcomes).not.toContainEqual({kind: 'failed', error: 'connectionLoss'});
    for (const error of [
      'badVersion',
      'sessionMoved',
      'sessionExpired',
      'noChildrenForEphemerals',
    ]) {
      expect(outcomes).toContainEqual(expect.objectContaining({error}));
    }
    // Session 1's sequential ephemerals went with it; session 3's ephemeral is there.
    expect(warm.zk().reader().children('/app')).toEqual(['x']);
    expect(warm.zk().reader().node('/app/x/e')?.record.ephemeralOwner).toBe(3n);
  });

  it('forgets what an ended session held', () => {
    const cache = new ZkAppliedCache();
    cache.setSession(7n, {timeoutMs: 4000, owner: 1n});
    cache.setTurn(7n, {connectionId: 3n, seq: 2, key: Buffer.from('k')});
    cache.setSession(8n, {timeoutMs: 6000, owner: 2n});
    cache.sessionEnded(7n);
    expect([cache.session(7n), cache.turn(7n)]).toEqual([undefined, undefined]);
    expect(cache.session(8n)).toEqual({timeoutMs: 6000, owner: 2n});
  });
});
