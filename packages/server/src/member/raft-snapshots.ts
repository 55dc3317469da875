import type {ConfState} from '@synod/proto/raftpb';

import type {Clock} from './clock.js';
import type {MemberLogger} from './member-environment.js';
import type {MemberObserver} from './member-observer.js';
import type {RaftFiles} from './raft-persistence.js';

/** What taking raft snapshots needs of the member. */
export interface RaftSnapshotHost {
  /** Resolves once every backend write applied so far is on disk. */
  commitBackendNow(): Promise<void>;
  /** Runs `fn` between passes of the raft loop, when no WAL write is in flight. */
  runBetweenPasses(fn: () => void): void;
  /** The applied state now: a snapshot from the leader replaces it with a new object. */
  appliedState(): object;
  /** Whether the member has stopped (closed or failed). */
  stopped(): boolean;
  appliedIndex(): number;
  /** Index of the last conf change applied: no snapshot may be taken below it. */
  confChangeIndex(): number;
  /** Raft's configuration as of the last conf change applied. */
  confState(): ConfState;
  /** What a raft snapshot carries besides its position: the membership, for a restart. */
  snapshotData(): Uint8Array;
}

/** When to take raft snapshots and how much log to keep behind one. */
export interface RaftSnapshotSettings {
  /** Entries applied between two snapshots (`--snapshot-count`). */
  readonly snapshotCount: number;
  /** Entries kept behind a snapshot, so a slightly lagging follower catches up from the log. */
  readonly catchUpEntries: number;
  /** The injected bug 'snapshot-before-backend-commit': do not wait for the backend. */
  readonly skipBackendCommit: boolean;
}

/**
 * Raft snapshots of this member, as etcd's `snapshot` and `triggerSnapshot` take them: every
 * `snapshotCount` applied entries, and after a member is added, a snapshot records the log
 * position and the configuration; the WAL and raft's in-memory log behind it are released.
 * The backend is the state a snapshot stands for, so one is taken only once the backend's
 * copy of everything it covers is on disk.
 */
export class RaftSnapshots {
  /** Entries applied since the last snapshot was started. */
  private appliedSinceSnapshot = 0;
  /** Set when a member was added: the next apply batch ends with a raft snapshot. */
  private forNewMember = false;
  /** Whether a snapshot waits for the backend commit it needs (see {@link takeWhenDurable}). */
  private pending = false;

  constructor(
    private readonly files: RaftFiles,
    private readonly host: RaftSnapshotHost,
    private readonly settings: RaftSnapshotSettings,
    private readonly clock: Clock,
    private readonly observer: MemberObserver,
    private readonly logger: MemberLogger,
  ) {}

  /** A member was added: raft must be able to send it a snapshot that knows it. */
  scheduleForNewMember(): void {
    // Raft sends a new member only a snapshot that knows it: if the log it needs is already
    // compacted, the snapshot must come from after the change that added it.
    this.forNewMember = true;
  }

  /** Counts `count` entries applied up to `lastIndex`, and starts a snapshot when one is due. */
  maybeSnapshot(lastIndex: number, count: number): void {
    this.appliedSinceSnapshot += count;
    const due = this.appliedSinceSnapshot >= this.settings.snapshotCount;
    if ((due || this.forNewMember) && !this.pending) {
      this.forNewMember = false;
      this.takeWhenDurable(lastIndex);
    }
  }

  /**
   * Takes a raft snapshot at `index` once the backend's copy of everything up to `index` is
   * on disk: the snapshot lets the WAL behind it go, and a restart resumes applying after
   * the snapshot, so the backend must already hold what it covers.
   */
  private takeWhenDurable(index: number): void {
    this.pending = true;
    this.appliedSinceSnapshot = 0;
    const state = this.host.appliedState();
    const durable = this.settings.skipBackendCommit
      ? Promise.resolve()
      : this.host.commitBackendNow();
    durable.then(
      () => {
        // Between passes of the raft loop: no WAL write is in flight, raft's log may shrink.
        this.host.runBetweenPasses(() => {
          this.pending = false;
          // Stopped, or the state was replaced by a snapshot from the leader meanwhile.
          if (this.host.stopped() || state !== this.host.appliedState()) return;
          // A membership change applied after `index` would make the snapshot misstate the
          // configuration at `index`: take it at the current index instead.
          if (this.host.confChangeIndex() > index) {
            this.takeWhenDurable(this.host.appliedIndex());
            return;
          }
          this.take(index);
        });
      },
      () => {
        // The failed commit stopped the member (see BackendCommitBatcher): no snapshot.
        this.pending = false;
      },
    );
  }

  /**
   * Takes a raft snapshot at `index` and compacts the raft log behind it,
   * keeping some entries so a slightly lagging follower catches up from the log.
   */
  private take(index: number): void {
    const {raftStorage, snapshotter, wal} = this.files;
    if (index <= (raftStorage.snapshot().metadata?.index ?? 0)) return;
    const confState = this.host.confState();
    const data = this.host.snapshotData();
    const snap = raftStorage.createSnapshot(index, confState, data);
    const meta = snap.metadata;
    if (meta === undefined) return;
    const savedMs = this.clock.monotonicMs();
    snapshotter.save({index: meta.index, term: meta.term, confState, data});
    this.observer.snapshotSynced(this.clock.monotonicMs() - savedMs);
    wal.saveSnapshotMarker({index: meta.index, term: meta.term});
    const compactTo = index - this.settings.catchUpEntries;
    if (compactTo > raftStorage.firstIndex()) {
      raftStorage.compact(compactTo);
      wal.releaseTo(compactTo);
      snapshotter.purge(5);
    }
    this.logger.info({index}, 'saved a raft snapshot');
  }
}
