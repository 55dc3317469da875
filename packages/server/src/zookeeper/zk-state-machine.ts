// Why this file is still long (about 800 lines): every ZooKeeper operation is checked and
// applied here in ZooKeeper's order against the same state (the transaction's overlay, the
// NOSPACE alarm, the TTL and container indexes, the sessions it keeps), as ZooKeeper's
// PrepRequestProcessor does in one class; pulling the operations apart would spread that
// order over files that each need all of it. What stands apart is apart: the overlay
// (zk-txn-overlay.ts), the sessions it has decoded (zk-applied-cache.ts), the reads
// (zk-tree-reader.ts) and the record format (znode-record.ts). The next seam, if it grows:
// sessions (create, move, end and their turns), which touch the overlay only to end a session.
import type {ZkAcl, ZkCreate, ZkOp, ZkRequest, ZkTxn} from '@synod/proto/synodpb';
import type {KV, LeaseInfo, TxnWrite} from '@synod/storage';

import type {ZkAuthId} from './zk-auth.js';
import {INVALID_ACL, ZkAuth} from './zk-auth.js';
import type {CachedSession, CachedTurn} from './zk-applied-cache.js';
import {ZkAppliedCache} from './zk-applied-cache.js';
import {ZkKeys, prefixEnd} from './zk-keys.js';
import {zkBaseName, zkParent, zkPathError} from './zk-path.js';
import type {ZkError} from '@synod/proto';
import {ZkProtocol} from '@synod/proto';
import {SYSTEM_PATHS, ZkTreeReader} from './zk-tree-reader.js';
import type {ZkTreeCounts} from './zk-tree-figures.js';
import {ZkTreeFigures} from './zk-tree-figures.js';
import {TxnOverlay} from './zk-txn-overlay.js';
import type {ZkAclEntry, ZkStat, ZnodeRecord} from './znode-record.js';
import {encodeCounters, encodeZnode} from './znode-record.js';

/** One operation's outcome, in a single request or as a multi's element. */
export type ZkOpResult =
  | {readonly type: 'create'; readonly opcode: number; readonly path: string; readonly stat: ZkStat}
  | {readonly type: 'delete'}
  | {readonly type: 'setData'; readonly stat: ZkStat}
  | {readonly type: 'setACL'; readonly stat: ZkStat}
  | {readonly type: 'check'}
  /** In a failed multi: `ok` for the operations before the failing one. */
  | {readonly type: 'error'; readonly error: ZkError | 'ok'};

/** What applying a ZooKeeper request produced, for the member that proposed it. */
export type ZkApplied =
  | {
      readonly kind: 'txn';
      readonly results: readonly ZkOpResult[];
      readonly error?: ZkError;
      /** The revision the operations were written at. */
      readonly zxid?: number;
    }
  | {readonly kind: 'session'; readonly sessionId: bigint; readonly timeoutMs: number}
  | {readonly kind: 'closed'}
  | {readonly kind: 'failed'; readonly error: ZkError}
  /** A batch's txns, in the order proposed: each one's outcome as if it had been alone. */
  | {readonly kind: 'batch'; readonly items: readonly ZkBatchItem[]};

/** One txn of a batch: its outcome and the store's revision right after it (its zxid). */
export interface ZkBatchItem {
  readonly applied: ZkApplied;
  readonly revision: number;
}

/** What the state machine changes besides the keyspace. */
export interface ZkStateHost {
  readonly store: KV;
  /** Sessions are leases of the same id; ephemerals are keys on them. */
  readonly lessor: {
    grant(id: bigint, ttlSeconds: number): LeaseInfo;
    revoke(id: bigint, kv: KV): void;
    exists(id: bigint): boolean;
    timeToLive(id: bigint): LeaseInfo | undefined;
  };
  /** The backend's `meta` bucket, which keeps the session secret. */
  readonly meta: {
    get(key: Uint8Array): Uint8Array | undefined;
    put(key: Uint8Array, value: Uint8Array): void;
  };
  /**
   * Whether etcd's NOSPACE alarm is raised: creates and setData are then refused with
   * QuotaExceeded, where ZooKeeper checks its quotas; deletes and the rest go on.
   */
  readonly noSpace?: () => boolean;
  /**
   * Whether the cluster has ZooKeeper's x509 provider, so that an `x509` ACL is valid: some
   * member publishes a TLS ZooKeeper listener. Read from the replicated membership at apply
   * time, so every member decides alike whichever member the write came through (in a
   * ZooKeeper ensemble the leader decides). Without it, as in tests, x509 is known.
   */
  readonly x509Provider?: () => boolean;
}

