import type {ZkAcl, ZkOp} from '@synod/proto/synodpb';

import type {ZkAuthId} from './zk-auth.js';
import type {ZkProposal, ZkProposed} from './zk-member.js';

/**
 * Proposes `requests` as one raft entry (or a lone request as itself) and resolves with each
 * one's outcome, in order. It must hand the entry to raft before it returns (before its first
 * `await`), so that proposals leave in the order they were made.
 */
export type ProposeTogether = (requests: readonly ZkProposal[]) => Promise<readonly ZkProposed[]>;

export interface ZkProposalBatcherOptions {
  /** Runs a function once this event-loop turn's I/O callbacks are done: `setImmediate`. */
  readonly soon: (fn: () => void) => void;
  /**
   * The most a batch's entry may take, counted by {@link encodedBytesAtMost}: below the
   * member's `--max-request-bytes`, which a batch must never exceed when its requests alone
   * would not. A request bigger than this is proposed alone.
   */
  readonly maxBatchBytes: number;
  /** The most requests in one batch. */
  readonly maxBatchRequests: number;
}

interface Queued {
  readonly request: ZkProposal;
  readonly resolve: (proposed: ZkProposed) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the ZooKeeper txns that a member's connections send in one event-loop turn into one
 * proposal: one protobuf encoding, one WAL record, one raft entry (and one AppendEntries item
 * per follower), one decode and one waiter instead of one each. Requests leave in the order
 * they came, so a connection's pipelined writes keep their order, and each one is applied on
 * its own (see `ZkStateMachine`'s batch), so an error in one touches no other.
 *
 * Example: 64 sessions each send a setData; the reads of their packets all run in one poll
 * phase of Node's event loop, each queues its request here, and the check phase that follows
 * proposes the 64 as one entry. A lone client's request waits for nothing but that same
 * check phase, before the raft loop's own pass of the turn.
 *
 * Invariant: a flush is scheduled whenever `queued` is non-empty.
 */
export class ZkProposalBatcher {
  private queued: Queued[] = [];
  private queuedBytes = 0;

  constructor(
    private readonly proposeTogether: ProposeTogether,
    private readonly options: ZkProposalBatcherOptions,
  ) {}

  /** Queues a txn for this turn's batch; resolves with its own outcome. */
  propose(request: ZkProposal): Promise<ZkProposed> {
    const bytes = encodedBytesAtMost(request);
    if (bytes > this.options.maxBatchBytes) {
      // Too big to share an entry: after everything queued before it, on its own.
      this.flush();
      return this.proposeTogether([request]).then(([proposed]) => {
        if (proposed === undefined) throw new Error('a proposal came back without its outcome');
        return proposed;
      });
    }
    if (
      this.queued.length >= this.options.maxBatchRequests ||
      this.queuedBytes + bytes > this.options.maxBatchBytes
    ) {
      this.flush();
    }
    return new Promise<ZkProposed>((resolve, reject) => {
      if (this.queued.length === 0) {
        this.options.soon(() => {
          this.flush();
        });
      }
      this.queued.push({request, resolve, reject});
      this.queuedBytes += bytes;
    });
  }

  /** Proposes what is queued, if anything, as one batch. */
  private flush(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    let outcomes: Promise<readonly ZkProposed[]>;
    try {
      outcomes = this.proposeTogether(batch.map(q => q.request));
    } catch (error) {
      for (const q of batch) q.reject(error);
      return;
    }
    outcomes.then(
      results => {
        batch.forEach((q, i) => {
          const proposed = results[i];
          if (proposed === undefined) q.reject(new Error('a batch came back without an outcome'));
          else q.resolve(proposed);
        });
      },
      (error: unknown) => {
        for (const q of batch) q.reject(error);
      },
    );
  }
}

/**
 * An upper bound of a request's share of a batch's protobuf encoding: every string counted
 * at 3 bytes a UTF-16 unit (UTF-8's most), every field's tag, length and number at their
 * widest. Example: a setData of 256 bytes at a 20-character path, from a connection with one
 * `ip` id, counts 80 + (32 + 60 + 256) + (16 + 6 + 27) = 477 bytes.
 */
export function encodedBytesAtMost(request: ZkProposal): number {
  let bytes = 80 + authBytes(request.auth);
  const r = request.request;
  if (r?.$case !== 'txn') return bytes + 1024;
  for (const op of r.value.ops) bytes += opBytes(op);
  return bytes;
}

function authBytes(ids: readonly ZkAuthId[]): number {
  let bytes = 0;
  for (const a of ids) bytes += 16 + 3 * (a.scheme.length + a.id.length);
  return bytes;
}

function aclBytes(acl: readonly ZkAcl[]): number {
  let bytes = 0;
  for (const a of acl) bytes += 24 + 3 * (a.scheme.length + a.id.length);
  return bytes;
}

function opBytes(op: ZkOp): number {
  const o = op.op;
  if (o === undefined) return 32;
  const path = 32 + 3 * o.value.path.length;
  switch (o.$case) {
    case 'create':
      return path + o.value.data.length + aclBytes(o.value.acl);
    case 'setData':
      return path + o.value.data.length;
    case 'setAcl':
      return path + aclBytes(o.value.acl);
    case 'delete':
    case 'check':
      return path;
  }
}
