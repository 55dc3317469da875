import type {Entry, Snapshot} from '@synod/proto/raftpb';
import type {MemoryStorage} from '@synod/raft';
import type {Snapshotter, Wal} from '@synod/storage';

import type {Clock} from './clock.js';
import type {MemberObserver} from './member-observer.js';

/** The files raft's state is written to: the WAL, snapshot files, and raft's in-memory log. */
export interface RaftFiles {
  readonly wal: Wal;
  readonly raftStorage: MemoryStorage;
  readonly snapshotter: Snapshotter;
}

/** How the WAL is synced. */
export interface RaftPersistenceSettings {
  /** `inline`: fsync on the event loop; `threadpool`: in libuv's threadpool. */
  readonly walFsync: 'inline' | 'threadpool';
  /** The injected bug 'ack-before-wal-fsync': never fsync the WAL. */
  readonly skipWalFsync: boolean;
}

/**
 * Raft's state on disk, as etcd's `etcdserver/storage.go` keeps it: each Ready's snapshot,
 * entries and hard state go to the snapshot files and the WAL, then to raft's in-memory log,
 * which serves raft's reads (terms, entries for followers) afterwards.
 */
export class RaftPersistence {
  constructor(
    private readonly files: RaftFiles,
    private readonly settings: RaftPersistenceSettings,
    private readonly clock: Clock,
    private readonly observer: MemberObserver,
  ) {}

  /**
   * Makes a Ready's snapshot, entries and hard state durable, then hands them to the raft
   * storage. The WAL's fsync runs off the event loop: requests and peer messages that arrive
   * meanwhile queue up in raft and go into the next Ready, which the raft loop starts only
   * after this one resolves.
   */
  async persist(
    hardState: Parameters<Wal['save']>[0],
    entries: readonly Entry[],
    snapshot: Snapshot | undefined,
    mustSync: boolean,
  ): Promise<void> {
    const {wal, raftStorage} = this.files;
    if (snapshot !== undefined) this.saveReceivedSnapshot(snapshot);
    // Raft needs an fsync only when entries, term or vote changed; a batch that only moves the
    // commit index is written and rides on the next fsync.
    const writtenMs = this.clock.monotonicMs();
    // Inline, the fsync costs the member less CPU and a put less time than handing it to
    // libuv's threadpool and waking the loop when it is done (docs/performance.md, change 10).
    const sync = mustSync && !this.settings.skipWalFsync;
    if (this.settings.walFsync === 'inline') wal.save(hardState, entries, sync);
    else await wal.saveAsync(hardState, entries, sync);
    if (sync) this.observer.walSynced(this.clock.monotonicMs() - writtenMs);
    if (hardState !== undefined) raftStorage.setHardState(hardState);
    if (entries.length > 0) raftStorage.append(entries);
  }

  /**
   * The term and commit index as last persisted: they are read on every response header, and
   * raft's status() copies every follower's progress to answer.
   */
  get term(): number {
    return this.files.raftStorage.initialState().hardState.term;
  }

  get commitIndex(): number {
    return this.files.raftStorage.initialState().hardState.commit;
  }

  /** Bytes the WAL has written since the member started, for metrics. */
  get walBytesWritten(): number {
    return this.files.wal.bytesWritten;
  }

  close(): void {
    this.files.wal.close();
  }

  /**
   * A snapshot received from the leader goes down before the Ready's entries and hard state:
   * the snapshot file, then its marker in the WAL, then raft's storage.
   */
  private saveReceivedSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.metadata;
    if (meta === undefined) return;
    this.files.snapshotter.save({
      index: meta.index,
      term: meta.term,
      confState: meta.confState ?? {voters: [], learners: []},
      data: snapshot.data,
    });
    this.files.wal.saveSnapshotMarker({index: meta.index, term: meta.term});
    this.files.raftStorage.applySnapshot(snapshot);
  }
}
