import {InternalRequest} from '@synod/proto/synodpb';
import {ProposalDroppedError} from '@synod/raft';

import {anonymous} from '../auth/auth-store.js';
import type {RequestAuth} from '../auth/auth-store.js';
import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {ApplyResult} from './apply-result.js';
import type {Clock} from './clock.js';
import type {MemberObserver} from './member-observer.js';
import {RequestIds} from './request-ids.js';
import {Waiters} from './waiters.js';

export type InternalRequestBody = NonNullable<InternalRequest['request']>;

/** What proposing requests needs of the member. */
export interface ProposalHost {
  /** Proposes an encoded entry to raft; throws when raft drops it (no leader). */
  proposeToRaft(data: Uint8Array): void;
  /** Whether a leader is known: a proposal that times out without one says so. */
  hasLeader(): boolean;
}

/** How big a request may be and how long one may wait to be applied. */
export interface ProposalLimits {
  readonly maxRequestBytes: number;
  readonly requestTimeoutMs: number;
}

/**
 * This member's requests in flight through the log, as etcd's `processInternalRaftRequestOnce`
 * and its wait list keep them: each gets a cluster-unique id, is proposed to raft, and is
 * settled when the entry carrying that id is applied here, or fails with etcd's errors (no
 * leader, timed out, stopped).
 */
export class Proposals {
  private readonly waiters = new Waiters<bigint, ApplyResult>();
  private readonly requestIds: RequestIds;

  constructor(
    private readonly host: ProposalHost,
    memberId: number,
    private readonly limits: ProposalLimits,
    private readonly clock: Clock,
    private readonly observer: MemberObserver,
  ) {
    this.requestIds = new RequestIds(memberId, clock.nowMs());
  }

  /** Requests of this member waiting to be applied. */
  get pending(): number {
    return this.waiters.size;
  }

  /** A fresh cluster-unique id, for requests and for leases the server names. */
  nextRequestId(): bigint {
    return this.requestIds.next();
  }

  /**
   * Replicates a request and resolves with the result of applying it here. `auth` is the
   * user the request runs as; with auth on, it is checked when the entry is applied.
   */
  propose(body: InternalRequestBody, auth: RequestAuth = anonymous): Promise<ApplyResult> {
    const id = this.requestIds.next();
    const data = InternalRequest.encode({
      header: {id, username: auth.username, authRevision: auth.authRevision},
      request: body,
    }).finish();
    if (data.length > this.limits.maxRequestBytes) {
      throw EtcdDomainError.of('requestTooLarge');
    }
    return this.awaitApplied(id, () => {
      this.host.proposeToRaft(data);
    });
  }

  /** Runs `propose` and waits for the entry of request `id` to be applied here. */
  async awaitApplied(id: bigint, propose: () => void): Promise<ApplyResult> {
    const result = this.waiters.wait(id);
    try {
      propose();
    } catch (error) {
      this.observer.proposalFailed();
      this.waiters.reject(id, error);
      void result.catch(() => undefined);
      if (error instanceof ProposalDroppedError) {
        throw EtcdDomainError.of('noLeader');
      }
      throw error;
    }
    // A proposal lost with a leader change is never applied: give up on it as etcd does.
    const timer = this.clock.setTimeout(() => {
      this.observer.proposalFailed();
      this.waiters.reject(
        id,
        EtcdDomainError.of(this.host.hasLeader() ? 'timeout' : 'timeoutDueToLeaderFail'),
      );
    }, this.limits.requestTimeoutMs);
    try {
      return await result;
    } finally {
      this.clock.clearTimer(timer);
    }
  }

  /** Settles request `id` with the result of applying its entry; other members' ids are ignored. */
  resolve(id: bigint, result: ApplyResult): void {
    this.waiters.resolve(id, result);
  }

  /** Fails every request still waiting, with `error`. */
  rejectAll(error: unknown): void {
    this.waiters.rejectAll(error);
  }
}
