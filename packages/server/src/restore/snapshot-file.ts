import {createHash} from 'node:crypto';
import {open, stat} from 'node:fs/promises';

import {BboltReader} from '@synod/storage';

/** Bytes of the SHA-256 that `etcdctl snapshot save` leaves at the end of the file. */
export const SNAPSHOT_HASH_BYTES = 32;

/**
 * The page size etcd's check is written for: a bbolt file is a whole number of
 * 512-byte multiples, so a length that is 32 past such a multiple carries a hash.
 * LMDB pages (4 KiB) are such multiples too, so the same test holds for Synod's
 * backend copies.
 */
const PAGE_MULTIPLE_BYTES = 512;

/** The hash is computed over reads of this size. */
const HASH_READ_BYTES = 1024 * 1024;

/** Where a snapshot file's backend image ends and whether a hash follows it. */
export interface SnapshotLayout {
  /** Length of the file. */
  readonly fileBytes: number;
  /** Length of the backend image at the start of the file. */
  readonly dataBytes: number;
  /** Whether the last 32 bytes are the SHA-256 of the image. */
  readonly hasHash: boolean;
}

/**
 * Reads the layout of the snapshot file at `path`, the way etcd does: by its
 * length alone. Fails with etcd's `stat <path>: no such file or directory`
 * when there is no such file.
 */
export async function snapshotLayout(path: string): Promise<SnapshotLayout> {
  let fileBytes: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`${path} is not a file`);
    fileBytes = info.size;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new Error(`stat ${path}: no such file or directory`);
    throw error;
  }
  const hasHash = fileBytes % PAGE_MULTIPLE_BYTES === SNAPSHOT_HASH_BYTES;
  return {fileBytes, dataBytes: hasHash ? fileBytes - SNAPSHOT_HASH_BYTES : fileBytes, hasHash};
}

/**
 * Checks the SHA-256 at the end of a snapshot file against the image before it,
 * with etcd's messages: a file without a hash is refused unless `skipHashCheck`
 * (a backend file copied out of a data directory has none), and a hash that
 * does not match means the file is damaged or incomplete.
 */
export async function verifySnapshotHash(
  path: string,
  layout: SnapshotLayout,
  skipHashCheck: boolean,
): Promise<void> {
  if (!layout.hasHash) {
    if (skipHashCheck) return;
    throw new Error('snapshot missing hash but --skip-hash-check=false');
  }
  if (skipHashCheck) return;
  const hash = createHash('sha256');
  const stored = Buffer.alloc(SNAPSHOT_HASH_BYTES);
  // One buffer read into again and again: a new one per read cost a page fault per 4 KiB.
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  const handle = await open(path, 'r');
  try {
    for (let offset = 0; offset < layout.fileBytes; ) {
      const {bytesRead} = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) throw new Error(`${path} is shorter than its ${layout.fileBytes} bytes`);
      const dataPart = Math.max(0, Math.min(bytesRead, layout.dataBytes - offset));
      if (dataPart > 0) hash.update(buffer.subarray(0, dataPart));
      if (dataPart < bytesRead) {
        buffer.copy(stored, offset + dataPart - layout.dataBytes, dataPart, bytesRead);
      }
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  const computed = hash.digest();
  if (!computed.equals(stored)) {
    throw new Error(
      `expected sha256 ${goBytes(stored)}, got ${goBytes(computed)}: ${path} is damaged (its last 32 bytes are not the sha256 of the ${layout.dataBytes} before them)`,
    );
  }
}

/** LMDB's meta-page magic (0xBEEFC0DE, little-endian), in the first page of the file. */
const LMDB_MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);
/** bbolt's magic (0xED0CDAED, little-endian): a snapshot in etcd's format. */
const BBOLT_MAGIC = Buffer.from([0xed, 0xda, 0x0c, 0xed]);
/** The meta page's header is a few words long; the magic follows it. */
const MAGIC_SEARCH_BYTES = 64;