/**
 * A ZooKeeper request as the state machine applies it; `memberId` (the proposing member, for
 * the session owner check) may be left out by requests of the cluster itself and by tests.
 */
export type ZkApplyRequest = Omit<ZkRequest, 'memberId' | 'connectionId' | 'seq'> & {
  readonly memberId?: bigint;
  readonly connectionId?: bigint;
  readonly seq?: number;
};

/**
 * A session key's value: `int timeoutMs, long owner` (the member its client last connected
 * to). Keys written before owners were recorded hold the timeout alone.
 */
function encodeSession(timeoutMs: number, owner: bigint): Buffer {
  const v = Buffer.alloc(12);
  v.writeInt32BE(timeoutMs);
  v.writeBigUInt64BE(owner, 4);
  return v;
}

/** The `meta` key of a session's last applied turn: `zk_order/<session id, 16 hex digits>`. */
function orderKey(sessionId: bigint): Buffer {
  return Buffer.from(`zk_order/${BigInt.asUintN(64, sessionId).toString(16).padStart(16, '0')}`);
}

/** Called after a session ended (closed, expired, or its lease revoked). */
export type SessionEndListener = (sessionId: bigint) => void;

const SECRET_KEY = Buffer.from('zk_session_secret');
const SPECIAL_PATHS = SYSTEM_PATHS;
const OPEN_ACL: readonly ZkAclEntry[] = [
  {perms: ZkProtocol.perms.all, scheme: 'world', id: 'anyone'},
];
/** ZooKeeper's `EphemeralType.TTL` limit: 2^40 - 1 ms. */
const MAX_TTL_MS = 2 ** 40 - 1;

/** A failed check inside an operation; aborts the request or the multi. */
class OpFailure extends Error {
  constructor(readonly error: ZkError) {
    super(error);
  }
}

/**
 * ZooKeeper's state machine on Synod's store. A ZooKeeper write is applied here,
 * inside the raft apply batch, as ZooKeeper's leader prepares and applies a
 * transaction: every existence, version, parent and ephemeral check is made
 * against the state at apply time, sequential names come from the parent's
 * count of child creates at apply time (`childCreates`), and a multi is all or nothing at one revision. The same
 * log gives every member the same tree, names and results.
 *
 * Worked example: `create /app/lock- EPHEMERAL_SEQUENTIAL` by session 0x1a, with
 * `/app`'s cversion at 4, committed at revision 57: the node key
 * `__synod/zk/n/2/app/lock-0000000004` is put on lease 0x1a (czxid = mzxid = 57),
 * and `__synod/zk/c/app` becomes {cversion 5, pzxid 57, numChildren +1}; both
 * are one revision, so watchers see one change.
 */
export class ZkStateMachine {
  private systemReady = false;
  private readonly sessionEndListeners: SessionEndListener[] = [];
  private readonly figures: ZkTreeFigures;
  private readonly cache = new ZkAppliedCache();

  constructor(private readonly host: ZkStateHost) {
    this.figures = new ZkTreeFigures(host.store);
  }

  /**
   * Every live session, by id, with the seconds its lease has left on this member (its
   * granted TTL where this member is not the leader) and its ephemerals' paths: for `dump`.
   */
  sessionsDump(): {id: bigint; ttlSeconds: number; ephemerals: string[]}[] {
    const start = Buffer.from(ZkKeys.sessionPrefix);
    const sessions = [];
    for (const kv of this.host.store.range(start, prefixEnd(start)).kvs) {
      const digits = Buffer.from(kv.key).toString('latin1').slice(start.length);
      const id = BigInt.asIntN(64, BigInt(`0x${digits}`));
      const lease = this.host.lessor.timeToLive(id);
      const ephemerals = (lease?.keys ?? [])
        .map(key => ZkKeys.pathOfNode(key))
        .filter((path): path is string => path !== undefined)
        .sort();
      sessions.push({id, ttlSeconds: lease?.ttlSeconds ?? 0, ephemerals});
    }
    return sessions;
  }

  /** The tree's znode, ephemeral and data-size figures, as `mntr` reports them. */
  treeCounts(): ZkTreeCounts {
    return this.figures.read();
  }

  /** Hears of every ended session, on every member, as it is applied. */
  onSessionEnd(listener: SessionEndListener): void {
    this.sessionEndListeners.push(listener);
  }

  /** The cluster's session secret, once the first session created it. */
  sessionSecret(): Uint8Array | undefined {
    return this.host.meta.get(SECRET_KEY);
  }

