import type {Entry, HardState, Snapshot} from '@synod/proto/raftpb';
import {MemoryStorage} from '@synod/raft';

/** One Ready's worth of state to make durable. */
export interface DiskWrite {
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

/**
 * SimDisk is a member's durable state: the snapshot, the log and the hard state it has
 * persisted, held in the {@link MemoryStorage} raft reads. It changes only through its write
 * methods, so whatever raft holds beyond it is exactly what a crash loses.
 *
 * A Ready is written as one synced batch, in the Ready contract's order: snapshot, entries,
 * hard state. {@link SimDisk.writeTorn} models a crash in the middle of that batch.
 */
export class SimDisk {
  private current: MemoryStorage;

  constructor() {
    this.current = new MemoryStorage();
  }

  /** The storage raft reads; replaced wholesale only by {@link SimDisk.loseSyncedTail}. */
  get storage(): MemoryStorage {
    return this.current;
  }

  /** write makes a whole Ready durable. */
  write(w: DiskWrite): void {
    if (w.snapshot !== undefined) this.current.applySnapshot(w.snapshot);
    this.current.append(w.entries);
    if (w.hardState !== undefined) this.current.setHardState(w.hardState);
  }

  /**
   * writeTorn makes only part of a Ready durable: the snapshot (written and synced before the
   * log batch), then the first `keepEntries` entries; the hard state is lost. Returns the
   * entries that reached the disk.
   */
  writeTorn(w: DiskWrite, keepEntries: number): readonly Entry[] {
    const storage = this.current;
    if (w.snapshot !== undefined) {
      storage.applySnapshot(w.snapshot);
      // A durable snapshot is committed by definition, so the recovered hard state covers it,
      // as etcd's WAL snapshot record does; raft refuses a commit below its snapshot.
      const prev = storage.initialState().hardState;
      const snapIndex = w.snapshot.metadata?.index ?? 0;
      const snapTerm = w.snapshot.metadata?.term ?? 0;
      storage.setHardState({
        term: Math.max(prev.term, snapTerm),
        vote: snapTerm > prev.term ? 0 : prev.vote,
        commit: Math.max(prev.commit, snapIndex),
      });
    }
    const kept = w.entries.slice(0, keepEntries);
    storage.append(kept);
    return kept;
  }

  /**
   * loseSyncedTail forgets the last `count` durable entries, as a disk whose fsync lied would.
   * Only for injected-bug tests: Raft cannot be safe on such a disk.
   */
  loseSyncedTail(count: number): void {
    const old = this.current;
    const first = old.firstIndex();
    const last = old.lastIndex();
    const lose = Math.min(last - first + 1, count);
    if (lose <= 0) return;
    const snap = old.snapshot();
    const fresh = new MemoryStorage(old.initialState().confState);
    if ((snap.metadata?.index ?? 0) > 0) fresh.applySnapshot(snap);
    if (last - lose >= first) fresh.append(old.entries(first, last - lose + 1, Infinity));
    const hs = old.initialState().hardState;
    fresh.setHardState({...hs, commit: Math.min(hs.commit, fresh.lastIndex())});
    this.current = fresh;
  }
}
