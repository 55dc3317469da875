import {Inflights} from './inflights.js';

/**
 * ProgressState is how a leader currently replicates to one follower.
 *
 * - `probe`: the leader does not know where the follower's log matches its own. It sends one
 *   MsgApp at a time and waits for the answer (or a heartbeat response) before the next,
 *   stepping `next` back on each rejection.
 * - `replicate`: the follower's log matches up to `match`. The leader streams entries
 *   optimistically, advancing `next` as it sends, bounded by the {@link Inflights} window.
 * - `snapshot`: the follower needs entries the leader has compacted away. A MsgSnap is in
 *   flight; nothing else is sent until `reportSnapshot` or an append response says it landed.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * Progress is the leader's view of one follower's (or its own) log.
 *
 * NB: the transitions between states are driven from raft's step functions; this class only
 * keeps each transition's bookkeeping in one place.
 */
export class Progress {
  /** The highest index known to be in the follower's log. Invariant: 0 <= match < next. */
  match: number;
  /** The index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In `snapshot` state: the index of the snapshot in flight; 0 otherwise. */
  pendingSnapshot = 0;
  /**
   * Whether the follower was heard from since the last check-quorum round. A newly added
   * follower starts active so that adding a member does not make the leader step down.
   */
  recentActive = true;
  /** In `probe` state: a probe was sent and its answer is awaited. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(opts: {
    next: number;
    match?: number;
    maxInflight: number;
    maxInflightBytes?: number;
    isLearner?: boolean;
  }) {
    this.next = opts.next;
    this.match = opts.match ?? 0;
    this.inflights = new Inflights(opts.maxInflight, opts.maxInflightBytes ?? 0);
    this.isLearner = opts.isLearner ?? false;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * becomeProbe moves to `probe`. Coming from `snapshot`, the follower will have the snapshot
   * once it answers, so probing resumes right after it.
   */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * sentEntries updates the window after a MsgApp carrying `count` entries ending at
   * `lastIndex` with `bytes` of payload was sent.
   */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      // Every MsgApp in probe state is a probe, empty or not: wait for its answer.
      this.msgAppFlowPaused = true;
    }
  }

  /**
   * maybeUpdate records that the follower's log matches up to `n`. Returns false for an old
   * or duplicate acknowledgement.
   */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * maybeDecrTo handles a rejected MsgApp whose previous index was `rejected`; `matchHint` is
   * the follower's guess of where the logs may match. Returns false for a stale rejection
   * (one that does not answer the latest probe, or is below what is known to match).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) {
        return false;
      }
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) {
      return false;
    }
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** isPaused reports whether the leader must hold MsgApp to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.state === 'snapshot') s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    if (this.inflights.count > 0) s += ` inflight=${this.inflights.count}`;
    if (this.inflights.full()) s += '[full]';
    return s;
  }
}
