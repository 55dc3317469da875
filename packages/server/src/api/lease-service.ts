import type {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseServiceImplementation,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import {LessorDefinition} from '@synod/proto/synodpb';
import type {LessorClient, LessorServiceImplementation} from '@synod/proto/synodpb';
import type {LeaseInfo} from '@synod/storage';
import type {Channel} from 'nice-grpc';
import {createChannel, createClient} from 'nice-grpc';

import type {MemberCore} from '../member/member.js';
import {etcdError, requireLeaderIfAsked, unwrap} from './errors.js';
import {leaderWatchdog} from './leader-watchdog.js';

/** A positive int64 lease id: etcd masks its request id generator to 63 bits. */
function newLeaseId(member: MemberCore): bigint {
  for (;;) {
    const id = member.nextRequestId() & ((1n << 63n) - 1n);
    if (id !== 0n && !member.lessor.exists(id)) return id;
  }
}

/**
 * Keep-alives and time-to-live questions are answered by the leader alone,
 * since only the leader runs lease clocks; a follower forwards them to the
 * leader's peer endpoint.
 */
export class LeaderForwarder {
  private channel: Channel | undefined;
  private client: LessorClient | undefined;
  private leaderId = 0;

  constructor(private readonly member: MemberCore) {}

  lessorOfLeader(): LessorClient {
    const leader = this.member.leader;
    if (leader === 0) throw etcdError(EtcdErrors.noLeader);
    if (leader !== this.leaderId || this.client === undefined) {
      const info = this.member.membership.get(leader);
      const url = info?.peerUrls[0];
      if (url === undefined) throw etcdError(EtcdErrors.noLeader);
      this.channel?.close();
      const u = new URL(url);
      this.channel = createChannel(`${u.hostname}:${u.port}`);
      this.client = createClient(LessorDefinition, this.channel);
      this.leaderId = leader;
    }
    return this.client;
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
    this.client = undefined;
  }

  /**
   * Runs `call` against the leader's lessor. When the leader is unknown,
   * unreachable or no longer leads, waits for the next one and asks again
   * (each attempt bounded by an election timeout), as etcd's followers do,
   * until the request timeout; then fails with the last error.
   */
  async withLeader<T>(
    call: (lessor: LessorClient, signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const {electionTimeoutMs, heartbeatIntervalMs} = this.member.config;
    const deadline = Date.now() + 5000 + 2 * electionTimeoutMs;
    for (;;) {
      signal.throwIfAborted();
      try {
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(electionTimeoutMs)]);
        return await call(this.lessorOfLeader(), attempt);
      } catch (error) {
        if (signal.aborted || Date.now() > deadline) throw error;
        // The leader may have changed: reconnect to whoever leads now.
        this.close();
        await new Promise(resolve => setTimeout(resolve, heartbeatIntervalMs));
      }
    }
  }
}

function renewHere(member: MemberCore, request: LeaseKeepAliveRequest): LeaseKeepAliveResponse {
  if (!member.isLeader) throw etcdError(EtcdErrors.notLeader);
  let ttl = 0n;
  if (member.lessor.exists(request.ID)) ttl = BigInt(member.lessor.renew(request.ID));
  return {header: member.header(), ID: request.ID, TTL: ttl};
}

function timeToLiveHere(
  member: MemberCore,
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
export function lessorService(member: MemberCore): LessorServiceImplementation {
  return {
    renew: request => Promise.resolve(renewHere(member, request)),
    timeToLive: request => Promise.resolve(timeToLiveHere(member, request)),
  };
}

/** The Lease service. Grants and revocations go through Raft; renewals go to the leader. */
export function leaseService(
  member: MemberCore,
  forwarder: LeaderForwarder,
): LeaseServiceImplementation {
  const renew = async (request: LeaseKeepAliveRequest, signal: AbortSignal) => {
    if (member.isLeader) return renewHere(member, request);
    const response = await forwarder.withLeader(
      (lessor, s) => lessor.renew(request, {signal: s}),
      signal,
    );
    return {...response, header: member.header()};
  };
  return {
    async leaseGrant(request, context) {
      requireLeaderIfAsked(context, member.leader);
      member.checkQuota();
      const id = request.ID === 0n ? newLeaseId(member) : request.ID;
      const result = unwrap(
        await member.propose({$case: 'leaseGrant', value: {ID: id, TTL: request.TTL}}),
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
      requireLeaderIfAsked(context, member.leader);
      const {revision} = unwrap(await member.propose({$case: 'leaseRevoke', value: request}));
      return {header: member.header(revision)};
    },

    async *leaseKeepAlive(requests, context) {
      requireLeaderIfAsked(context, member.leader);
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
      requireLeaderIfAsked(context, member.leader);
      if (member.isLeader) return timeToLiveHere(member, request);
      const response = await forwarder.withLeader(
        (lessor, s) => lessor.timeToLive(request, {signal: s}),
        context.signal,
      );
      return {...response, header: member.header()};
    },

    leaseLeases(_request, context) {
      requireLeaderIfAsked(context, member.leader);
      return Promise.resolve({
        header: member.header(),
        leases: member.lessor.list().map(ID => ({ID})),
      });
    },
  };
}
