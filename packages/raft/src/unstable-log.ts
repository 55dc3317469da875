import type {Entry, Snapshot} from '@synod/proto/raftpb';

/**
 * UnstableLog holds what raft has accepted but the application has not yet persisted: an
 * incoming snapshot and/or the entries after it (or after the storage's last index).
 *
 * Invariant: `entries[i]` has log index `offset + i`; with a snapshot, `offset` is
 * `snapshot index + 1`.
 */
export class UnstableLog {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index of the log if it starts with the unstable snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : snapIndex(this.snapshot) + 1;
  }

  /** The last index held here, if any. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) {
      return this.offset + this.entries.length - 1;
    }
    return this.snapshot === undefined ? undefined : snapIndex(this.snapshot);
  }

  /** The term of entry i, if this log knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && snapIndex(this.snapshot) === i) {
        return this.snapshot.metadata?.term ?? 0;
      }
      return undefined;
    }
    return this.entries[i - this.offset]?.term;
  }

  /**
   * stableTo drops entries up to i once they are durable. If entry i was replaced meanwhile
   * (a different term at i), the newer entries are not yet durable and are kept.
   */
  stableTo(i: number, t: number): void {
    if (i < this.offset || this.maybeTerm(i) !== t) {
      return;
    }
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  /** stableSnapTo drops the snapshot once it is durable. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && snapIndex(this.snapshot) === i) {
      this.snapshot = undefined;
    }
  }

  restore(s: Snapshot): void {
    this.offset = snapIndex(s) + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /**
   * truncateAndAppend appends `ents`, first dropping any held entries at or after the first
   * new index. Arrays handed out earlier are never mutated: truncation builds a new array.
   */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = (ents[0] as Entry).index;
    if (first === this.offset + this.entries.length) {
      for (const e of ents) {
        this.entries.push(e);
      }
    } else if (first <= this.offset) {
      this.offset = first;
      this.entries = ents.slice();
    } else {
      const kept = this.entries.slice(0, first - this.offset);
      for (const e of ents) {
        kept.push(e);
      }
      this.entries = kept;
    }
  }

  /** slice returns the held entries in [lo, hi); the range must lie within this log. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

function snapIndex(s: Snapshot): number {
  return s.metadata?.index ?? 0;
}
