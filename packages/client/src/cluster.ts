import type {Member, ResponseHeader} from '@synod/proto';

import type {CallOptions} from './call-options.js';
import type {Int64Like} from './compare.js';
import {toInt64} from './compare.js';
import type {ConnectionPool} from './connection-pool.js';
import {headerOf} from './ops.js';

/** The members of the cluster after a membership call. */
export interface MembersResult {
  readonly header: ResponseHeader;
  readonly members: Member[];
}

/**
 * Cluster membership (etcd's Cluster service). Listing is retried on another member when
 * one is unavailable; changes are not.
 */
export class Cluster {
  /** @internal */
  constructor(private readonly pool: ConnectionPool) {}

  /** The members; `linearizable` (etcd 3.5+) confirms the list with a quorum first. */
  async memberList(
    options: CallOptions & {readonly linearizable?: boolean} = {},
  ): Promise<MembersResult> {
    const request = {linearizable: options.linearizable ?? false};
    const r = await this.pool.unary(
      '/etcdserverpb.Cluster/MemberList',
      {...options, retry: true},
      (c, o) => c.cluster.memberList(request, o),
    );
    return {header: headerOf(r.header), members: r.members};
  }

  /** Adds a member (as a non-voting learner if `isLearner`). */
  async memberAdd(
    peerUrls: readonly string[],
    options: CallOptions & {readonly isLearner?: boolean} = {},
  ): Promise<MembersResult & {readonly member: Member | undefined}> {
    const request = {peerURLs: [...peerUrls], isLearner: options.isLearner ?? false};
    const r = await this.pool.unary(
      '/etcdserverpb.Cluster/MemberAdd',
      {...options, retry: false},
      (c, o) => c.cluster.memberAdd(request, o),
    );
    return {header: headerOf(r.header), member: r.member, members: r.members};
  }

  /** Removes a member. */
  async memberRemove(id: Int64Like, options: CallOptions = {}): Promise<MembersResult> {
    const request = {ID: toInt64(id, 'id')};
    const r = await this.pool.unary(
      '/etcdserverpb.Cluster/MemberRemove',
      {...options, retry: false},
      (c, o) => c.cluster.memberRemove(request, o),
    );
    return {header: headerOf(r.header), members: r.members};
  }

  /** Changes a member's peer URLs. */
  async memberUpdate(
    id: Int64Like,
    peerUrls: readonly string[],
    options: CallOptions = {},
  ): Promise<MembersResult> {
    const request = {ID: toInt64(id, 'id'), peerURLs: [...peerUrls]};
    const r = await this.pool.unary(
      '/etcdserverpb.Cluster/MemberUpdate',
      {...options, retry: false},
      (c, o) => c.cluster.memberUpdate(request, o),
    );
    return {header: headerOf(r.header), members: r.members};
  }

  /** Promotes a learner that caught up with the leader to a voting member. */
  async memberPromote(id: Int64Like, options: CallOptions = {}): Promise<MembersResult> {
    const request = {ID: toInt64(id, 'id')};
    const r = await this.pool.unary(
      '/etcdserverpb.Cluster/MemberPromote',
      {...options, retry: false},
      (c, o) => c.cluster.memberPromote(request, o),
    );
    return {header: headerOf(r.header), members: r.members};
  }
}
