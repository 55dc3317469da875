import {JuteReader} from './jute-reader.js';
import {JuteWriter} from './jute-writer.js';

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

/** The record as stored: jute, format 1, fields in a fixed order, the data last. */
export function encodeZnode(r: ZnodeRecord): Buffer {
  const w = new JuteWriter(64 + r.data.length);
  w.int(FORMAT)
    .int(
      (r.container ? CONTAINER : 0) |
        (r.ttlMs > 0 ? TTL : 0) |
        (r.nullData === true ? NULL_DATA : 0),
    )
    .int(r.version)
    .int(r.aversion)
    .long(r.ephemeralOwner)
    .long(r.ctimeMs)
    .long(r.mtimeMs)
    .long(r.mzxid)
    .long(r.ttlMs);
  w.int(r.acl.length);
  for (const a of r.acl) w.int(a.perms).string(a.scheme).string(a.id);
  w.buffer(r.data);
  return w.bytes();
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

export function decodeZnode(value: Uint8Array): ZnodeRecord {
  const r = new JuteReader(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  const format = r.int();
  if (format !== FORMAT) throw new Error(`unknown znode record format ${format}`);
  const flags = r.int();
  const version = r.int();
  const aversion = r.int();
  const ephemeralOwner = r.long();
  const ctimeMs = Number(r.long());
  const mtimeMs = Number(r.long());
  const mzxid = Number(r.long());
  const ttlMs = Number(r.long());
  const acl: ZkAclEntry[] = [];
  for (let n = r.count(12); n > 0; n--) {
    acl.push({perms: r.int(), scheme: r.string() ?? '', id: r.string() ?? ''});
  }
  const data = r.buffer() ?? Buffer.alloc(0);
  return {
    data,
    version,
    aversion,
    ephemeralOwner,
    ctimeMs,
    mtimeMs,
    mzxid,
    container: (flags & CONTAINER) !== 0,
    ttlMs: (flags & TTL) !== 0 ? ttlMs : 0,
    acl,
    nullData: (flags & NULL_DATA) !== 0,
  };
}

export function encodeCounters(c: ChildCounters): Buffer {
  return new JuteWriter(16).int(c.cversion).long(c.pzxid).int(c.numChildren).bytes();
}

export function decodeCounters(value: Uint8Array): ChildCounters {
  const r = new JuteReader(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  return {cversion: r.int(), pzxid: Number(r.long()), numChildren: r.int()};
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