  reader(): ZkTreeReader {
    return new ZkTreeReader(this.host.store);
  }

  apply(req: ZkApplyRequest): ZkApplied {
    const r = req.request;
    const timeMs = Number(req.timeMs);
    const memberId = req.memberId ?? 0n;
    switch (r?.$case) {
      case 'createSession':
        return this.createSession(
          req.sessionId,
          r.value.timeoutMs,
          r.value.secretCandidate,
          memberId,
        );
      case 'moveSession':
        return this.moveSession(req.sessionId, memberId);
      case 'closeSession':
        if (!this.reader().sessionExists(req.sessionId)) {
          return {kind: 'failed', error: 'sessionExpired'};
        }
        this.endSession(req.sessionId, true);
        return {kind: 'closed'};
      case 'txn':
        if (!this.takeTurn(req.sessionId, req.connectionId ?? 0n, req.seq ?? 0)) {
          return {kind: 'failed', error: 'connectionLoss'};
        }
        return this.applyTxn(req.sessionId, timeMs, r.value, req.auth, memberId);
      case 'expireTtl':
        this.expireTtl(r.value.paths, timeMs);
        return {kind: 'closed'};
      case 'deleteContainers':
        this.deleteContainers(r.value.paths);
        return {kind: 'closed'};
      case 'batch':
        return {kind: 'batch', items: this.applyBatch(r.value.requests)};
      default:
        return {kind: 'failed', error: 'unimplemented'};
    }
  }

  /**
   * A lease is being revoked (expiry decided by the leader, or an etcd client's
   * LeaseRevoke): if it carries a ZooKeeper session, the session's ephemerals are
   * deleted as ZooKeeper deletes them, before the lease goes.
   */
  leaseRevoking(id: bigint): void {
    if (!this.reader().sessionExists(id)) return;
    this.endSession(id, false);
  }

  private createSession(
    id: bigint,
    timeoutMs: number,
    secret: Uint8Array,
    owner: bigint,
  ): ZkApplied {
    if (this.host.meta.get(SECRET_KEY) === undefined && secret.length > 0) {
      this.host.meta.put(SECRET_KEY, secret);
    }
    if (this.host.lessor.exists(id)) return {kind: 'failed', error: 'sessionExpired'};
    this.host.lessor.grant(id, sessionLeaseTtlSeconds(timeoutMs));
    const tw = this.host.store.write();
    try {
      this.ensureSystemNodes(tw);
      tw.put(ZkKeys.session(id), encodeSession(timeoutMs, owner), id);
    } finally {
      tw.end();
    }
    this.cache.setSession(id, {timeoutMs, owner});
    return {kind: 'session', sessionId: id, timeoutMs};
  }

  /**
   * Whether a connection's txn `seq` comes right after the last one applied for its session:
   * the first of a new connection is 1, each next one is one more. A txn out of turn (one
   * before it was lost on its way to the leader) is refused, and its connection closed, so a
   * session's writes apply in the order its client sent them, as ZooKeeper's do. Every txn in
   * turn takes its turn, whatever its outcome, as every request of a ZooKeeper session does.
   * The last turn is kept in the backend's `meta` bucket, written in the apply batch, so every
   * member decides alike after a restart too.
   *
   * Example: a connection proposes seq 1, 2, 3 from a follower; 2 is lost when the leader
   * changes; 1 applies (last = 1), 3 is refused (3 ≠ 2) and the connection closes.
   */
  private takeTurn(sessionId: bigint, connectionId: bigint, seq: number): boolean {
    if (sessionId === 0n || connectionId === 0n || seq === 0) return true;
    const last = this.cache.turn(sessionId) ?? this.readTurn(sessionId);
    const expected = last.connectionId === connectionId ? last.seq + 1 : 1;
    if (seq !== expected) return false;
    const turn = Buffer.allocUnsafe(12);
    turn.writeBigUInt64BE(connectionId);
    turn.writeUInt32BE(seq, 8);
    this.host.meta.put(last.key, turn);
    this.cache.setTurn(sessionId, {connectionId, seq, key: last.key});
    return true;
  }

  /** A session's last turn as the `meta` bucket holds it (connection 0: none yet). */
  private readTurn(sessionId: bigint): CachedTurn {
    const key = orderKey(sessionId);
    const last = this.host.meta.get(key);
    if (last === undefined || last.length !== 12) return {connectionId: 0n, seq: 0, key};
    const value = Buffer.from(last.buffer, last.byteOffset, last.length);
    return {connectionId: value.readBigUInt64BE(0), seq: value.readUInt32BE(8), key};
  }

