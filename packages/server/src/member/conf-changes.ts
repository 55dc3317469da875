import {EtcdErrors} from '@synod/proto';
import type {ConfState, Entry} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType} from '@synod/proto/raftpb';
import {ConfChangeContext} from '@synod/proto/synodpb';
import {ConfChangeRefusedError} from '@synod/raft';

import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {ApplyResult} from './apply-result.js';
import type {Clock, TimerHandle} from './clock.js';
import {refusalOfConfChange} from './conf-change-refusal.js';
import type {MemberLogger} from './member-environment.js';
import {MemberRemovedError, memberRemovedMessage} from './member-removed.js';
import type {MemberInfo, Membership} from './membership.js';
import {fromRecord, toRecord} from './membership.js';

/** What proposing and applying conf changes needs of the member. */
export interface ConfChangeHost {
  /** Proposes `cc` to raft; throws when raft cannot take it now. */
  proposeToRaft(cc: ConfChange): void;
  /** Applies a committed `cc` to raft's configuration and returns the configuration after it. */
  applyToRaft(cc: ConfChange): ConfState;
  /** A fresh cluster-unique request id. */
  nextRequestId(): bigint;
  /** Runs `propose` and resolves with the result of applying the entry of request `id`. */
  awaitApplied(id: bigint, propose: () => void): Promise<ApplyResult>;
  /** Settles the local request `id` with the result of applying its entry. */
  resolve(id: bigint, result: ApplyResult): void;
  /** The membership now (a snapshot from the leader replaces it). */
  membership(): Membership;
  /** The index of the last entry the backend holds: entries up to it are being replayed. */
  consistentIndex(): number;
  /** The store's revision now, for a response. */
  revision(): number;
  /** The membership changed: the transport follows it. */
  membershipChanged(): void;
  /** A member was added: raft must be able to send it a snapshot that knows it. */
  memberAdded(): void;
  /** Stops this member for good, with `error`. */
  stop(error: Error): void;
}

/**
 * Conf changes, as etcd's `AddMember` / `RemoveMember` / `UpdateMember` and
 * `applyConfChange` make them: proposed with the member record in their context, applied to
 * raft and to the replicated membership in log order, and refused the same way by every
 * member (see {@link refusalOfConfChange}). Owns raft's configuration as applied so far.
 */
export class ConfChanges {
  /** Raft's configuration as of the last conf change applied. */
  private conf: ConfState;
  /** Index of the last conf change applied: no raft snapshot may be taken below it. */
  private lastIndex = 0;
  /** Stops a member removed from the cluster, once the others have heard of the commit. */
  private removalTimer: TimerHandle | undefined;

  constructor(
    private readonly host: ConfChangeHost,
    confState: ConfState,
    private readonly memberId: number,
    /** How long a removed member waits before it stops, so its peers hear of the commit. */
    private readonly removalDelayMs: number,
    private readonly clock: Clock,
    private readonly logger: MemberLogger,
  ) {
    this.conf = confState;
  }

  get confState(): ConfState {
    return this.conf;
  }

  /** Index of the last conf change applied. */
  get lastAppliedIndex(): number {
    return this.lastIndex;
  }

  /**
   * Proposes a change of membership and resolves once it is applied here, with
   * the members after it, or with etcd's error when applying refused it.
   */
  async propose(
    type: ConfChangeType,
    nodeId: number,
    member: MemberInfo | undefined,
  ): Promise<ApplyResult<MemberInfo[]>> {
    const id = this.host.nextRequestId();
    const cc: ConfChange = {
      type,
      nodeId,
      id: 0,
      context: ConfChangeContext.encode({
        member: member === undefined ? undefined : toRecord(member),
        promote: false,
        requestId: id,
      }).finish(),
    };
    const result = await this.host.awaitApplied(id, () => {
      try {
        this.host.proposeToRaft(cc);
      } catch (error) {
        if (!(error instanceof ConfChangeRefusedError)) throw error;
        throw EtcdDomainError.unnamed(
          'Unavailable',
          `etcdserver: the membership change cannot be made now (${error.message}); retry it`,
        );
      }
    });
    return result as ApplyResult<MemberInfo[]>;
  }

  /**
   * Applies a committed conf change to raft and to the membership. A change the
   * membership refuses (a member added twice, say) is applied to raft as a no-op
   * and its refusal recorded, so that replaying the log after a restart (which
   * runs every conf change through raft again, even those the backend already
   * reflects) makes exactly the same decisions.
   */
  apply(entry: Entry): void {
    this.lastIndex = entry.index;
    const membership = this.host.membership();
    const cc = ConfChange.decode(entry.data);
    const ctx = cc.context.length > 0 ? ConfChangeContext.decode(cc.context) : undefined;
    const replay = entry.index <= this.host.consistentIndex();
    const refusal = replay
      ? membership.wasRefused(entry.index)
        ? EtcdErrors.memberNotFound
        : undefined
      : refusalOfConfChange(membership, cc, ctx);
    if (refusal !== undefined) {
      this.conf = this.host.applyToRaft({...cc, nodeId: 0});
      if (replay) return;
      membership.recordRefused(entry.index);
      if (ctx !== undefined) this.host.resolve(ctx.requestId, {ok: false, error: refusal});
      return;
    }
    this.conf = this.host.applyToRaft(cc);
    if (replay) return;
    applyToMembership(membership, cc, ctx);
    membership.recordChange(entry.index);
    if (
      cc.type === ConfChangeType.ConfChangeAddNode ||
      cc.type === ConfChangeType.ConfChangeAddLearnerNode
    ) {
      this.host.memberAdded();
    }
    if (ctx !== undefined && ctx.requestId !== 0n) {
      this.host.resolve(ctx.requestId, {
        ok: true,
        response: membership.list(),
        revision: this.host.revision(),
      });
    }
    this.host.membershipChanged();
    if (cc.type === ConfChangeType.ConfChangeRemoveNode && cc.nodeId === this.memberId) {
      // As etcd: answer the request that removed this member, let the other members
      // hear of the commit, then stop for good.
      this.logger.warn({}, memberRemovedMessage);
      this.removalTimer ??= this.clock.setTimeout(() => {
        this.host.stop(new MemberRemovedError());
      }, this.removalDelayMs);
    }
  }

  /** Cancels a pending stop after this member's removal: the member is closing anyway. */
  close(): void {
    this.clock.clearTimer(this.removalTimer);
  }
}

/** Records a conf change the membership took. */
function applyToMembership(
  membership: Membership,
  cc: ConfChange,
  ctx: ConfChangeContext | undefined,
): void {
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
    case ConfChangeType.ConfChangeAddLearnerNode:
    case ConfChangeType.ConfChangeUpdateNode: {
      const existing = membership.get(cc.nodeId);
      const proposed = ctx?.member === undefined ? undefined : fromRecord(ctx.member);
      const base = proposed ?? existing;
      if (base === undefined) return;
      membership.set({
        ...base,
        // A member's name and client URLs are published by the member itself.
        name: existing?.name ?? base.name,
        clientUrls: existing?.clientUrls ?? base.clientUrls,
        zkClientAddress: existing?.zkClientAddress ?? '',
        zkSecureClientAddress: existing?.zkSecureClientAddress ?? '',
        isLearner:
          cc.type === ConfChangeType.ConfChangeUpdateNode
            ? (existing?.isLearner ?? false)
            : cc.type === ConfChangeType.ConfChangeAddLearnerNode,
      });
      return;
    }
    case ConfChangeType.ConfChangeRemoveNode:
      membership.remove(cc.nodeId);
      return;
    default:
      return;
  }
}
