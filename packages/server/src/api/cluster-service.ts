import type {
  ClusterDefinition,
  ClusterServiceImplementation,
  Member,
  MemberPromoteResponse,
  ResponseHeader,
} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import {ConfChangeType} from '@synod/proto/raftpb';
import type {PeerClusterServiceImplementation} from '@synod/proto/synodpb';
import {ClientError, ServerError} from 'nice-grpc-common';

import {memberIdFor} from '../config/member-ids.js';
import {maxLearners} from '../member/conf-change-refusal.js';
import type {MemberInfo} from '../member/membership.js';
import {toRecord} from '../member/membership.js';
import type {ServiceGuards} from './call-guard.js';
import {etcdError} from './errors.js';
import type {LeaderForwarder} from './leader-forwarder.js';
import type {ClusterBackend} from './member-ports.js';
import type {ClusterView} from './reconfig-checks.js';
import {
  learnerIsReady,
  refusalToAddVoter,
  refusalToPromote,
  refusalToRemove,
} from './reconfig-checks.js';

/** The Cluster API's header: etcd's ClusterServer fills ids and term, but no revision. */
function clusterHeader(member: ClusterBackend): ResponseHeader {
  return member.header(0);
}

export function toWireMember(m: MemberInfo): Member {
  return {
    ID: BigInt(m.id),
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

/** What the Cluster service needs besides the member: its peer connections and the leader. */
export interface ClusterServiceDeps {
  /** Whether this member has a working connection to peer `id`. */
  isPeerConnected(id: number): boolean;
  readonly forwarder: LeaderForwarder;
  /** Told when this member, as leader, has promoted a learner (for metrics). */
  readonly learnerPromoted?: () => void;
}

/** Peer URLs as the cluster records them (`scheme://host:port`), or etcd's bad-URL error. */
function parsePeerUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw etcdError(EtcdErrors.memberBadURLs);
  return urls.map(raw => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw etcdError(EtcdErrors.memberBadURLs);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.port === '') {
      throw etcdError(EtcdErrors.memberBadURLs);
    }
    return u.origin;
  });
}

/** The membership as this member sees it now, for the reconfiguration checks. */
function clusterView(member: ClusterBackend, deps: ClusterServiceDeps): ClusterView {
  return {
    selfId: member.memberId,
    members: member.membership.list(),
    isConnected: id => deps.isPeerConnected(id),
  };
}

function refuseIf(spec: ReturnType<typeof refusalToAddVoter>): void {
  if (spec !== undefined) throw etcdError(spec);
}

/**
 * Promotes learner `id` on the leader: refused unless it is a learner whose log
 * is within 10% of the leader's, as etcd decides.
 */
async function promoteHere(
  member: ClusterBackend,
  view: ClusterView,
  id: number,
  promoted?: () => void,
): Promise<MemberPromoteResponse> {
  if (!member.isLeader) throw etcdError(EtcdErrors.notLeader);
  const target = member.membership.get(id);
  if (target === undefined) throw etcdError(EtcdErrors.memberNotFound);
  if (!target.isLearner) throw etcdError(EtcdErrors.memberNotLearner);
  if (member.config.strictReconfigCheck) refuseIf(refusalToPromote(view));
  if (!learnerIsReady(member.matchIndex(id), member.matchIndex(member.memberId)))
    throw etcdError(EtcdErrors.learnerNotReady);
  const result = await member.proposeConfChange(ConfChangeType.ConfChangeAddNode, id, {
    ...target,
    isLearner: false,
  });
  if (!result.ok) throw etcdError(result.error);
  promoted?.();
  return {header: clusterHeader(member), members: result.response.map(toWireMember)};
}

/** A refusal from the leader, passed on to the client unchanged. */
function asServerError(error: unknown): unknown {
  return error instanceof ClientError ? new ServerError(error.code, error.details) : error;
}

/** Listing members needs no user; changing them needs root while auth is on. */
export const clusterGuards: ServiceGuards<typeof ClusterDefinition> = {
  memberList: {hasLeader: true, caller: 'none'},
  memberAdd: {hasLeader: true, caller: 'root'},
  memberRemove: {hasLeader: true, caller: 'root'},
  memberUpdate: {hasLeader: true, caller: 'root'},
  memberPromote: {hasLeader: true, caller: 'root'},
};

