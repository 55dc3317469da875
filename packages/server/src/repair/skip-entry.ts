import {existsSync} from 'node:fs';
import {join} from 'node:path';

import {EntryType} from '@synod/proto/raftpb';
import {InternalRequest} from '@synod/proto/synodpb';
import {KvStore, Wal} from '@synod/storage';

import {addSkippedEntry, readSkippedEntries} from '../member/skipped-entries.js';

/** What {@link skipEntry} did. */
export interface SkipEntryResult {
  /** What the skipped entry asked for (`put`, `authRoleAdd`, ...), or why it is unreadable. */
  readonly request: string;
  /** False when the entry was already marked skipped in this data directory. */
  readonly added: boolean;
}

/** A data directory in which the entry cannot be skipped, with the reason. */
export class SkipEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SkipEntryError';
  }
}

/**
 * Marks the raft entry at `index` of a stopped member's data directory so that the member
 * applies nothing of it: the operator's way out when every member stops at an entry it
 * cannot apply (see docs/operations.md). The entry stays in the log; the member records
 * its index as applied without changing the store. Only an entry that is in the WAL and
 * not yet applied can be skipped. Run it on every member's data directory, with the
 * members stopped: a member that applied the entry and one that skipped it would differ.
 */
export async function skipEntry(dataDir: string, index: number): Promise<SkipEntryResult> {
  if (!Number.isSafeInteger(index) || index < 1) {
    throw new SkipEntryError(`--index must be a raft index (a positive integer), not ${index}`);
  }
  const walDir = join(dataDir, 'member', 'wal');
  const dbDir = join(dataDir, 'member', 'db');
  if (!Wal.exists(walDir) || !existsSync(dbDir)) {
    throw new SkipEntryError(`${dataDir} is not a member's data directory (no member/wal)`);
  }
  const {wal, replay} = Wal.open(walDir);
  wal.close();
  const entry = replay.entries.find(e => e.index === index);
  if (entry === undefined) {
    const first = replay.entries[0]?.index ?? replay.snapshot.index + 1;
    const last = replay.entries[replay.entries.length - 1]?.index ?? replay.snapshot.index;
    throw new SkipEntryError(
      `entry ${index} is not in the WAL of ${dataDir} (it holds entries ${first} to ${last})`,
    );
  }
  if (entry.type === EntryType.EntryConfChange) {
    throw new SkipEntryError(`entry ${index} is a membership change, which cannot be skipped`);
  }
  const kv = KvStore.open(dbDir);
  try {
    if (index <= kv.consistentIndex()) {
      throw new SkipEntryError(
        `entry ${index} is already applied in ${dataDir} (applied up to ${kv.consistentIndex()})`,
      );
    }
    const request = describe(entry.data);
    if (readSkippedEntries(kv.backend).has(index)) return {request, added: false};
    addSkippedEntry(kv.backend, index);
    return {request, added: true};
  } finally {
    await kv.close();
  }
}

function describe(data: Uint8Array): string {
  if (data.length === 0) return 'empty entry';
  try {
    return InternalRequest.decode(data).request?.$case ?? 'empty request';
  } catch (error) {
    return `undecodable request: ${error instanceof Error ? error.message : String(error)}`;
  }
}
