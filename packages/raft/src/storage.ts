import type {ConfState, Entry, HardState, Snapshot} from '@synod/proto/raftpb';

/** The state a node restarts from: what it last persisted. */
export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * Storage is raft's read-only view of the durable log. The application writes to it (after
 * persisting each Ready) and raft reads from it. Entries handed out are shared, not copied:
 * neither side may mutate them.
 *
 * Errors: `entries` and `term` throw {@link CompactedError} below `firstIndex() - 1` /
 * `firstIndex()` and {@link UnavailableError} above `lastIndex()`; `snapshot` may throw
 * {@link SnapshotTemporarilyUnavailableError} while a snapshot is being produced.
 */
export interface Storage {
  /** initialState returns the persisted hard state and the configuration at the last snapshot
   * or conf change applied to storage. */
  initialState(): InitialState;
  /**
   * entries returns the entries in [lo, hi). The total size is limited to `maxSizeBytes`
   * (approximate encoded size), but at least one entry is returned if the range is non-empty.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /**
   * term returns the term of entry i, which must be in [firstIndex() - 1, lastIndex()]. The
   * term of firstIndex() - 1 is retained (from the snapshot) for the log matching check.
   */
  term(i: number): number;
  /** lastIndex returns the index of the last entry (the snapshot index if the log is empty). */
  lastIndex(): number;
  /** firstIndex returns the index of the first available entry (snapshot index + 1). */
  firstIndex(): number;
  /**
   * snapshot returns the most recent snapshot. A leader sends it to followers that need
   * compacted entries, so it should be recent: a snapshot older than a member's addition does
   * not list that member and is not sent to it (the leader waits for a newer one).
   */
  snapshot(): Snapshot;
}