/**
 * The Cluster service: membership changes go through Raft as conf changes, one
 * at a time, checked first as etcd checks them (`--strict-reconfig-check`), and
 * again by every member when applied.
 */
export function clusterService(
  member: ClusterBackend,
  deps: ClusterServiceDeps,
): ClusterServiceImplementation {
  const view = () => clusterView(member, deps);
  const strict = member.config.strictReconfigCheck;

  return {
    async memberList(request) {
      if (request.linearizable) await member.linearizableRead();
      return {header: clusterHeader(member), members: member.membership.list().map(toWireMember)};
    },

    async memberAdd(request) {
      const peerUrls = parsePeerUrls(request.peerURLs);
      const membership = member.membership;
      if (membership.withPeerUrl(peerUrls) !== undefined) {
        throw etcdError(EtcdErrors.peerURLExists);
      }
      if (request.isLearner) {
        if (membership.learners().length >= maxLearners)
          throw etcdError(EtcdErrors.tooManyLearners);
      } else if (strict) {
        refuseIf(refusalToAddVoter(view()));
      }
      const added: MemberInfo = {
        // Added members take the time into their id, so that a member removed and
        // added back with the same URLs is a new member, as in etcd.
        id: memberIdFor(
          peerUrls.map(u => new URL(u)),
          member.config.initialClusterToken,
          Date.now(),
        ),
        name: '',
        peerUrls,
        clientUrls: [],
        isLearner: request.isLearner,
      };
      const result = await member.proposeConfChange(
        request.isLearner
          ? ConfChangeType.ConfChangeAddLearnerNode
          : ConfChangeType.ConfChangeAddNode,
        added.id,
        added,
      );
      if (!result.ok) throw etcdError(result.error);
      return {
        header: clusterHeader(member),
        member: toWireMember(added),
        members: result.response.map(toWireMember),
      };
    },

    async memberRemove(request) {
      const id = Number(request.ID);
      if (request.ID > BigInt(Number.MAX_SAFE_INTEGER) || !member.membership.has(id)) {
        throw etcdError(EtcdErrors.memberNotFound);
      }
      if (strict) refuseIf(refusalToRemove(view(), id));
      const result = await member.proposeConfChange(
        ConfChangeType.ConfChangeRemoveNode,
        id,
        undefined,
      );
      if (!result.ok) throw etcdError(result.error);
      return {header: clusterHeader(member), members: result.response.map(toWireMember)};
    },

    async memberUpdate(request) {
      const id = Number(request.ID);
      const existing =
        request.ID > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : member.membership.get(id);
      // An unknown member first, as etcd answers, then URLs (which etcd 3.4 takes unchecked).
      if (existing === undefined) throw etcdError(EtcdErrors.memberNotFound);
      const peerUrls = parsePeerUrls(request.peerURLs);
      if (member.membership.withPeerUrl(peerUrls, id) !== undefined) {
        throw etcdError(EtcdErrors.peerURLExists);
      }
      const result = await member.proposeConfChange(ConfChangeType.ConfChangeUpdateNode, id, {
        ...existing,
        peerUrls,
      });
      if (!result.ok) throw etcdError(result.error);
      return {header: clusterHeader(member), members: result.response.map(toWireMember)};
    },

    async memberPromote(request, context) {
      if (request.ID > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw etcdError(EtcdErrors.memberNotFound);
      }
      const id = Number(request.ID);
      if (member.isLeader) return promoteHere(member, view(), id, deps.learnerPromoted);
      if (member.leader === 0) throw etcdError(EtcdErrors.noLeader);
      try {
        const {cluster} = deps.forwarder.clientsOfLeader();
        const response = await cluster.promote(request, {signal: context.signal});
        return {...response, header: clusterHeader(member)};
      } catch (error) {
        throw asServerError(error);
      }
    },
  };
}

/** The member-to-member side of the Cluster service, served on the peer port. */
export function peerClusterService(
  member: ClusterBackend,
  deps: ClusterServiceDeps,
): PeerClusterServiceImplementation {
  return {
    members: () =>
      Promise.resolve({
        clusterId: BigInt(member.clusterId),
        members: member.membership.list().map(toRecord),
        removedIds: member.membership.removedIds().map(BigInt),
      }),
    promote: request =>
      promoteHere(member, clusterView(member, deps), Number(request.ID), deps.learnerPromoted),
  };
}
