import type {Clock} from './clock.js';

/**
 * What a member reports about its own work as it does it, for metrics: durations are measured
 * on the member's {@link Clock} where the work happens (so the simulator measures virtual
 * time), and the observer decides what to keep. Every method must return at once and never
 * throw: it is called on the Ready loop's path.
 */
export interface MemberObserver {
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
