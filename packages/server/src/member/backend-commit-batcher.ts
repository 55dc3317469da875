import type {Clock, TimerHandle} from './clock.js';

/** The store whose buffered writes the batcher commits (replaced by a snapshot install). */
export interface BatchedStore {
  /** Writes buffered since the last commit. */
  pendingWrites(): number;
  /** Commits every buffered write; resolves once they are on disk. */
  commit(): Promise<void>;
}

/**
 * Applied writes wait in the backend's buffer (reads see them) until the batch interval
 * passes or the batch limit is reached, then go to disk in one LMDB transaction, as etcd
 * batches its bbolt commits: each commit costs LMDB two flushes to disk, which per write
 * would triple the disk flushes the WAL alone needs. The WAL holds every applied entry until
 * a snapshot covers it, and a snapshot waits for the backend (the member commits through
 * {@link commitNow} first), so a crash loses nothing: the entries after the backend's last
 * commit are applied again on restart.
 */
export class BackendCommitBatcher {
  /** Commits the buffered writes when it fires. */
  private timer: TimerHandle | undefined;

  constructor(
    private readonly store: () => BatchedStore,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly limitWrites: number,
    /** Told of a commit that failed: the backend is unusable, and the member must stop. */
    private readonly onFailure: (error: unknown) => void,
  ) {}

  /** Called after each apply batch: commits now if the batch is full, else within the interval. */
  commitSoon(): void {
    if (this.store().pendingWrites() >= this.limitWrites) {
      void this.commitNow();
      return;
    }
    this.timer ??= this.clock.setTimeout(() => {
      void this.commitNow();
    }, this.intervalMs);
  }

  /**
   * Commits the buffered writes now; resolves once they are on disk. A failed commit goes to
   * `onFailure` once, and the promise rejects for callers that wait on it.
   */
  commitNow(): Promise<void> {
    this.cancel();
    const committed = this.store().commit();
    committed.catch(this.onFailure);
    return committed;
  }

  /** Forgets the scheduled commit (the member stops, or discards what is buffered). */
  cancel(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
