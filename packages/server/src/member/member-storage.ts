import type {FileSystem} from '@synod/storage';
import {NodeFileSystem} from '@synod/storage';

/**
 * Where a member's files live and how it waits for I/O, handed in with its clock: production
 * passes {@link nodeMemberStorage}; the simulator passes a file system that forgets unsynced
 * writes on a crash, and holds virtual time still while the backend's own I/O (LMDB commits,
 * copies, closes) settles, so a run replays exactly from its seed.
 */
export interface MemberStorage {
  /** The file system the WAL and the raft snapshots are written to. */
  readonly fs: FileSystem;
  /** Size of a WAL segment; the WAL's own default (64 MiB) when absent. */
  readonly walSegmentBytes?: number;
  /**
   * Whether backend commits land synchronously: the simulator's choice, as its virtual time
   * cannot wait on LMDB's write thread. Production commits on that thread (false).
   */
  readonly syncBackendCommits: boolean;
  /**
   * Awaits I/O the member starts outside {@link fs}: backend commits, backend images sent to
   * or installed from a leader. Production returns `io`; the simulator also counts it as work
   * in flight, so no virtual event runs before it settles.
   */
  awaitIo<T>(io: Promise<T>): Promise<T>;
}

/** The member's storage on Node's file system: what `startMember` uses. */
export const nodeMemberStorage: MemberStorage = {
  fs: new NodeFileSystem(),
  syncBackendCommits: false,
  awaitIo: io => io,
};
