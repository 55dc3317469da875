import {JuteDecodeError, JuteReader} from './jute-reader.js';

/** An ACL entry: permission bits for an identity (`scheme:id`). */
export interface ZkAclEntry {
  readonly perms: number;
  readonly scheme: string;
  readonly id: string;
}

/**
 * What a znode's key holds: its data and the Stat fields its key cannot give.
 * czxid is the key's create revision; numChildren, cversion and pzxid live in the
 * child counters ({@link ChildCounters}).
 */
export interface ZnodeRecord {
  readonly data: Uint8Array;
  readonly version: number;
  readonly aversion: number;
  /** The owning session for an ephemeral; 0n otherwise. */
  readonly ephemeralOwner: bigint;
  readonly ctimeMs: number;
  readonly mtimeMs: number;
  /** Revision of the create or of the last setData. */
  readonly mzxid: number;
  readonly container: boolean;
  /** For a TTL node, its TTL; 0 otherwise. */
  readonly ttlMs: number;
  readonly acl: readonly ZkAclEntry[];
  /** Data set as null (length -1), which ZooKeeper returns as null; `data` is then empty. */
  readonly nullData?: boolean;
}

/** A znode's children counters; defaults until its first child change. */
export interface ChildCounters {
  readonly cversion: number;
  readonly pzxid: number;
  readonly numChildren: number;
}

/** ZooKeeper's `Stat`, with zxids as revisions. */
export interface ZkStat {
  readonly czxid: number;
  readonly mzxid: number;
  readonly ctime: number;
  readonly mtime: number;
  readonly version: number;
  readonly cversion: number;
  readonly aversion: number;
  readonly ephemeralOwner: bigint;
  readonly dataLength: number;
  readonly numChildren: number;
  readonly pzxid: number;
}

const FORMAT = 1;
const CONTAINER = 1;
const TTL = 2;
const NULL_DATA = 4;
/** format, flags, version, aversion; owner, ctime, mtime, mzxid, ttl; the ACL count. */
const FIXED_BYTES = 4 * 4 + 5 * 8 + 4;
const NO_DATA: Buffer = Buffer.alloc(0);

/**
 * The record as stored: jute, format 1, fields in a fixed order, the data last:
 * `int format, int flags, int version, int aversion, long ephemeralOwner, long ctimeMs,
 * long mtimeMs, long mzxid, long ttlMs, vector<ACL> acl, buffer data`.
 *
 * Written straight into one buffer of the record's exact size, as `JuteWriter` would write
 * it byte for byte (zk-fast-paths.test.ts compares them), but without a writer, a growing
 * buffer, a BigInt per long or a Buffer per ACL string: each is one more allocation per
 * write the apply path makes on every member.
 */
export function encodeZnode(r: ZnodeRecord): Buffer {
  let bytes = FIXED_BYTES + 4 + r.data.length;
  for (const a of r.acl) {
    bytes += 12 + Buffer.byteLength(a.scheme, 'utf8') + Buffer.byteLength(a.id, 'utf8');
  }
  const b = Buffer.allocUnsafe(bytes);
  b.writeInt32BE(FORMAT, 0);
  b.writeInt32BE(
    (r.container ? CONTAINER : 0) | (r.ttlMs > 0 ? TTL : 0) | (r.nullData === true ? NULL_DATA : 0),
    4,
  );
  b.writeInt32BE(r.version, 8);
  b.writeInt32BE(r.aversion, 12);
  b.writeBigInt64BE(BigInt.asIntN(64, r.ephemeralOwner), 16);
  writeLong(b, 24, r.ctimeMs);
  writeLong(b, 32, r.mtimeMs);
  writeLong(b, 40, r.mzxid);
  writeLong(b, 48, r.ttlMs);
  b.writeInt32BE(r.acl.length, 56);
  let at = FIXED_BYTES;
  for (const a of r.acl) {
    b.writeInt32BE(a.perms, at);
    at = writeString(b, at + 4, a.scheme);
    at = writeString(b, at, a.id);
  }
  b.writeInt32BE(r.data.length, at);
  b.set(r.data, at + 4);
  return b;
}

/** A jute long from a safe integer, as two 32-bit halves. */
function writeLong(b: Buffer, at: number, v: number): void {
  const high = Math.floor(v / 0x1_0000_0000);
  b.writeInt32BE(high, at);
  b.writeUInt32BE(v - high * 0x1_0000_0000, at + 4);
}

/** A jute string (int length, UTF-8 bytes) at `at`; returns where it ends. */
function writeString(b: Buffer, at: number, s: string): number {
  const n = b.write(s, at + 4, 'utf8');
  b.writeInt32BE(n, at);
  return at + 4 + n;
}

/** Where a format-1 record holds mzxid: after format, flags, version, aversion, owner, times. */
const MZXID_OFFSET = 4 * 4 + 3 * 8;

/**
 * A record's mzxid, read in place: what the watch hub needs of every changed node, without
 * decoding its ACL and data. Undefined when the value is no format-1 record (an etcd client
 * may write anything under the prefix).
 */