/**
 * The two kinds of snapshot file Synod reads: `bbolt`, etcd's backend format, which
 * `etcdctl snapshot save` gets from etcd and from Synod alike; and `lmdb`, Synod's own
 * backend image, which Synod's snapshots were before they took etcd's format.
 */
export type SnapshotFormat = 'bbolt' | 'lmdb';

/**
 * Tells a snapshot's format by the magic of its first meta page, refusing an empty file
 * and one that is neither, before anything opens it: LMDB trusts the file it maps, and a
 * file in another format can crash the process rather than fail.
 */
export async function snapshotFormat(
  path: string,
  layout: SnapshotLayout,
): Promise<SnapshotFormat> {
  if (layout.fileBytes === 0) throw new Error(`${path}: the file is empty, not a snapshot`);
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(MAGIC_SEARCH_BYTES);
    const {bytesRead} = await handle.read(head, 0, MAGIC_SEARCH_BYTES, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (head.subarray(16, 20).equals(BBOLT_MAGIC)) return 'bbolt';
  if (head.includes(LMDB_MAGIC)) return 'lmdb';
  throw new Error(
    `${path}: offset 0: not a snapshot: neither etcd's format (bbolt magic 0xed0cdaed at offset 16) nor Synod's LMDB image`,
  );
}

/**
 * The layout of a bbolt snapshot from its meta page rather than its length: the database
 * is `pages x page size` bytes, and a hash is there when exactly 32 bytes follow. A file
 * shorter than its meta says is truncated, and said to be (with the reader's message).
 */
export function bboltSnapshotLayout(path: string, fileBytes: number): SnapshotLayout {
  const reader = BboltReader.open(path, {sizeBytes: fileBytes});
  const dataBytes = reader.sizeBytes;
  reader.close();
  if (fileBytes === dataBytes) return {fileBytes, dataBytes, hasHash: false};
  if (fileBytes === dataBytes + SNAPSHOT_HASH_BYTES) return {fileBytes, dataBytes, hasHash: true};
  throw new Error(
    `${path}: offset ${dataBytes}: ${fileBytes - dataBytes} bytes follow the ${dataBytes}-byte database; a snapshot has none or a 32-byte sha256`,
  );
}

/**
 * Refuses an LMDB image that was cut short: whole pages, or whole pages and a hash.
 * Known limit: a file cut short at a page boundary, without its hash, still reaches LMDB.
 */
export function checkLmdbLayout(path: string, layout: SnapshotLayout): void {
  if (layout.dataBytes % PAGE_MULTIPLE_BYTES !== 0) {
    throw new Error(
      `${path} is incomplete: ${layout.fileBytes} bytes is neither whole pages nor whole pages and a sha256`,
    );
  }
}

/** A byte slice as Go's `%v` prints it, as in etcd's message. */
function goBytes(bytes: Uint8Array): string {
  return `[${[...bytes].join(' ')}]`;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** A snapshot file whose format and layout are known and whose hash has been checked. */
export interface InspectedSnapshot {
  readonly format: SnapshotFormat;
  readonly layout: SnapshotLayout;
}

/**
 * Finds a snapshot's format and layout and checks its hash: `required` refuses a file
 * without one (a restore, unless `--skip-hash-check`), `if-present` checks one if there is
 * one (status), `skip` does not look (`--skip-hash-check`).
 */
export async function inspectSnapshot(
  path: string,
  hash: 'required' | 'if-present' | 'skip',
): Promise<InspectedSnapshot> {
  const stated = await snapshotLayout(path);
  const format = await snapshotFormat(path, stated);
  const layout = format === 'bbolt' ? bboltSnapshotLayout(path, stated.fileBytes) : stated;
  if (format === 'lmdb') checkLmdbLayout(path, layout);
  if (hash === 'required' || (hash === 'if-present' && layout.hasHash)) {
    await verifySnapshotHash(path, layout, false);
  }
  return {format, layout};
}
