import {AlarmRequest_AlarmAction, AlarmType} from '@synod/proto';
import type {AlarmMember, ResponseHeader, StatusResponse} from '@synod/proto';

import type {CallOptions} from './call-options.js';
import type {Int64Like} from './compare.js';
import {toInt64} from './compare.js';
import type {ConnectionPool, UnaryPolicy} from './connection-pool.js';
import {EtcdError, toEtcdError} from './errors.js';
import {headerOf} from './ops.js';

/** Options of a call that may be aimed at one member. */
export interface MemberCallOptions extends CallOptions {
  /**
   * Ask this member (an endpoint exactly as given to `createClient`), without failover.
   * Omitted: the current endpoint, with failover.
   */
  readonly endpoint?: string;
}

/** A member's hash of its whole backend. */
export interface HashResult {
  readonly header: ResponseHeader;
  readonly hash: number;
}

/** A member's hash of the MVCC key space up to a revision. */
export interface HashKVResult extends HashResult {
  readonly compactRevision: bigint;
}

/** The alarm kinds etcd raises. */
export type AlarmKind = 'nospace' | 'corrupt';

/**
 * Operations on members (etcd's Maintenance service). Reads (status, alarms, hashes) are
 * retried on another member when one is unavailable, unless aimed at one member.
 */
export class Maintenance {
  /** @internal */
  constructor(private readonly pool: ConnectionPool) {}

  private policy(options: MemberCallOptions, retry: boolean): UnaryPolicy {
    const {endpoint, signal, timeoutMs} = options;
    return endpoint === undefined
      ? {signal, timeoutMs, retry}
      : {signal, timeoutMs, retry: false, endpoint: this.pool.endpoint(endpoint)};
  }

  /** A member's status: version, db size, leader, raft index and term. */
  async status(options: MemberCallOptions = {}): Promise<StatusResponse> {
    return this.pool.unary('/etcdserverpb.Maintenance/Status', this.policy(options, true), (c, o) =>
      c.maintenance.status({}, o),
    );
  }

  /** Active alarms of every member. */
  async alarms(options: CallOptions = {}): Promise<AlarmMember[]> {
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/Alarm',
      {...options, retry: true},
      (c, o) =>
        c.maintenance.alarm(
          {action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE},
          o,
        ),
    );
    return r.alarms;
  }

  /**
   * Clears an alarm (after fixing its cause: for `nospace`, compact and defragment first).
   * `memberId` 0n clears it on every member.
   */
  async disarm(
    memberId: Int64Like,
    alarm: AlarmKind,
    options: CallOptions = {},
  ): Promise<AlarmMember[]> {
    const request = {
      action: AlarmRequest_AlarmAction.DEACTIVATE,
      memberID: toInt64(memberId, 'memberId'),
      alarm: alarm === 'nospace' ? AlarmType.NOSPACE : AlarmType.CORRUPT,
    };
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/Alarm',
      {...options, retry: true},
      (c, o) => c.maintenance.alarm(request, o),
    );
    return r.alarms;
  }

  /**
   * Defragments a member's backend, returning freed space to the file system. It blocks
   * that member's reads and writes while it runs: aim it at one member at a time.
   */
  async defragment(options: MemberCallOptions = {}): Promise<ResponseHeader> {
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/Defragment',
      this.policy(options, false),
      (c, o) => c.maintenance.defragment({}, o),
    );
    return headerOf(r.header);
  }

  /** Hash of a member's whole backend (for tests; compare hashKV across members instead). */
  async hash(options: MemberCallOptions = {}): Promise<HashResult> {
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/Hash',
      this.policy(options, true),
      (c, o) => c.maintenance.hash({}, o),
    );
    return {header: headerOf(r.header), hash: r.hash};
  }

  /** Hash of the key space up to `revision` (0: latest); equal on members that agree. */
  async hashKV(revision: Int64Like = 0n, options: MemberCallOptions = {}): Promise<HashKVResult> {
    const request = {revision: toInt64(revision, 'revision')};
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/HashKV',
      this.policy(options, true),
      (c, o) => c.maintenance.hashKV(request, o),
    );
    return {header: headerOf(r.header), hash: r.hash, compactRevision: r.compactRevision};
  }

  /**
   * Streams a snapshot of a member's backend as chunks of bytes (concatenate them into the
   * file). No deadline applies; cancel with `signal`.
   */
  async *snapshot(options: Omit<MemberCallOptions, 'timeoutMs'> = {}): AsyncGenerator<Buffer> {
    const endpoint =
      options.endpoint === undefined ? this.pool.current() : this.pool.endpoint(options.endpoint);
    const signal = options.signal ?? new AbortController().signal;
    try {
      const metadata = await this.pool.metadata(endpoint, signal);
      for await (const chunk of endpoint.clients.maintenance.snapshot({}, {signal, metadata})) {
        if (chunk.blob.length > 0) yield chunk.blob;
      }
    } catch (error) {
      const converted = toEtcdError(error);
      if (converted instanceof EtcdError && converted.unavailable)
        this.pool.reportFailure(endpoint);
      throw converted;
    }
  }

  /**
   * Transfers leadership to member `targetId`. etcd accepts this only on the leader, so
   * the client first asks every endpoint for its status to find the leader.
   */
  async moveLeader(targetId: Int64Like, options: CallOptions = {}): Promise<ResponseHeader> {
    const request = {targetID: toInt64(targetId, 'targetId')};
    let leaderEndpoint: string | undefined;
    for (const endpoint of this.pool.endpoints) {
      try {
        const status = await this.status({...options, endpoint: endpoint.address});
        if (status.header !== undefined && status.leader === status.header.memberId) {
          leaderEndpoint = endpoint.address;
          break;
        }
      } catch {
        // An unreachable member cannot be the leader we need; ask the next.
      }
    }
    if (leaderEndpoint === undefined) {
      throw new Error(
        "moveLeader: no endpoint of this client is the leader; add the leader's client URL to the endpoints",
      );
    }
    const r = await this.pool.unary(
      '/etcdserverpb.Maintenance/MoveLeader',
      this.policy({...options, endpoint: leaderEndpoint}, false),
      (c, o) => c.maintenance.moveLeader(request, o),
    );
    return headerOf(r.header);
  }
}
