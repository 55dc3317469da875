import {copyFile, mkdtemp, rm, truncate} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {Bucket} from '@synod/storage';
import {Backend, BACKEND_FILE} from '@synod/storage';

import {checkSnapshotFormat, snapshotLayout, verifySnapshotHash} from './snapshot-file.js';

/** What `snapshot status` reports about a snapshot file, with etcdctl's field names. */
export interface SnapshotStatus {
  /** CRC-32C over every bucket's name, keys and values (the backend's hash). */
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
 * `etcdctl snapshot status` does. Unlike etcd it checks the file's SHA-256
 * when there is one, and its format, first: LMDB trusts the file it maps and
 * may crash on a damaged one. The file itself is left untouched: the image is
 * opened from a temporary copy, because opening an LMDB file writes to it.
 */
export async function snapshotStatus(path: string): Promise<SnapshotStatus> {
  const layout = await snapshotLayout(path);
  // etcd reads a damaged file as best it can; LMDB may crash on one, so check first.
  if (layout.hasHash) await verifySnapshotHash(path, layout, false);
  await checkSnapshotFormat(path, layout);
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
