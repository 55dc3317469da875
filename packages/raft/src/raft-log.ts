import type {Entry, Snapshot} from '@synod/proto/raftpb';
import {limitSize} from './entry-size.js';
import {CompactedError, UnavailableError} from './errors.js';
import type {Logger} from './logger.js';
import type {Storage} from './storage.js';
import {UnstableLog} from './unstable-log.js';

/**
 * RaftLog is the node's log: the durable part in {@link Storage} followed by the
 * {@link UnstableLog} tail not yet persisted.
 *
 * Invariant: applied <= committed <= lastIndex().
 */
export class RaftLog {
  readonly unstable: UnstableLog;
  /** The highest index known to be committed (stored on a quorum). */
  committed: number;
  /** The highest index the application has applied (acknowledged through `advance`). */
  applied: number;

  constructor(
    readonly storage: Storage,
    private readonly logger: Logger,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    // The snapshot's index is the initial committed and applied point.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * term returns the term of entry i. Throws {@link CompactedError} below the first index - 1
   * and {@link UnavailableError} past the last index.
   */
  term(i: number): number {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex) {
      throw new CompactedError(i);
    }
    if (i > this.lastIndex()) {
      throw new UnavailableError(i);
    }
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** termOrZero is `term` with 0 for an index outside the log. */
  termOrZero(i: number): number {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) {
      return 0;
    }
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** matchTerm reports whether entry i exists and has term t. */
  matchTerm(i: number, t: number): boolean {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) {
      return false;
    }
    return (this.unstable.maybeTerm(i) ?? this.storage.term(i)) === t;
  }

  /**
   * isUpToDate reports whether a log ending at (lasti, term) is at least as up to date as this
   * one (Raft §5.4.1): a later last term wins, an equal last term needs an equal or longer log.
   */
  isUpToDate(lasti: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && lasti >= this.lastIndex());
  }

  /**
   * findConflict returns the index of the first of `ents` whose term differs from the entry
   * at the same index here (or that is past the end of the log), or 0 if all of them match.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${e.index} [existing term: ${this.termOrZero(e.index)}, ` +
              `conflicting term: ${e.term}]`,
          );
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index <= `index` whose term is <= `term`, with that
   * term. A leader whose entry at `index` has `term` can skip every entry after it at once.
   */
  findConflictByTerm(index: number, term: number): {index: number; term: number} {
    for (;;) {
      let t: number;
      try {
        t = this.term(index);
      } catch {
        return {index, term: 0};
      }
      if (t <= term) {
        return {index, term: t};
      }
      index--;
    }
  }

  /**
   * maybeAppend handles a MsgApp: if the entry at `index` has `logTerm`, append `ents` after it
   * (truncating only at a real conflict) and commit up to min(committed, last new index).
   * Returns the last index the message proves is in the log, or undefined on a mismatch.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) {
      return undefined;
    }
    const lastNewIndex = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new Error(
          `entry ${ci} conflicts with committed entry [committed(${this.committed})]`,
        );
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** append adds entries to the unstable tail, replacing any suffix from their first index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) {
      return this.lastIndex();
    }
    const after = (ents[0] as Entry).index - 1;
    if (after < this.committed) {
      throw new Error(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) {
        throw new Error(
          `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. ` +
            'Was the raft log corrupted, truncated, or lost?',
        );
      }
      this.committed = toCommit;
    }
  }

  /** maybeCommit commits up to maxIndex if that entry is of `term` (only current-term counts). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) {
      return;
    }
    if (this.committed < i || i < this.applied) {
      throw new Error(
        `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
      );
    }
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** hasPendingSnapshot reports whether a received snapshot awaits persisting. */
  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** The entries after `applied` up to `committed`, to hand to the application. */
  nextCommittedEnts(maxSizeBytes: number): Entry[] {
    if (this.hasPendingSnapshot()) {
      return [];
    }
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) {
      return [];
    }
    return this.slice(lo, hi, maxSizeBytes);
  }

  hasNextCommittedEnts(): boolean {
    if (this.hasPendingSnapshot()) {
      return false;
    }
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** entries returns the entries from i to the end of the log, limited by size. */
  entries(i: number, maxSizeBytes: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) {
      return [];
    }
    return this.slice(i, last + 1, maxSizeBytes);
  }

  /** allEntries returns the whole available log (for tests and debugging). */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Infinity);
  }

  /**
   * slice returns entries in [lo, hi), at most maxSizeBytes (but at least one). Throws
   * {@link CompactedError} if lo has been compacted.
   */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo < this.firstIndex()) {
      throw new CompactedError(lo);
    }
    if (hi > this.lastIndex() + 1) {
      throw new Error(`slice[${lo},${hi}) out of bound [${this.firstIndex()},${this.lastIndex()}]`);
    }
    if (lo === hi) {
      return [];
    }
    const uOffset = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < uOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, uOffset), maxSizeBytes);
      // Storage stopped early on size: the unstable part cannot follow.
      if (stored.length < Math.min(hi, uOffset) - lo) {
        return stored;
      }
      ents = stored;
    }
    if (hi > uOffset) {
      const tail = this.unstable.slice(Math.max(lo, uOffset), hi);
      ents = ents.length > 0 ? ents.concat(tail) : tail;
    }
    return limitSize(ents, maxSizeBytes);
  }

  /** restore resets the log to start at a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.logger.info(
      `log starts to restore snapshot [index: ${s.metadata?.index ?? 0}, term: ${s.metadata?.term ?? 0}]`,
    );
    this.committed = s.metadata?.index ?? 0;
    this.unstable.restore(s);
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }
}
