import type {MemberStorage} from '@synod/server';
import {CrashFileSystem} from '@synod/storage';

import type {SimMemberClock} from '../sim-member-clock.js';

/**
 * A simulated member's storage: its WAL and raft snapshots on a {@link CrashFileSystem} that
 * forgets unsynced writes when the member crashes (and may tear the last one), and its real
 * LMDB backend in a per-run directory, whose I/O the member awaits through the virtual clock
 * so the run stays deterministic. The file system outlives the member: a restart opens what
 * the crash left.
 */
export class SimMemberStorage implements MemberStorage {
  readonly fs = new CrashFileSystem();
  readonly syncBackendCommits = true;
  /** Small segments: a run cuts and releases several, and a crash copies little. */
  readonly walSegmentBytes = 64 * 1024;

  constructor(private readonly clock: SimMemberClock) {}

  awaitIo<T>(io: Promise<T>): Promise<T> {
    return this.clock.awaitIo(io);
  }
}