export function znodeMzxid(value: Uint8Array): number | undefined {
  if (value.byteLength < MZXID_OFFSET + 8) return undefined;
  const view = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (view.readInt32BE(0) !== FORMAT) return undefined;
  return view.readInt32BE(MZXID_OFFSET) * 0x1_0000_0000 + view.readUInt32BE(MZXID_OFFSET + 4);
}

/**
 * The last ACL decoded and its bytes: the nodes of a tree mostly share one ACL, so a record
 * whose ACL bytes are the same as the last one's gets the same (immutable) list instead of
 * new strings and objects. One entry, replaced on a miss.
 */
let lastAclBytes: Buffer = Buffer.alloc(0);
let lastAcl: readonly ZkAclEntry[] = [];

/**
 * Reads a stored record. Throws on a value that is no format-1 record or is cut short (an
 * etcd client may have written anything there), as a jute reader would: a read of that
 * path then fails rather than showing made-up fields.
 */
export function decodeZnode(value: Uint8Array): ZnodeRecord {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.length < FIXED_BYTES) {
    if (b.length >= 4 && b.readInt32BE(0) !== FORMAT) {
      throw new Error(`unknown znode record format ${b.readInt32BE(0)}`);
    }
    throw new JuteDecodeError(`znode record truncated: ${b.length} bytes`);
  }
  const format = b.readInt32BE(0);
  if (format !== FORMAT) throw new Error(`unknown znode record format ${format}`);
  const flags = b.readInt32BE(4);
  const ttlMs = readLong(b, 48);
  const aclCount = b.readInt32BE(56);
  const aclStart = FIXED_BYTES;
  let at = aclStart;
  for (let n = aclCount; n > 0; n--) at = skipString(b, skipString(b, need(b, at, 4) + 4));
  const aclBytes = b.subarray(aclStart, at);
  let acl = lastAcl;
  if (!aclBytes.equals(lastAclBytes)) {
    acl = Object.freeze(decodeAcl(aclBytes, aclCount).map(e => Object.freeze(e)));
    lastAcl = acl;
    lastAclBytes = Buffer.from(aclBytes);
  }
  const dataLength = b.readInt32BE(need(b, at, 4));
  let data = NO_DATA;
  if (dataLength > 0) {
    need(b, at + 4, dataLength);
    data = b.subarray(at + 4, at + 4 + dataLength);
  } else if (dataLength < -1) {
    throw new JuteDecodeError(`negative length ${dataLength}`);
  }
  const ownerHigh = b.readInt32BE(16);
  const ownerLow = b.readUInt32BE(20);
  return {
    data,
    version: b.readInt32BE(8),
    aversion: b.readInt32BE(12),
    ephemeralOwner: ownerHigh === 0 && ownerLow === 0 ? 0n : b.readBigInt64BE(16),
    ctimeMs: readLong(b, 24),
    mtimeMs: readLong(b, 32),
    mzxid: readLong(b, 40),
    container: (flags & CONTAINER) !== 0,
    ttlMs: (flags & TTL) !== 0 ? ttlMs : 0,
    acl,
    nullData: (flags & NULL_DATA) !== 0,
  };
}

/** A jute long as a number (times, zxids and TTLs are safe integers). */
function readLong(b: Buffer, at: number): number {
  return b.readInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);
}

/** Checks `n` bytes are there at `at`; returns `at`. */
function need(b: Buffer, at: number, n: number): number {
  if (at + n > b.length) {
    throw new JuteDecodeError(`znode record truncated: needs ${n} bytes at offset ${at}`);
  }
  return at;
}

/** Where the jute string at `at` ends. */
function skipString(b: Buffer, at: number): number {
  const n = b.readInt32BE(need(b, at, 4));
  if (n < 0) return at + 4;
  return need(b, at + 4, n) + n;
}

function decodeAcl(bytes: Buffer, count: number): ZkAclEntry[] {
  const r = new JuteReader(bytes);
  const acl: ZkAclEntry[] = [];
  for (let n = count; n > 0; n--) {
    acl.push({perms: r.int(), scheme: r.string() ?? '', id: r.string() ?? ''});
  }
  return acl;
}

/** A counters key's value: `int cversion, long pzxid, int numChildren`. */
export function encodeCounters(c: ChildCounters): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeInt32BE(c.cversion, 0);
  writeLong(b, 4, c.pzxid);
  b.writeInt32BE(c.numChildren, 12);
  return b;
}

export function decodeCounters(value: Uint8Array): ChildCounters {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  need(b, 0, 16);
  return {cversion: b.readInt32BE(0), pzxid: readLong(b, 4), numChildren: b.readInt32BE(12)};
}

export function statOf(czxid: number, rec: ZnodeRecord, counters: ChildCounters): ZkStat {
  return {
    czxid,
    mzxid: rec.mzxid,
    ctime: rec.ctimeMs,
    mtime: rec.mtimeMs,
    version: rec.version,
    cversion: counters.cversion,
    aversion: rec.aversion,
    ephemeralOwner: rec.ephemeralOwner,
    dataLength: rec.data.length,
    numChildren: counters.numChildren,
    pzxid: counters.pzxid,
  };
}