  /**
   * The session's client reconnected to member `owner`, which owns the session from now on:
   * writes that other members propose for it are refused with SessionMoved, as ZooKeeper's
   * leader refuses a request whose session is owned by another server.
   */
  private moveSession(id: bigint, owner: bigint): ZkApplied {
    const reader = this.reader();
    const timeoutMs = reader.sessionTimeoutMs(id);
    if (timeoutMs === undefined) return {kind: 'failed', error: 'sessionExpired'};
    if (reader.sessionOwner(id) !== owner) {
      const tw = this.host.store.write();
      try {
        tw.put(ZkKeys.session(id), encodeSession(timeoutMs, owner), id);
      } finally {
        tw.end();
      }
      this.cache.setSession(id, {timeoutMs, owner});
    }
    return {kind: 'session', sessionId: id, timeoutMs};
  }

  /** Deletes a session's ephemerals through the delete logic, then its record (and lease). */
  private endSession(id: bigint, revokeLease: boolean): void {
    const keys = this.host.lessor.timeToLive(id)?.keys ?? [];
    const paths = keys
      .map(k => ZkKeys.pathOfNode(k))
      .filter((p): p is string => p !== undefined)
      // Deepest first, though ephemerals have no children; ZooKeeper sorts them too.
      .sort();
    const tw = this.host.store.write();
    const overlay = new TxnOverlay(new ZkTreeReader(tw), tw.rev() + 1);
    try {
      for (const path of paths) {
        const node = overlay.node(path);
        if (node?.record.ephemeralOwner !== id) continue;
        this.deleteNode(overlay, path);
      }
      overlay.flush(tw, this.figures);
      tw.deleteRange(ZkKeys.session(id), undefined);
    } finally {
      tw.end();
    }
    this.cache.sessionEnded(id);
    // Debt: the meta bucket offers no delete here, so an ended session's turn record stays
    // as 0 bytes (its key, ~30 bytes, per session that wrote through a connection).
    if (this.host.meta.get(orderKey(id)) !== undefined)
      this.host.meta.put(orderKey(id), new Uint8Array(0));
    if (revokeLease && this.host.lessor.exists(id)) this.host.lessor.revoke(id, this.host.store);
    for (const l of this.sessionEndListeners) l(id);
  }

  /**
   * The txns of a batch, one after another, each in a write transaction (and so a revision)
   * of its own, with its own session, order and ACL checks: one that fails changes nothing
   * and leaves the others as they would be without it. Only txns may be batched.
   *
   * Example: [create /a, create /a, setData /a] from one connection at revision 10: the
   * first makes /a at 11, the second fails with NodeExists (no revision), the third sets
   * /a at 12; the items carry revisions 11, 11 and 12.
   */
  private applyBatch(requests: readonly ZkRequest[]): ZkBatchItem[] {
    const items: ZkBatchItem[] = [];
    for (const req of requests) {
      const applied: ZkApplied =
        req.request?.$case === 'txn' ? this.apply(req) : {kind: 'failed', error: 'unimplemented'};
      items.push({applied, revision: this.host.store.rev()});
    }
    return items;
  }

  private applyTxn(
    sessionId: bigint,
    timeMs: number,
    txn: ZkTxn,
    auth: readonly ZkAuthId[],
    memberId: bigint,
  ): ZkApplied {
    return this.applyTxnAt(sessionId, timeMs, txn, auth, memberId);
  }

  /**
   * Deletes the containers the leader's sweep found empty (ZooKeeper's container manager),
   * each in a revision of its own as ZooKeeper deletes each with its own transaction, if it
   * is still a container without children: ZooKeeper's deleteContainer checks just that.
   */
  private deleteContainers(paths: readonly string[]): void {
    for (const path of paths) {
      if (SPECIAL_PATHS.has(path)) continue;
      const tw = this.host.store.write();
      try {
        const o = new TxnOverlay(new ZkTreeReader(tw), tw.rev() + 1);
        const node = o.node(path);
        if (node === undefined || !node.record.container) continue;
        if (o.childCounters(path, node.czxid).numChildren > 0) continue;
        this.deleteNode(o, path);
        o.flush(tw, this.figures);
      } finally {
        tw.end();
      }
    }
  }

