/*
 * bbolt's on-disk layout, the file format of etcd's backend (go.etcd.io/bbolt, format
 * version 2). Everything is little-endian. The file is a sequence of pages of one size
 * (4096 bytes on Linux), numbered from 0:
 *
 *   page header (16 bytes)   id u64 | flags u16 | count u16 | overflow u32
 *
 * `overflow` is the number of pages after this one that belong to it: a node bigger than a
 * page (a leaf with a large value) is written as one run of `overflow + 1` pages.
 *
 *   pages 0 and 1   meta (flags 0x04); the valid one with the higher txid is current:
 *                   magic u32 | version u32 | pageSize u32 | flags u32 |
 *                   root bucket {root pgid u64, sequence u64} | freelist pgid u64 |
 *                   pgid (high-water mark: pages in use) u64 | txid u64 |
 *                   checksum u64 = FNV-1a 64 of the 56 bytes before it
 *   freelist (0x10) count u64 page ids follow the header; a count of 0xffff means the
 *                   real count is the first u64. etcd 3.4 does not write one at all
 *                   (freelist pgid = 2^64 - 1): its free pages are found by a scan.
 *   branch (0x01)   count elements {pos u32, ksize u32, pgid u64}; the element's key is at
 *                   `pos` bytes from the element's own start and is the first key of the
 *                   child page.
 *   leaf (0x02)     count elements {flags u32, pos u32, ksize u32, vsize u32}; key, then
 *                   value, at `pos` bytes from the element's start. Element flag 0x01: the
 *                   value is a nested bucket: {root pgid u64, sequence u64}, and when the
 *                   root is 0 the bucket is inline: its single leaf page (id 0, no padding)
 *                   follows those 16 bytes inside the value.
 *
 * The root bucket (in the meta page) holds the top-level buckets, etcd's `key`, `meta`,
 * `lease` and so on, each a leaf element with flag 0x01.
 */

/** Bytes of the header every page starts with. */
export const PAGE_HEADER_BYTES = 16;
/** Bytes of one branch or leaf element (both are 16). */
export const ELEMENT_BYTES = 16;
/** Bytes of a bucket value's header: root pgid and sequence. */
export const BUCKET_HEADER_BYTES = 16;
/** Bytes of the meta fields covered by the checksum. */
export const META_CHECKSUMMED_BYTES = 56;

export const BBOLT_MAGIC = 0xed0cdaed;
export const BBOLT_VERSION = 2;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;

/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

/** The freelist pgid of a file written without a freelist (etcd 3.4's). */
export const NO_FREELIST = 0xffff_ffff_ffff_ffffn;
/** A freelist count at this value means the real count is in the first u64. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

/** bbolt's limits on a key and a value. */
export const MAX_KEY_BYTES = 32768;
export const MAX_VALUE_BYTES = 2 ** 31 - 2;
/** A page that is split keeps at least this many elements. */
export const MIN_KEYS_PER_PAGE = 2;

/** The meta page fields, as {@link decodeMeta} reads and {@link encodeMetaPage} writes them. */
export interface BboltMeta {
  readonly pageSize: number;
  readonly flags: number;
  readonly rootPgid: number;
  readonly rootSequence: bigint;
  /** undefined when the file has no freelist page. */
  readonly freelistPgid: number | undefined;
  /** Pages in use: every page id in the file is below it. */
  readonly highWaterPgid: number;
  readonly txid: bigint;
}

const FNV_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64_MASK = 0xffff_ffff_ffff_ffffn;

