import type {
  LeaseDefinition,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseServiceImplementation,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import type {LessorServiceImplementation} from '@synod/proto/synodpb';
import type {LeaseInfo} from '@synod/storage';

import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {etcdError, unwrap} from './errors.js';
import type {LeaderForwarder} from './leader-forwarder.js';
import {leaderWatchdog} from './leader-watchdog.js';
import type {LeaseBackend} from './member-ports.js';

/**
 * A lease id no lease has: the proposer picks it, as etcd's lessor does. A positive int64:
 * etcd masks its request id generator to 63 bits.
 */
export function newLeaseId(member: {
  nextRequestId(): bigint;
  readonly lessor: Pick<LeaseBackend['lessor'], 'exists'>;
}): bigint {
  for (;;) {
    const id = member.nextRequestId() & ((1n << 63n) - 1n);
    if (id !== 0n && !member.lessor.exists(id)) return id;
  }
}

function renewHere(member: LeaseBackend, request: LeaseKeepAliveRequest): LeaseKeepAliveResponse {
  if (!member.isLeader) throw etcdError(EtcdErrors.notLeader);
  let ttl = 0n;
  if (member.lessor.exists(request.ID)) ttl = BigInt(member.renewLease(request.ID));
  return {header: member.header(), ID: request.ID, TTL: ttl};
}

function timeToLiveHere(
  member: LeaseBackend,
  request: LeaseTimeToLiveRequest,
): LeaseTimeToLiveResponse {
  if (!member.isLeader) throw etcdError(EtcdErrors.notLeader);
  const info = member.lessor.timeToLive(request.ID);
  if (info === undefined) {
    return {header: member.header(), ID: request.ID, TTL: -1n, grantedTTL: 0n, keys: []};
  }
  return {
    header: member.header(),
    ID: request.ID,
    TTL: BigInt(info.ttlSeconds),
    grantedTTL: BigInt(info.grantedTtlSeconds),
    keys: request.keys ? info.keys.map(k => Buffer.from(k)) : [],
  };
}

/** The leader side of lease forwarding, served on the peer port. */
export function lessorService(member: LeaseBackend): LessorServiceImplementation {
  return {
    renew: request => Promise.resolve(renewHere(member, request)),
    timeToLive: request => Promise.resolve(timeToLiveHere(member, request)),
  };
}

/** Every Lease call but KeepAlive and Leases runs as its caller; none is served by a learner. */
export const leaseGuards: ServiceGuards<typeof LeaseDefinition> = {
  leaseGrant: {hasLeader: true, caller: 'user'},
  leaseRevoke: {hasLeader: true, caller: 'user'},
  leaseKeepAlive: {hasLeader: true, caller: 'none'},
  leaseTimeToLive: {hasLeader: true, caller: 'user'},
  leaseLeases: {hasLeader: true, caller: 'none'},
};

/** The Lease service. Grants and revocations go through Raft; renewals go to the leader. */
export function leaseService(
  member: LeaseBackend,
  forwarder: LeaderForwarder,
): LeaseServiceImplementation {
  const renew = async (request: LeaseKeepAliveRequest, signal: AbortSignal) => {
    if (member.isLeader) return renewHere(member, request);
    const response = await forwarder.withLeader(
      ({lessor}, s) => lessor.renew(request, {signal: s}),
      signal,
    );
    return {...response, header: member.header()};
  };
  return {
    async leaseGrant(request, context) {
      const auth = callerOf(context);
      member.checkQuota();
      const id = request.ID === 0n ? newLeaseId(member) : request.ID;
      const result = unwrap(
        await member.propose({$case: 'leaseGrant', value: {ID: id, TTL: request.TTL}}, auth),
      );
      const response = result.response as LeaseInfo;
      const revision = result.revision;
      return {
        header: member.header(revision),
        ID: response.id,
        TTL: BigInt(response.grantedTtlSeconds),
        error: '',
      };
    },

    async leaseRevoke(request, context) {
      const {revision} = unwrap(
        await member.propose({$case: 'leaseRevoke', value: request}, callerOf(context)),
      );
      return {header: member.header(revision)};
    },

    async *leaseKeepAlive(requests, context) {
      const watchdog = leaderWatchdog(member, context);
      const iterator = requests[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await Promise.race([iterator.next(), watchdog.lost]);
          if (next.done === true) return;
          yield await renew(next.value, context.signal);
        }
      } finally {
        watchdog.stop();
      }
    },

    async leaseTimeToLive(request, context) {
      const auth = callerOf(context);
      const response = member.isLeader
        ? timeToLiveHere(member, request)
        : await forwarder.withLeader(
            ({lessor}, s) => lessor.timeToLive(request, {signal: s}),
            context.signal,
          );
      // As etcd: listing a lease's keys needs read permission on each of them.
      if (request.keys) member.auth.checkLeaseKeys(auth, response.keys, 'read');
      return {...response, header: member.header()};
    },

    leaseLeases() {
      return Promise.resolve({
        header: member.header(),
        leases: member.lessor.list().map(ID => ({ID})),
      });
    },
  };
}