  /** A live session's timeout and owner: from the cache, or one read of its key. */
  private liveSession(reader: ZkTreeReader, id: bigint): CachedSession | undefined {
    const cached = this.cache.session(id);
    if (cached !== undefined) return cached;
    const session = reader.session(id);
    if (session !== undefined) this.cache.setSession(id, session);
    return session;
  }

  private applyTxnAt(
    sessionId: bigint,
    timeMs: number,
    txn: ZkTxn,
    auth: readonly ZkAuthId[],
    memberId: bigint,
  ): ZkApplied {
    const tw = this.host.store.write();
    try {
      this.ensureSystemNodes(tw);
      const reader = new ZkTreeReader(tw);
      if (sessionId !== 0n) {
        const owner = this.liveSession(reader, sessionId)?.owner;
        if (owner === undefined) return {kind: 'failed', error: 'sessionExpired'};
        // Sessions written before owners were recorded have owner 0: any member may write.
        if (memberId !== 0n && owner !== 0n && owner !== memberId) {
          return {kind: 'failed', error: 'sessionMoved'};
        }
      }
      const overlay = new TxnOverlay(reader, tw.rev() + 1);
      const results: ZkOpResult[] = [];
      let failedAt = -1;
      let failure: ZkError | undefined;
      for (const [i, op] of txn.ops.entries()) {
        try {
          results.push(this.applyOp(overlay, {session: sessionId, timeMs, auth}, op));
        } catch (error) {
          if (!(error instanceof OpFailure)) throw error;
          failedAt = i;
          failure = error.error;
          break;
        }
      }
      if (failure !== undefined) {
        if (!txn.multi) return {kind: 'txn', results: [], error: failure};
        // ZooKeeper reports a failed multi as: ok up to the failing op, its error, then
        // runtimeInconsistency for the ops it never ran.
        const errs: ZkOpResult[] = txn.ops.map((_, i) => ({
          type: 'error',
          error: i < failedAt ? 'ok' : i === failedAt ? failure : 'runtimeInconsistency',
        }));
        return {kind: 'txn', results: errs, error: failure};
      }
      overlay.flush(tw, this.figures);
      return {kind: 'txn', results, zxid: overlay.zxid};
    } finally {
      tw.end();
    }
  }

  private applyOp(o: TxnOverlay, ctx: OpContext, op: ZkOp): ZkOpResult {
    const body = op.op;
    const {timeMs, auth} = ctx;
    switch (body?.$case) {
      case 'create':
        return this.create(o, ctx, body.value);
      case 'delete': {
        const {path, version} = body.value;
        // ZooKeeper's delete checks only for a slash, a NUL and its own nodes; any other bad
        // path is a node that cannot exist: NoNode.
        if (!path.includes('/') || path.includes('\0') || SPECIAL_PATHS.has(path)) {
          throw new OpFailure('badArguments');
        }
        // ZooKeeper checks DELETE on the parent before it looks for the node itself.
        const parent = o.node(zkParent(path));
        if (parent === undefined) throw new OpFailure('noNode');
        checkAcl(parent.record.acl, ZkAuth.perms.delete, auth);
        const node = o.node(path);
        if (node === undefined) throw new OpFailure('noNode');
        checkVersion(version, node.record.version);
        if (o.childCounters(path, node.czxid).numChildren > 0) throw new OpFailure('notEmpty');
        this.deleteNode(o, path);
        return {type: 'delete'};
      }
      case 'setData': {
        const {path, data, version, dataNull} = body.value;
        if (zkPathError(path) !== undefined) throw new OpFailure('badArguments');
        const node = o.node(path);
        if (node === undefined) throw new OpFailure('noNode');
        checkAcl(node.record.acl, ZkAuth.perms.write, auth);
        this.checkSpace();
        checkVersion(version, node.record.version);
        const record: ZnodeRecord = {
          ...node.record,
          data: Buffer.from(data),
          nullData: dataNull,
          version: node.record.version + 1,
          mtimeMs: timeMs,
          mzxid: o.zxid,
        };
        o.setNode(path, {...node, record});
        o.changed.add(path);
        return {type: 'setData', stat: o.stat(path)};
      }
      case 'setAcl': {
        const {path, acl, version} = body.value;
        if (zkPathError(path) !== undefined) throw new OpFailure('badArguments');
        const fixed = fixupAcl(acl, auth, this.host.x509Provider);
        const node = o.node(path);
        if (node === undefined) throw new OpFailure('noNode');
        checkAcl(node.record.acl, ZkAuth.perms.admin, auth);
        checkVersion(version, node.record.aversion);
        const record: ZnodeRecord = {
          ...node.record,
          acl: fixed.map(toEntry),
          aversion: node.record.aversion + 1,
        };
        o.setNode(path, {...node, record});
        o.changed.add(path);
        return {type: 'setACL', stat: o.stat(path)};
      }
      case 'check': {
        const {path, version} = body.value;
        const node = o.node(path);
        if (node === undefined) throw new OpFailure('noNode');
        checkAcl(node.record.acl, ZkAuth.perms.read, auth);
        checkVersion(version, node.record.version);
        return {type: 'check'};
      }
      default:
        throw new OpFailure('unimplemented');
    }
  }