/** FNV-1a, 64 bits: the meta page checksum. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV_OFFSET_BASIS;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & U64_MASK;
  return h;
}

/** A u64 read as a page id; undefined when it cannot be one (above 2^53). */
export function readPgid(buf: Buffer, offset: number): number | undefined {
  const n = buf.readBigUInt64LE(offset);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/** Writes a page header at `at` (the page's start) in `page`. */
export function writePageHeader(
  page: Buffer,
  pgid: number,
  flags: number,
  count: number,
  overflow: number,
  at = 0,
): void {
  // A page id is below 2^53: two u32 halves, no bigint.
  page.writeUInt32LE(pgid % 0x100000000, at);
  page.writeUInt32LE(Math.floor(pgid / 0x100000000), at + 4);
  page.writeUInt16LE(flags, at + 8);
  page.writeUInt16LE(count, at + 10);
  page.writeUInt32LE(overflow, at + 12);
}

/** One page (`meta.pageSize` bytes) holding `meta`, with id `pgid` (0 or 1). */
export function encodeMetaPage(meta: BboltMeta, pgid: 0 | 1): Buffer {
  const page = Buffer.alloc(meta.pageSize);
  writePageHeader(page, pgid, META_PAGE, 0, 0);
  const m = page.subarray(PAGE_HEADER_BYTES, PAGE_HEADER_BYTES + META_CHECKSUMMED_BYTES + 8);
  m.writeUInt32LE(BBOLT_MAGIC, 0);
  m.writeUInt32LE(BBOLT_VERSION, 4);
  m.writeUInt32LE(meta.pageSize, 8);
  m.writeUInt32LE(meta.flags, 12);
  m.writeBigUInt64LE(BigInt(meta.rootPgid), 16);
  m.writeBigUInt64LE(meta.rootSequence, 24);
  m.writeBigUInt64LE(meta.freelistPgid === undefined ? NO_FREELIST : BigInt(meta.freelistPgid), 32);
  m.writeBigUInt64LE(BigInt(meta.highWaterPgid), 40);
  m.writeBigUInt64LE(meta.txid, 48);
  m.writeBigUInt64LE(fnv1a64(m.subarray(0, META_CHECKSUMMED_BYTES)), META_CHECKSUMMED_BYTES);
  return page;
}

/**
 * Reads the meta at the start of `page` (header included), or says what is wrong with it.
 * Only the meta's own fields are checked here; whether its page ids fit the file is the
 * reader's business.
 */
export function decodeMeta(page: Buffer): BboltMeta | string {
  if (page.length < PAGE_HEADER_BYTES + META_CHECKSUMMED_BYTES + 8) return 'too short';
  const m = page.subarray(PAGE_HEADER_BYTES);
  if (m.readUInt32LE(0) !== BBOLT_MAGIC) {
    return `no bbolt magic (0x${m.readUInt32LE(0).toString(16).padStart(8, '0')}, expected 0xed0cdaed)`;
  }
  const version = m.readUInt32LE(4);
  if (version !== BBOLT_VERSION) return `bbolt format version ${version}, expected 2`;
  const stored = m.readBigUInt64LE(META_CHECKSUMMED_BYTES);
  const computed = fnv1a64(m.subarray(0, META_CHECKSUMMED_BYTES));
  if (stored !== computed) {
    return `meta checksum 0x${stored.toString(16)} does not match its contents (0x${computed.toString(16)})`;
  }
  const flags = page.readUInt16LE(8);
  if ((flags & META_PAGE) === 0) return `page flags 0x${flags.toString(16)} are not a meta page's`;
  const pageSize = m.readUInt32LE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    return `page size ${pageSize} is not a power of two between 512 and 65536`;
  }
  const rootPgid = readPgid(m, 16);
  const freelist = m.readBigUInt64LE(32);
  const freelistPgid = freelist === NO_FREELIST ? undefined : readPgid(m, 32);
  const highWaterPgid = readPgid(m, 40);
  if (rootPgid === undefined) return 'root page id is out of range';
  if (freelist !== NO_FREELIST && freelistPgid === undefined) {
    return 'freelist page id is out of range';
  }
  if (highWaterPgid === undefined) return 'page count is out of range';
  return {
    pageSize,
    flags: m.readUInt32LE(12),
    rootPgid,
    rootSequence: m.readBigUInt64LE(24),
    freelistPgid,
    highWaterPgid,
    txid: m.readBigUInt64LE(48),
  };
}

/**
 * Compares `a[aStart, aEnd)` with `b[bStart, bEnd)` as bytes, like `Buffer.compare`: in JS,
 * which for keys of a few dozen bytes costs a fraction of a call into Node's native compare,
 * made for every entry of a file read or written.
 */
export function compareBytes(
  a: Buffer,
  aStart: number,
  aEnd: number,
  b: Buffer,
  bStart: number,
  bEnd: number,
): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const n = aLength < bLength ? aLength : bLength;
  for (let i = 0; i < n; i++) {
    const d = (a[aStart + i] as number) - (b[bStart + i] as number);
    if (d !== 0) return d;
  }
  return aLength - bLength;
}
