import {copyFile, mkdtemp, rm, truncate} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {Bucket} from '@synod/storage';
import {Backend, BACKEND_FILE, BboltReader, crc32c} from '@synod/storage';

import type {SnapshotLayout} from './snapshot-file.js';
import {inspectSnapshot} from './snapshot-file.js';

/** What `snapshot status` reports about a snapshot file, with etcdctl's field names. */
export interface SnapshotStatus {
  /**
   * CRC-32C over every bucket's name, keys and values, in the file's order: for etcd's
   * format the same number `etcdctl snapshot status` prints.
   */
  readonly hash: number;
  /** The highest revision in the store. */
  readonly revision: number;
  /** Entries in all buckets together. */
  readonly totalKey: number;
  /** Bytes of the backend image, without the trailing hash. */
  readonly totalSize: number;
}

/** Every bucket, so that a bucket added to the backend is counted here too. */
const allBuckets: Record<Bucket, true> = {
  key: true,
  meta: true,
  lease: true,
  members: true,
  auth: true,
  authUsers: true,
  authRoles: true,
  alarm: true,
};

/**
 * Reads a snapshot file's hash, revision, entry count and size, as
 * `etcdctl snapshot status` does, for both formats: etcd's bbolt file (from
 * etcd or Synod) and Synod's older LMDB image. Unlike etcd it checks the
 * file's SHA-256 when there is one, and its format, first: LMDB trusts the
 * file it maps and may crash on a damaged one.
 */
export async function snapshotStatus(path: string): Promise<SnapshotStatus> {
  const {format, layout} = await inspectSnapshot(path, 'if-present');
  return format === 'bbolt' ? bboltStatus(path, layout) : lmdbStatus(path, layout);
}

/**
 * etcd's status of a bbolt file: the hash over every top-level bucket's name and its
 * entries (nested ones as their key and header, not descended into), the revision of the
 * last key in `key`, the number of entries, and the size of the database.
 */
function bboltStatus(path: string, layout: SnapshotLayout): SnapshotStatus {
  const reader = BboltReader.open(path, {sizeBytes: layout.dataBytes});
  try {
    let hash = 0;
    let totalKey = 0;
    let revision = 0;
    for (const top of reader.root().entries()) {
      if (top.bucket === undefined) {
        throw new Error(
          `${path}: the root holds a value under ${top.key.toString('latin1')}, not a bucket`,
        );
      }
      hash = crc32c(hash, top.key);
      const isKey = top.key.equals(Buffer.from('key'));
      for (const e of top.bucket.entries()) {
        hash = crc32c(crc32c(hash, e.key), e.value ?? Buffer.alloc(0));
        if (isKey) revision = Number(e.key.readBigUInt64BE(0));
        totalKey++;
      }
    }
    return {hash: hash >>> 0, revision, totalKey, totalSize: reader.sizeBytes};
  } finally {
    reader.close();
  }
}

/**
 * The status of Synod's older LMDB snapshots. The file itself is left untouched: the
 * image is opened from a temporary copy, because opening an LMDB file writes to it.
 */
async function lmdbStatus(path: string, layout: SnapshotLayout): Promise<SnapshotStatus> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-status-'));
  try {
    const file = join(dir, BACKEND_FILE);
    await copyFile(path, file);
    if (layout.hasHash) await truncate(file, layout.dataBytes);
    const backend = Backend.open(dir);
    try {
      let totalKey = 0;
      let revision = 0;
      for (const bucket of Object.keys(allBuckets) as Bucket[]) {
        for (const {key} of backend.range(bucket, new Uint8Array(0))) {
          totalKey++;
          // Revision keys start with the main revision, 8 bytes big-endian, in revision order.
          if (bucket === 'key') revision = Number(Buffer.from(key).readBigUInt64BE(0));
        }
      }
      return {hash: backend.hash(), revision, totalKey, totalSize: layout.dataBytes};
    } finally {
      await backend.close();
    }
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