  /**
   * Refuses a write that adds data while etcd's NOSPACE alarm is raised, where ZooKeeper 3.8
   * checks its quotas (`ZooKeeperServer.checkQuota`: a create after its NoChildrenForEphemerals
   * check, a setData after its ACL check and before its version check), with the error its
   * clients know for a write refused for space: QuotaExceeded.
   */
  private checkSpace(): void {
    if (this.host.noSpace?.() === true) throw new OpFailure('quotaExceeded');
  }

  private create(o: TxnOverlay, ctx: OpContext, c: ZkCreate): ZkOpResult {
    const {session, timeMs, auth} = ctx;
    const m = ZkProtocol.createMode;
    const mode = c.mode;
    if (mode < m.persistent || mode > m.persistentSequentialWithTtl) {
      throw new OpFailure('badArguments');
    }
    const sequential =
      mode === m.persistentSequential ||
      mode === m.ephemeralSequential ||
      mode === m.persistentSequentialWithTtl;
    const ephemeral = mode === m.ephemeral || mode === m.ephemeralSequential;
    const ttl = mode === m.persistentWithTtl || mode === m.persistentSequentialWithTtl;
    const ttlMs = Number(c.ttlMs);
    if (ttl !== (c.opcode === ZkProtocol.op.createTTL)) throw new OpFailure('badArguments');
    if (ttl && (ttlMs <= 0 || ttlMs > MAX_TTL_MS)) throw new OpFailure('badArguments');
    // ZooKeeper's order: a slash and no NUL, the ACL, then the parent must exist and grant
    // CREATE, then the whole path (with its sequence number) must be valid.
    if (!c.path.includes('/') || c.path.includes('\0')) throw new OpFailure('badArguments');
    const acl = fixupAcl(c.acl, auth, this.host.x509Provider);
    const parentPath = zkParent(c.path);
    const parent = o.node(parentPath);
    if (parent === undefined) throw new OpFailure('noNode');
    checkAcl(parent.record.acl, ZkAuth.perms.create, auth);
    const counters = o.childCounters(parentPath, parent.czxid);
    const path = sequential ? c.path + sequenceSuffix(childCreates(counters)) : c.path;
    if (zkPathError(path) !== undefined) throw new OpFailure('badArguments');
    if (o.node(path) !== undefined) throw new OpFailure('nodeExists');
    if (parent.record.ephemeralOwner !== 0n) throw new OpFailure('noChildrenForEphemerals');
    if (ephemeral && session === 0n) throw new OpFailure('badArguments');
    this.checkSpace();
    o.setCounters(parentPath, {
      cversion: counters.cversion + 1,
      pzxid: o.zxid,
      numChildren: counters.numChildren + 1,
    });
    o.countersChanged.add(parentPath);
    const record: ZnodeRecord = {
      data: Buffer.from(c.data),
      nullData: c.dataNull,
      version: 0,
      aversion: 0,
      ephemeralOwner: ephemeral ? session : 0n,
      ctimeMs: timeMs,
      mtimeMs: timeMs,
      mzxid: o.zxid,
      container: mode === m.container,
      ttlMs: ttl ? ttlMs : 0,
      acl: acl.map(toEntry),
    };
    o.setNode(path, {czxid: o.zxid, record, created: true});
    if (ttl) this.ttlIndex?.add(path);
    if (record.container) this.containerIndex?.add(path);
    o.setCounters(path, {cversion: 0, pzxid: o.zxid, numChildren: 0});
    o.countersChanged.delete(path);
    return {type: 'create', opcode: c.opcode, path, stat: o.stat(path)};
  }

