import type {ConfState, Entry, HardState, Snapshot} from '@synod/proto/raftpb';
import {entrySize, limitSize} from './entry-size.js';
import {CompactedError, SnapshotOutOfDateError, UnavailableError} from './errors.js';
import {PackedEntries} from './packed-entries.js';
import type {InitialState, Storage} from './storage.js';

/** emptySnapshot returns a snapshot at index 0 with an empty configuration. */
export function emptySnapshot(): Snapshot {
  return {
    data: new Uint8Array(0),
    metadata: {index: 0, term: 0, confState: {voters: [], learners: []}},
  };
}

/** How {@link MemoryStorage} keeps its entries; see {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** Newest entries kept as objects, unpacked; 1,024 by default. */
  readonly unpackedEntries?: number;
  /** Entries packed into one run at a time, at most; 1,024 by default. */
  readonly packEntries?: number;
  /** Data bytes packed into one run, at most (a run holds at least one entry); 4 MiB by default. */
  readonly packBytes?: number;
}

/**
 * MemoryStorage is a {@link Storage} held in memory: for tests, the simulator, and as the
 * in-memory tail a durable storage keeps in front of its WAL.
 *
 * Layout: after the entry at `baseIndex` (the snapshot's or the last compacted one, of which
 * only the term is kept) come `runs` of packed entries, then the `tail` of entries kept as the
 * objects they were appended as. Once the tail holds `unpackedEntries + packEntries` entries,
 * its oldest `packEntries` are packed into a run ({@link PackedEntries}): a member keeps every
 * entry since its last snapshot (up to `--snapshot-count`, 100,000 by default, plus the
 * catch-up entries), and an entry held as an object costs about 570 bytes besides its data,
 * packed 13. Raft mostly reads the newest entries (to send and to apply), which stay objects.
 *
 * Example (unpackedEntries 2, packEntries 2): appending 1..5 after a snapshot at 0 leaves
 * runs [1..2], tail [3, 4, 5]; `entries(2, 5)` returns 2 (a new object viewing the run's
 * buffer), 3 and 4 (the objects appended).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = {term: 0, vote: 0, commit: 0};
  private snap: Snapshot;
  /** Index and term of the entry before the first held one. */
  private baseIndex = 0;
  private baseTerm = 0;
  /** Invariant: contiguous, oldest first, the first starting at baseIndex + 1. */
  private runs: PackedEntries[] = [];
  /** Invariant: contiguous, the first at tailFirst(). */
  private tail: Entry[] = [];
  private readonly unpackedEntries: number;
  private readonly packEntries: number;
  private readonly packBytes: number;

  /**
   * @param confState - the initial configuration, for a node whose storage is pre-seeded with
   * the cluster's members (tests and simulations). Servers use `RawNode.bootstrap` instead.
   */
  constructor(confState?: ConfState, options: MemoryStorageOptions = {}) {
    this.snap = emptySnapshot();
    if (confState !== undefined && this.snap.metadata !== undefined) {
      this.snap.metadata.confState = {
        voters: [...confState.voters],
        learners: [...confState.learners],
      };
    }
    this.unpackedEntries = options.unpackedEntries ?? 1024;
    this.packEntries = Math.max(1, options.packEntries ?? 1024);
    this.packBytes = options.packBytes ?? 4 * 1024 * 1024;
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

  /** Index of the last packed entry, baseIndex if none is. */
  private packedLast(): number {
    return this.runs[this.runs.length - 1]?.last ?? this.baseIndex;
  }

  private tailFirst(): number {
    return this.packedLast() + 1;
  }

  /** The run holding entry i, which must be packed. */
  private runOf(i: number): PackedEntries {
    const runs = this.runs;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((runs[mid] as PackedEntries).first <= i) lo = mid;
      else hi = mid - 1;
    }
    return runs[lo] as PackedEntries;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo <= this.baseIndex) {
      throw new CompactedError(lo);
    }
    const last = this.lastIndex();
    if (hi > last + 1) {
      throw new UnavailableError(hi - 1);
    }
    if (last === this.baseIndex) {
      throw new UnavailableError(lo);
    }
    const tailFirst = this.tailFirst();
    if (lo >= tailFirst) {
      return limitSize(this.tail.slice(lo - tailFirst, hi - tailFirst), maxSizeBytes);
    }
    // Packed entries are made into objects one by one, only as many as the limit lets through.
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = i < tailFirst ? this.runOf(i).entry(i) : (this.tail[i - tailFirst] as Entry);
      size += entrySize(e);
      if (out.length > 0 && size > maxSizeBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    if (i < this.baseIndex) {
      throw new CompactedError(i);
    }
    if (i === this.baseIndex) return this.baseTerm;
    const tailFirst = this.tailFirst();
    if (i >= tailFirst) {
      const e = this.tail[i - tailFirst];
      if (e === undefined) {
        throw new UnavailableError(i);
      }
      return e.term;
    }
    return this.runOf(i).term(i);
  }

  lastIndex(): number {
    return this.packedLast() + this.tail.length;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
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
    this.baseIndex = idx;
    this.baseTerm = snap.metadata?.term ?? 0;
    this.runs = [];
    this.tail = [];
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
    this.snap = {
      data,
      metadata: {
        index: i,
        term: this.term(i),
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
    if (compactIndex <= this.baseIndex) {
      throw new CompactedError(compactIndex);
    }
    if (compactIndex > this.lastIndex()) {
      throw new UnavailableError(compactIndex);
    }
    const term = this.term(compactIndex);
    const tailFirst = this.tailFirst();
    if (compactIndex >= tailFirst) {
      this.tail = this.tail.slice(compactIndex + 1 - tailFirst);
      this.runs = [];
    } else {
      const runs = this.runs.filter(r => r.last > compactIndex);
      const head = runs[0];
      if (head !== undefined && head.first <= compactIndex) runs[0] = head.from(compactIndex + 1);
      this.runs = runs;
    }
    this.baseIndex = compactIndex;
    this.baseTerm = term;
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
    const start = (ents[0] as Entry).index;
    if (start > this.lastIndex() + 1) {
      throw new Error(`missing log entry [last: ${this.lastIndex()}, append at: ${start}]`);
    }
    this.truncateFrom(start);
    for (const e of ents) {
      this.tail.push(e);
    }
    this.maybePack();
  }

  /** Drops entry `i` and every entry after it. */
  private truncateFrom(i: number): void {
    const tailFirst = this.tailFirst();
    if (i >= tailFirst) {
      if (i - tailFirst < this.tail.length) this.tail.length = i - tailFirst;
      return;
    }
    this.tail = [];
    const runs = this.runs.filter(r => r.first < i);
    runs[runs.length - 1]?.truncateAfter(i - 1);
    this.runs = runs;
  }

  /** Packs the oldest entries of the tail while it holds more than it keeps unpacked. */
  private maybePack(): void {
    while (this.tail.length >= this.unpackedEntries + this.packEntries) {
      let n = 0;
      let bytes = 0;
      while (n < this.packEntries) {
        const size = (this.tail[n] as Entry).data.length;
        if (n > 0 && bytes + size > this.packBytes) break;
        bytes += size;
        n++;
      }
      this.runs.push(PackedEntries.pack(this.tail.slice(0, n)));
      this.tail = this.tail.slice(n);
    }
  }
}
