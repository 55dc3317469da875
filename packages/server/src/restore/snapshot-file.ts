import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {open, stat} from 'node:fs/promises';

/** Bytes of the SHA-256 that `etcdctl snapshot save` leaves at the end of the file. */
export const SNAPSHOT_HASH_BYTES = 32;

/**
 * The page size etcd's check is written for: a bbolt file is a whole number of
 * 512-byte multiples, so a length that is 32 past such a multiple carries a hash.
 * LMDB pages (4 KiB) are such multiples too, so the same test holds for Synod's
 * backend copies.
 */
const PAGE_MULTIPLE_BYTES = 512;

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
  let stored = Buffer.alloc(0);
  const stream = createReadStream(path, {highWaterMark: 1024 * 1024});
  let offset = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const dataPart = Math.max(0, Math.min(chunk.length, layout.dataBytes - offset));
    if (dataPart > 0) hash.update(chunk.subarray(0, dataPart));
    if (dataPart < chunk.length) stored = Buffer.concat([stored, chunk.subarray(dataPart)]);
    offset += chunk.length;
  }
  const computed = hash.digest();
  if (!computed.equals(stored)) {
    throw new Error(`expected sha256 ${goBytes(stored)}, got ${goBytes(computed)}`);
  }
}

/** LMDB's meta-page magic (0xBEEFC0DE, little-endian), in the first page of the file. */
const LMDB_MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);
/** bbolt's magic (0xED0CDAED, little-endian): a snapshot of an etcd member. */
const BBOLT_MAGIC = Buffer.from([0xed, 0xda, 0x0c, 0xed]);
/** The meta page's header is a few words long; the magic follows it. */
const MAGIC_SEARCH_BYTES = 64;

/**
 * Refuses a file that is not a Synod backend image before LMDB opens it: LMDB
 * trusts the file it maps, and a file in another format can crash the process
 * rather than fail. A snapshot taken from etcd (a bbolt file) gets its own
 * message, because it is the likely mistake. Known limit: a file cut short at
 * a page boundary, without its hash, still reaches LMDB.
 */
export async function checkSnapshotFormat(path: string, layout: SnapshotLayout): Promise<void> {
  if (layout.dataBytes % PAGE_MULTIPLE_BYTES !== 0) {
    // Whole pages or whole pages and a hash: anything else was cut short.
    throw new Error(
      `${path} is incomplete: ${layout.fileBytes} bytes is neither whole pages nor whole pages and a sha256`,
    );
  }
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(MAGIC_SEARCH_BYTES);
    const {bytesRead} = await handle.read(head, 0, MAGIC_SEARCH_BYTES, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (head.includes(LMDB_MAGIC)) return;
  if (head.includes(BBOLT_MAGIC)) {
    throw new Error(
      `${path} is a snapshot of an etcd member (a bbolt file); Synod keeps its data in LMDB and restores only snapshots taken from Synod members: restore it with etcdctl, or copy its keys into Synod with etcdctl make-mirror`,
    );
  }
  throw new Error(`${path} is not a snapshot of a Synod member (no LMDB header)`);
}

/** A byte slice as Go's `%v` prints it, as in etcd's message. */
function goBytes(bytes: Uint8Array): string {
  return `[${[...bytes].join(' ')}]`;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