  /**
   * Deletes a checked node: the parent's cversion and pzxid move. A container it leaves
   * without children stays until the leader's container sweep, as in ZooKeeper.
   */
  private deleteNode(o: TxnOverlay, path: string): void {
    o.setNode(path, null);
    o.counters.delete(path);
    if (o.countersBefore.get(path) === true) {
      o.counters.set(path, {cversion: 0, pzxid: 0, numChildren: 0});
      o.countersChanged.add(path);
    }
    const parentPath = zkParent(path);
    const parent = o.node(parentPath);
    if (parent === undefined) return;
    const counters = o.childCounters(parentPath, parent.czxid);
    const next = {
      cversion: counters.cversion + 1,
      pzxid: o.zxid,
      numChildren: counters.numChildren - 1,
    };
    o.setCounters(parentPath, next);
    o.countersChanged.add(parentPath);
  }

  /** Deletes TTL nodes that are still childless and unchanged for their TTL at `nowMs`. */
  private expireTtl(paths: readonly string[], nowMs: number): void {
    const tw = this.host.store.write();
    try {
      const o = new TxnOverlay(new ZkTreeReader(tw), tw.rev() + 1);
      for (const path of paths) {
        const node = o.node(path);
        if (node === undefined || node.record.ttlMs === 0) continue;
        if (o.childCounters(path, node.czxid).numChildren > 0) continue;
        if (node.record.mtimeMs + node.record.ttlMs > nowMs) continue;
        this.deleteNode(o, path);
      }
      o.flush(tw, this.figures);
    } finally {
      tw.end();
    }
  }

  /** `/`, `/zookeeper`, `/zookeeper/config` and `/zookeeper/quota`, made with the first write. */
  private ensureSystemNodes(tw: TxnWrite): void {
    if (this.systemReady) return;
    if (tw.range(ZkKeys.node('/'), undefined).kvs.length > 0) {
      this.systemReady = true;
      return;
    }
    // As ZooKeeper's DataTree makes them: zxids 0, /zookeeper/config readable by all but
    // written by nobody (aversion -1), and cversions that start below 0 by the number of
    // system children (root -1, /zookeeper -2), as ZooKeeper 3.8 reports them.
    const empty: ZnodeRecord = {
      data: Buffer.alloc(0),
      version: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      ctimeMs: 0,
      mtimeMs: 0,
      mzxid: 0,
      container: false,
      ttlMs: 0,
      acl: OPEN_ACL,
    };
    const config: ZnodeRecord = {
      ...empty,
      aversion: -1,
      acl: [{perms: ZkProtocol.perms.read, scheme: 'world', id: 'anyone'}],
    };
    const system: [string, ZnodeRecord][] = [
      ['/', empty],
      ['/zookeeper', empty],
      ['/zookeeper/config', config],
      ['/zookeeper/quota', empty],
    ];
    for (const [path, record] of system) {
      tw.put(ZkKeys.node(path), encodeZnode(record), 0n);
      this.figures.changed(path, undefined, record);
    }
    tw.put(ZkKeys.meta('/'), encodeCounters({cversion: -1, pzxid: 0, numChildren: 1}), 0n);
    tw.put(ZkKeys.meta('/zookeeper'), encodeCounters({cversion: -2, pzxid: 0, numChildren: 2}), 0n);
    this.systemReady = true;
  }

  /**
   * TTL nodes that may exist: built by one scan on first use, then added to as TTL nodes are
   * created; paths found gone are dropped when {@link ttlNodes} looks at them.
   */
  private ttlIndex: Set<string> | undefined;

  /** The TTL nodes without children and the time each expires, for the leader's sweeper. */
  ttlNodes(): {path: string; deadlineMs: number}[] {
    if (this.ttlIndex === undefined) {
      this.ttlIndex = new Set();
      const start = Buffer.from(ZkKeys.nodePrefix);
      for (const kv of this.host.store.range(start, prefixEnd(start)).kvs) {
        // The flags int sits at bytes 4..8 of the record.
        if ((Buffer.from(kv.value).readInt32BE(4) & 2) === 0) continue;
        const path = ZkKeys.pathOfNode(kv.key);
        if (path !== undefined) this.ttlIndex.add(path);
      }
    }
    const out: {path: string; deadlineMs: number}[] = [];
    const reader = this.reader();
    for (const path of this.ttlIndex) {
      const n = reader.node(path);
      if (n === undefined || n.record.ttlMs === 0) {
        this.ttlIndex.delete(path);
        continue;
      }
      if (n.counters.numChildren > 0) continue;
      out.push({path, deadlineMs: n.record.mtimeMs + n.record.ttlMs});
    }
    return out;
  }
  /** Containers that may exist, as {@link ttlIndex} keeps TTL nodes. */
  private containerIndex: Set<string> | undefined;

