import type {
  AlarmMember,
  AlarmRequest,
  CompactionRequest,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
} from '@synod/proto';
import {AlarmRequest_AlarmAction, AlarmType, EtcdErrors} from '@synod/proto';
import type {EtcdErrorSpec} from '@synod/proto';
import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {InternalRequest} from '@synod/proto/synodpb';
import type {MemberRecord} from '@synod/proto/synodpb';
import type {KvExecutor, Lessor, WatchableStore} from '@synod/storage';
import {Status} from 'nice-grpc-common';

import {fromWireDeleteRange, fromWirePut, fromWireTxn} from './wire-requests.js';
import {AuthError} from '../auth/auth-store.js';
import type {AuthStore, RequestAuth} from '../auth/auth-store.js';
import type {ZkStateMachine} from '../zookeeper/zk-state-machine.js';
import type {Alarms} from './alarms.js';
import type {ApplyResult} from './apply-result.js';
import {toEtcdError} from './apply-result.js';
import {UnappliableEntryError} from './unappliable-entry-error.js';

/** The replicated state the applier changes besides the key-value store. */
export interface ApplyTargets {
  readonly store: WatchableStore;
  readonly executor: KvExecutor;
  readonly lessor: Lessor;
  /** Users, roles and permissions; with auth on, every request is checked against it. */
  readonly auth: AuthStore;
  /** Raised alarms, by member id; NOSPACE makes writes fail. */
  readonly alarms: Alarms;
  /** Whether the backend has grown past the quota. */
  overQuota(): boolean;
  /**
   * Called for every committed conf change entry, in log order, including those
   * at or below the consistent index (their backend effects must then be skipped).
   */
  applyConfChange(entry: Entry): void;
  /** Records the name and client URLs a member published about itself. */
  publishAttributes(member: MemberRecord, index: number): void;
  /** Waits for compactions that asked for `physical` to reach the backend. */
  onCompaction(done: Promise<void>): void;
  /** ZooKeeper's tree and sessions on the same store (see zookeeper/zk-state-machine.ts). */
  readonly zookeeper?: ZkStateMachine;
}

/** The requests that change users, roles or the enabled flag. */
type AuthChange =
  | 'authEnable'
  | 'authDisable'
  | 'authUserAdd'
  | 'authUserDelete'
  | 'authUserChangePassword'
  | 'authUserGrantRole'
  | 'authUserRevokeRole'
  | 'authRoleAdd'
  | 'authRoleDelete'
  | 'authRoleGrantPermission'
  | 'authRoleRevokePermission';

/** The outcome of applying one entry, for the member that proposed it. */
export interface Applied {
  readonly id: bigint;
  readonly result: ApplyResult;
}

/**
 * Applies committed entries to the state machine, in log order, each exactly
 * once: the raft index of the last applied entry is written in the same backend
 * batch as its changes, and entries at or below the store's consistent index
 * are skipped, so replaying the WAL after a crash is exact.
 *
 * Applying is total for anything a client can send: a request the state machine
 * refuses becomes an error result, the same on every member. What is left — an
 * entry that cannot be decoded, or a bug — throws {@link UnappliableEntryError}
 * naming the entry, and the member stops before any of it reaches the backend.
 */
export class Applier {
  constructor(
    private readonly t: ApplyTargets,
    /** Indexes an operator chose not to apply (`synod skip-entry`). */
    private readonly skipped: ReadonlySet<number> = new Set(),
  ) {}

  /** The index of the last entry whose effects are in the store. */
  appliedIndex(): number {
    return this.t.store.consistentIndex();
  }

