import {open, readFile, rename, rm} from 'node:fs/promises';
import {join} from 'node:path';

import type {Backend} from '@synod/storage';
import {BACKEND_FILE} from '@synod/storage';

import type {Clock} from './clock.js';
import type {MemberObserver} from './member-observer.js';
import type {MemberStorage} from './member-storage.js';

/**
 * Whole backend images, the part of a snapshot raft does not carry: a leader copies its
 * backend file out for a lagging follower, and the follower puts the image in place of its
 * own. Both sides await their I/O through {@link MemberStorage.awaitIo}, so the simulator
 * runs them on virtual time.
 */
export class BackendImages {
  constructor(
    /** The directory the backend file lives in. */
    private readonly dbDir: string,
    private readonly storage: MemberStorage,
    private readonly clock: Clock,
    private readonly observer: MemberObserver,
  ) {}

  /** A consistent, compacted copy of `backend`'s file (buffered writes committed first). */
  async copyOut(backend: Backend, to: number): Promise<Buffer> {
    const io = this.storage.awaitIo.bind(this.storage);
    const file = join(this.dbDir, `outgoing-${to.toString(16)}-${this.clock.nowMs()}.mdb`);
    try {
      const startedMs = this.clock.monotonicMs();
      await io(backend.copyTo(file, true));
      const image = await io(readFile(file));
      this.observer.backendSnapshotted?.(this.clock.monotonicMs() - startedMs);
      return image;
    } finally {
      await io(rm(file, {force: true}));
    }
  }

  /**
   * Puts `image` in place of the backend file: written and fsynced beside the live file, then,
   * once `closeStore` has closed the store on the live file, renamed into place and the
   * directory fsynced. The caller reopens the store from it.
   */
  async install(image: Uint8Array, closeStore: () => Promise<void>): Promise<void> {
    const io = this.storage.awaitIo.bind(this.storage);
    const incoming = join(this.dbDir, 'incoming.mdb');
    const handle = await io(open(incoming, 'w'));
    try {
      const writtenMs = this.clock.monotonicMs();
      await io(handle.writeFile(image));
      const syncedMs = this.clock.monotonicMs();
      await io(handle.datasync());
      const nowMs = this.clock.monotonicMs();
      this.observer.snapshotDbSaved(nowMs - writtenMs, nowMs - syncedMs);
    } finally {
      await io(handle.close());
    }
    await io(closeStore());
    await io(rename(incoming, join(this.dbDir, BACKEND_FILE)));
    await io(rm(join(this.dbDir, `${BACKEND_FILE}-lock`), {force: true}));
    const dir = await io(open(this.dbDir, 'r'));
    try {
      await io(dir.sync());
    } finally {
      await io(dir.close());
    }
  }
}
