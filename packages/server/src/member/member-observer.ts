import type {LessorObserver} from '@synod/storage';

import type {Clock} from './clock.js';

/**
 * What a member reports about its own work as it does it, for metrics: durations are measured
 * on the member's {@link Clock} where the work happens (so the simulator measures virtual
 * time), and the observer decides what to keep. Every method must return at once and never
 * throw: it is called on the Ready loop's path.
 */
export interface MemberObserver extends LessorObserver {
  /** A Ready's entries and hard state were written to the WAL and fdatasynced. */
  walSynced(durationMs: number): void;
  /** A backend transaction landed on disk, `durationMs` after it was committed. */
  backendCommitted(durationMs: number): void;
  /** A raft snapshot file was written and fsynced. */
  snapshotSynced(durationMs: number): void;
  /** A backend image received from the leader was written and fdatasynced. */
  snapshotDbSaved(totalMs: number, fsyncMs: number): void;
  /** A proposal of this member failed: raft dropped it, or it was not applied in time. */
  proposalFailed(): void;
  /** A ReadIndex round got no answer within the retry interval and was asked again. */
  readIndexSlow(): void;
  /** A ReadIndex request could not be handed to raft (no leader to ask). */
  readIndexFailed?(): void;
  /**
   * A transaction of the MVCC store ended after `ranges` reads, `puts` puts of `putBytes` key
   * and value bytes, and `deletes` deletes.
   */
  txnEnded?(ranges: number, puts: number, deletes: number, putBytes: number): void;
  /** The key index was compacted to `revision`, holding the store for `pauseMs`. */
  indexCompacted?(revision: number, pauseMs: number): void;
  /** A compaction batch removed `keys` revisions from the backend in `pauseMs`. */
  compactionBatch?(keys: number, pauseMs: number, last: boolean): void;
  /** A compaction's removal from the backend ended, `totalMs` after it began. */
  compacted?(totalMs: number): void;
  /** The leader revoked an expired lease through the log. */
  leaseExpired?(): void;
  /** A snapshot from the leader began (+1) or ended (-1) being applied. */
  snapshotApplying?(delta: 1 | -1): void;
  /** A consistent copy of the backend was made for a follower, in `durationMs`. */
  backendSnapshotted?(durationMs: number): void;
}

/** The observer of a member nobody watches. */
export const unobserved: MemberObserver = {
  walSynced: () => undefined,
  backendCommitted: () => undefined,
  snapshotSynced: () => undefined,
  snapshotDbSaved: () => undefined,
  proposalFailed: () => undefined,
  readIndexSlow: () => undefined,
};

/**
 * Times a backend commit from now until `landed` settles and reports it; a failed commit is
 * not a duration (the member stops on it elsewhere).
 */
export function timeBackendCommit(
  observer: MemberObserver,
  clock: Clock,
  landed: Promise<unknown>,
): void {
  const startedMs = clock.monotonicMs();
  landed.then(
    () => {
      observer.backendCommitted(clock.monotonicMs() - startedMs);
    },
    () => undefined,
  );
}