  /**
   * The containers the leader's sweep deletes, as ZooKeeper's container manager picks them:
   * without children, after having had some (a cversion above 0; one never used stays).
   */
  emptyContainers(): string[] {
    if (this.containerIndex === undefined) {
      this.containerIndex = new Set();
      const start = Buffer.from(ZkKeys.nodePrefix);
      for (const kv of this.host.store.range(start, prefixEnd(start)).kvs) {
        // The flags int sits at bytes 4..8 of the record.
        if ((Buffer.from(kv.value).readInt32BE(4) & 1) === 0) continue;
        const path = ZkKeys.pathOfNode(kv.key);
        if (path !== undefined) this.containerIndex.add(path);
      }
    }
    const out: string[] = [];
    const reader = this.reader();
    for (const path of this.containerIndex) {
      const n = reader.node(path);
      if (n === undefined || !n.record.container) {
        this.containerIndex.delete(path);
        continue;
      }
      if (n.counters.numChildren === 0 && n.counters.cversion > 0) out.push(path);
    }
    return out;
  }

  /** Ephemerals of a session whose path starts with `prefix`, sorted. */
  ephemerals(sessionId: bigint, prefix: string): string[] {
    const keys = this.host.lessor.timeToLive(sessionId)?.keys ?? [];
    return keys
      .map(k => ZkKeys.pathOfNode(k))
      .filter((p): p is string => p !== undefined && p.startsWith(prefix))
      .sort();
  }

  /** The base name of a path, for child events. */
  static baseName(path: string): string {
    return zkBaseName(path);
  }
}

/** Who runs an operation, and when: the same on every member that applies it. */
interface OpContext {
  readonly session: bigint;
  readonly timeMs: number;
  /** The proposing connection's ids, carried in the request. */
  readonly auth: readonly ZkAuthId[];
}

/** `ZooKeeperServer.checkACL`: NoAuth unless `auth` may do `perm` under `acl`. */
function checkAcl(acl: readonly ZkAclEntry[], perm: number, auth: readonly ZkAuthId[]): void {
  if (!ZkAuth.allows(acl, perm, auth)) throw new OpFailure('noAuth');
}

/** ZooKeeper's `fixupACL`, with the connection's ids in the order ZooKeeper keeps them. */
function fixupAcl(
  acl: readonly ZkAcl[],
  auth: readonly ZkAuthId[],
  x509Provider: (() => boolean) | undefined,
): ZkAcl[] {
  // Only an `auth` entry expands to the ids, in Java's order; most ACLs have none.
  const ids = acl.some(a => a.scheme === 'auth') ? ZkAuth.inJavaSetOrder(auth) : auth;
  const fixed = ZkAuth.fixupAcl(acl, ids, x509Provider);
  if (fixed === INVALID_ACL) throw new OpFailure('invalidACL');
  return fixed;
}

function checkVersion(expected: number, actual: number): void {
  if (expected !== -1 && expected !== actual) throw new OpFailure('badVersion');
}

function toEntry(a: ZkAcl): ZkAclEntry {
  return {perms: a.perms, scheme: a.scheme, id: a.id};
}

/**
 * The TTL of a session's lease: the session timeout, in whole seconds. A member renews a
 * session's lease after each packet of its client (within half a tick, `ZkSessionToucher`),
 * so the lease ends no sooner than the timeout after the client's last word, as ZooKeeper's
 * session does. With a 4 s timeout: TTL 4 s; 4.5 s: 5 s.
 */
export function sessionLeaseTtlSeconds(timeoutMs: number): number {
  return Math.ceil(timeoutMs / 1000);
}

/**
 * How many children were ever created under a node: ZooKeeper's stored cversion, from which
 * it names a sequential child. ZooKeeper 3.8 counts only creates in the stored cversion (a
 * delete moves the parent's pzxid alone) and shows `stored * 2 - numChildren` in a Stat
 * (`DataNode.copyStat`: each child gone was one create and one delete). Synod stores the
 * shown value, so the count of creates is `(cversion + numChildren) / 2`, in Java's int
 * arithmetic. Example: create n-0000000000 and plain, delete both: cversion 4, no children,
 * so the next sequential child is n-0000000002.
 */
export function childCreates(c: {readonly cversion: number; readonly numChildren: number}): number {
  return ((c.cversion + c.numChildren) | 0) >> 1;
}

/** Java's `String.format("%010d", n)` for an int, negative numbers included. */
export function sequenceSuffix(n: number): string {
  const v = n | 0;
  return v < 0 ? `-${String(-v).padStart(9, '0')}` : String(v).padStart(10, '0');
}