  applyEntries(entries: readonly Entry[]): Applied[] {
    const out: Applied[] = [];
    for (const entry of entries) {
      if (entry.type === EntryType.EntryConfChange) {
        // Raft keeps its configuration in memory: after a restart it must see every
        // conf change again, even those whose effects the backend already holds.
        this.guard(entry.index, 'conf change', () => {
          this.t.applyConfChange(entry);
        });
        if (entry.index > this.t.store.consistentIndex()) {
          this.t.store.setConsistentIndex(entry.index);
        }
        continue;
      }
      if (entry.index <= this.t.store.consistentIndex()) continue;
      if (entry.data.length > 0 && !this.skipped.has(entry.index)) {
        const request = this.guard(entry.index, 'undecodable request', () =>
          InternalRequest.decode(entry.data),
        );
        const id = request.header?.id ?? 0n;
        const result = this.guard(entry.index, request.request?.$case ?? 'empty request', () =>
          this.applyRequest(request, entry.index),
        );
        if (id !== 0n) out.push({id, result});
      }
      this.t.store.setConsistentIndex(entry.index);
    }
    return out;
  }

  /** Runs one step of applying the entry at `index`, naming the entry if it throws. */
  private guard<T>(index: number, request: string, step: () => T): T {
    try {
      return step();
    } catch (error) {
      if (error instanceof UnappliableEntryError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new UnappliableEntryError(index, request, reason);
    }
  }

  private applyRequest(request: InternalRequest, index: number): ApplyResult {
    const r = request.request;
    if (r === undefined) return this.fail(EtcdErrors.emptyKey);
    const auth: RequestAuth = {
      username: request.header?.username ?? '',
      authRevision: request.header?.authRevision ?? 0n,
    };
    const a = this.t.auth;
    const leaseKeys = (id: bigint) => this.t.lessor.timeToLive(id)?.keys ?? [];
    try {
      switch (r.$case) {
        case 'put':
          a.checkPut(auth, r.value, leaseKeys);
          if (this.noSpace()) return this.fail(EtcdErrors.noSpace);
          return this.done(this.t.executor.put(fromWirePut(r.value)));
        case 'deleteRange':
          a.checkDeleteRange(auth, r.value);
          return this.done(this.t.executor.deleteRange(fromWireDeleteRange(r.value)));
        case 'txn': {
          a.checkTxn(auth, r.value, leaseKeys);
          const txn = fromWireTxn(r.value);
          const writes = [...txn.success, ...txn.failure].some(op => !('range' in op));
          if (writes && this.noSpace()) return this.fail(EtcdErrors.noSpace);
          return this.done(this.t.executor.txn(txn));
        }
        case 'compaction':
          // etcd checks no permission for compaction, not even root.
          return this.compact(r.value);
        case 'leaseGrant':
          return this.leaseGrant(r.value);
        case 'leaseRevoke':
          a.checkLeaseKeys(auth, leaseKeys(r.value.ID), 'write');
          return this.leaseRevoke(r.value);
        case 'leaseCheckpoint':
          return this.leaseCheckpoint(r.value);
        case 'alarm':
          return this.alarm(r.value);
        case 'zookeeper': {
          if (this.t.zookeeper === undefined) {
            return this.fail({code: Status.UNIMPLEMENTED, message: 'etcdserver: no ZooKeeper'});
          }
          const response = this.t.zookeeper.apply(r.value);
          return {ok: true, response, revision: this.t.store.rev()};
        }
        case 'memberAttributes':
          this.t.publishAttributes(r.value, index);
          return {ok: true, response: {}, revision: this.t.store.rev()};
        case 'authenticate':
          // The proposer checked the password; `password` carries the token's random part.
          return this.authDone(() => ({
            token: a.authenticate(r.value.name, index, r.value.password),
          }));
        case 'authEnable':
        case 'authDisable':
        case 'authUserAdd':
        case 'authUserDelete':
        case 'authUserChangePassword':
        case 'authUserGrantRole':
        case 'authUserRevokeRole':
        case 'authRoleAdd':
        case 'authRoleDelete':
        case 'authRoleGrantPermission':
        case 'authRoleRevokePermission':
          a.checkAdmin(auth);
          return this.authDone(() => {
            this.applyAuthChange(r);
            return {};
          });
        default: {
          const unknown: {$case: string} = r;
          return this.fail({
            code: Status.UNIMPLEMENTED,
            message: `etcdserver: ${unknown.$case} is not supported`,
          });
        }
      }
    } catch (error) {
      if (error instanceof AuthError) return this.fail(error.spec);
      return {ok: false, error: toEtcdError(error)};
    }
  }

  /** Users, roles and the enabled flag: root only while auth is on (etcd's needAdminPermission). */
  private applyAuthChange(
    r: Extract<NonNullable<InternalRequest['request']>, {$case: AuthChange}>,
  ): void {
    const a = this.t.auth;
    switch (r.$case) {
      case 'authEnable':
        a.enable();
        return;
      case 'authDisable':
        a.disable();
        return;
      case 'authUserAdd':
        a.userAdd(r.value);
        return;
      case 'authUserDelete':
        a.userDelete(r.value.name);
        return;
      case 'authUserChangePassword':
        a.userChangePassword(r.value);
        return;
      case 'authUserGrantRole':
        a.userGrantRole(r.value.user, r.value.role);
        return;
      case 'authUserRevokeRole':
        a.userRevokeRole(r.value.name, r.value.role);
        return;
      case 'authRoleAdd':
        a.roleAdd(r.value.name);
        return;
      case 'authRoleDelete':
        a.roleDelete(r.value.role);
        return;
      case 'authRoleGrantPermission':
        a.roleGrantPermission(r.value);
        return;
      case 'authRoleRevokePermission':
        a.roleRevokePermission(r.value);
        return;
    }
  }

  private authDone(change: () => object): ApplyResult {
    const response = change();
    return {ok: true, response, revision: this.t.store.rev()};
  }

  private noSpace(): boolean {
    if (this.t.alarms.has(AlarmType.NOSPACE)) return true;
    return false;
  }

  private done<T>(r: {readonly response: T; readonly revision: number}): ApplyResult<T> {
    return {ok: true, response: r.response, revision: r.revision};
  }

  private fail(error: EtcdErrorSpec): ApplyResult {
    return {ok: false, error};
  }

  private compact(r: CompactionRequest): ApplyResult {
    const rev =
      r.revision > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(r.revision);
    const handle = this.t.store.compact(rev);
    this.t.onCompaction(handle.done);
    return {ok: true, response: {physical: handle.done}, revision: this.t.store.rev()};
  }

  private leaseGrant(r: LeaseGrantRequest): ApplyResult {
    if (this.noSpace()) return this.fail(EtcdErrors.noSpace);
    const ttl = r.TTL > 9_000_000_001n ? 9_000_000_001 : Number(r.TTL);
    const info = this.t.lessor.grant(r.ID, ttl);
    return {ok: true, response: info, revision: this.t.store.rev()};
  }

  private leaseRevoke(r: LeaseRevokeRequest): ApplyResult {
    // A ZooKeeper session's ephemerals go through ZooKeeper's delete first.
    if (this.t.lessor.exists(r.ID)) this.t.zookeeper?.leaseRevoking(r.ID);
    this.t.lessor.revoke(r.ID, this.t.store);
    return {ok: true, response: {}, revision: this.t.store.rev()};
  }

  private leaseCheckpoint(r: LeaseCheckpointRequest): ApplyResult {
    for (const c of r.checkpoints) {
      if (this.t.lessor.exists(c.ID)) this.t.lessor.checkpoint(c.ID, Number(c.remainingTTL));
    }
    return {ok: true, response: {}, revision: this.t.store.rev()};
  }

  /** As etcd: the response lists the alarm that was raised or cleared, or nothing. */
  private alarm(r: AlarmRequest): ApplyResult {
    const changed: AlarmMember[] = [];
    switch (r.action) {
      case AlarmRequest_AlarmAction.ACTIVATE:
        if (r.alarm !== AlarmType.NONE) {
          this.t.alarms.activate(r.memberID, r.alarm);
          changed.push({memberID: r.memberID, alarm: r.alarm});
        }
        break;
      case AlarmRequest_AlarmAction.DEACTIVATE:
        if (this.t.alarms.deactivate(r.memberID, r.alarm)) {
          changed.push({memberID: r.memberID, alarm: r.alarm});
        }
        break;
      default:
        break;
    }
    return {ok: true, response: {alarms: changed}, revision: this.t.store.rev()};
  }
}
