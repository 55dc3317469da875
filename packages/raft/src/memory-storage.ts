import type {ConfState, Entry, HardState, Snapshot} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {limitSize} from './entry-size.js';
import {CompactedError, SnapshotOutOfDateError, UnavailableError} from './errors.js';
import type {InitialState, Storage} from './storage.js';

/** emptySnapshot returns a snapshot at index 0 with an empty configuration. */
export function emptySnapshot(): Snapshot {
  return {
    data: new Uint8Array(0),
    metadata: {index: 0, term: 0, confState: {voters: [], learners: []}},
  };
}

/**
 * MemoryStorage is a {@link Storage} held in memory: for tests, the simulator, and as the
 * in-memory tail a durable storage keeps in front of its WAL.
 *
 * Layout: `ents[0]` is a dummy entry carrying the snapshot's index and term, so
 * `ents[i]` has log index `i + snapshotIndex`.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = {term: 0, vote: 0, commit: 0};
  private snap: Snapshot;
  /** Invariant: ents.length >= 1 and ents[0] is the snapshot's dummy entry. */
  private ents: Entry[];

  /**
   * @param confState - the initial configuration, for a node whose storage is pre-seeded with
   * the cluster's members (tests and simulations). Servers use `RawNode.bootstrap` instead.
   */
  constructor(confState?: ConfState) {
    this.snap = emptySnapshot();
    if (confState !== undefined && this.snap.metadata !== undefined) {
      this.snap.metadata.confState = {
        voters: [...confState.voters],
        learners: [...confState.learners],
      };
    }
    this.ents = [dummy(0, 0)];
  }

  initialState(): InitialState {
    return {
      hardState: {...this.hardState},
      confState: this.snap.metadata?.confState ?? {voters: [], learners: []},
    };
  }

  /** setHardState saves the hard state of a Ready. */
  setHardState(st: HardState): void {
    this.hardState = {...st};
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) {
      throw new CompactedError(lo);
    }
    if (hi > this.lastIndex() + 1) {
      throw new UnavailableError(hi - 1);
    }
    if (this.ents.length === 1) {
      throw new UnavailableError(lo);
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) {
      throw new CompactedError(i);
    }
    const e = this.ents[i - offset];
    if (e === undefined) {
      throw new UnavailableError(i);
    }
    return e.term;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** applySnapshot replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    const idx = snap.metadata?.index ?? 0;
    const current = this.snap.metadata?.index ?? 0;
    if (current >= idx) {
      throw new SnapshotOutOfDateError(idx, current);
    }
    this.snap = snap;
    this.ents = [dummy(idx, snap.metadata?.term ?? 0)];
  }

  /**
   * createSnapshot records a snapshot of the application state at applied index `i` (which
   * must be in the log) and returns it. Follow with `compact` to drop the entries it covers.
   */
  createSnapshot(i: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    const current = this.snap.metadata?.index ?? 0;
    if (i <= current) {
      throw new SnapshotOutOfDateError(i, current);
    }
    if (i > this.lastIndex()) {
      throw new UnavailableError(i);
    }
    const offset = this.offset();
    this.snap = {
      data,
      metadata: {
        index: i,
        term: (this.ents[i - offset] as Entry).term,
        confState: confState ?? this.snap.metadata?.confState ?? {voters: [], learners: []},
      },
    };
    return this.snap;
  }

  /**
   * compact discards every entry up to and including `compactIndex`; the term of
   * `compactIndex` is kept for the log matching check. The application must not compact past
   * its applied index.
   */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) {
      throw new CompactedError(compactIndex);
    }
    if (compactIndex > this.lastIndex()) {
      throw new UnavailableError(compactIndex);
    }
    const i = compactIndex - offset;
    const head = this.ents[i] as Entry;
    const rest = this.ents.slice(i + 1);
    rest.unshift(dummy(head.index, head.term));
    this.ents = rest;
  }

  /**
   * append persists entries from a Ready. Entries must be contiguous; ones already compacted
   * are skipped, and an overlap with the existing tail replaces it (a follower truncating a
   * conflicting suffix).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) {
      return;
    }
    const first = this.firstIndex();
    const last = (entries[0] as Entry).index + entries.length - 1;
    if (last < first) {
      return;
    }
    let ents = entries;
    if (first > (entries[0] as Entry).index) {
      ents = entries.slice(first - (entries[0] as Entry).index);
    }
    const offset = (ents[0] as Entry).index - this.offset();
    if (offset > this.ents.length) {
      throw new Error(
        `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`,
      );
    }
    if (offset < this.ents.length) {
      this.ents.length = offset;
    }
    for (const e of ents) {
      this.ents.push(e);
    }
  }
}

function dummy(index: number, term: number): Entry {
  return {index, term, type: EntryType.EntryNormal, data: new Uint8Array(0)};
}
