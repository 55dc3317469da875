import {ZkProtocol} from '@synod/proto';

import {JuteDecodeError, JuteReader} from '../zookeeper/jute-reader.js';
import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import {adler32} from './adler32.js';

/**
 * ZooKeeper 3.x's on-disk formats, read for `synod zk import`. Everything is jute, big
 * endian. A `version-2` directory holds:
 *
 * - `snapshot.<zxid in hex>`: `FileHeader {int magic 'ZKSN', int version 2, long dbid}`, the
 *   sessions (`int count`, then `long id, int timeoutMs` each), the ACL cache (`int count`,
 *   then `long ref, vector<ACL>` each; a node's ACL is a ref, -1 meaning world:anyone:cdrwa),
 *   the nodes in pre-order (`ustring path` — the root is `""` — then `buffer data, long
 *   aclRef, StatPersisted`), the end marker path `"/"`, then the seal: `long adler32` of every
 *   byte before it and the string `"/"`. ZooKeeper 3.6+ then writes the tree digest
 *   (`long zxid, int digestVersion, long digest`) and a second seal over everything before it.
 *   The snapshot is fuzzy: taken while transactions apply, so the logs are replayed from the
 *   zxid in its name + 1 and some of them are already in it.
 * - `log.<zxid of its first txn in hex>`: `FileHeader {int 'ZKLG', int 2, long dbid}`, then
 *   per record `long adler32(txn), buffer txn, byte 'B'`; the file is preallocated with zeros,
 *   so a record length of 0 ends it. `txn` is a `TxnHeader {long clientId, int cxid, long zxid,
 *   long timeMs, int type}`, the body of its type, and in 3.6+ a `TxnDigest {int, long}`.
 *
 * Every fault is a {@link ZkDataFileError} naming the file and the byte offset.
 */

export const SNAPSHOT_MAGIC = 0x5a4b534e; // 'ZKSN'
export const TXNLOG_MAGIC = 0x5a4b4c47; // 'ZKLG'
export const FILE_FORMAT_VERSION = 2;
/** `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`: a node whose ACL is world:anyone:cdrwa. */
export const OPEN_ACL_REF = -1n;
/** `ZooDefs.Ids.OPEN_ACL_UNSAFE`. */
export const OPEN_ACL: readonly ZkAclEntry[] = [
  {perms: ZkProtocol.perms.all, scheme: 'world', id: 'anyone'},
];
/** The end-of-record byte after each log record. */
const END_OF_RECORD = 0x42; // 'B'

/** A ZooKeeper data file that cannot be read: which file, where, and what is wrong. */
export class ZkDataFileError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly problem: string,
  ) {
    super(`${file}: offset ${offset}: ${problem}`);
    this.name = 'ZkDataFileError';
  }
}

/** ZooKeeper's `StatPersisted`: cversion counts child creates only (see `childCreates`). */
export interface StatPersisted {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  pzxid: number;
}

/** One node as a snapshot stores it. */
export interface SnapshotNode {
  /** `""` for the root, then `/a`, `/a/b`, ... parents before children. */
  readonly path: string;
  readonly data: Buffer | null;
  /** The node's ACL, resolved from the snapshot's ACL cache. */
  readonly acl: readonly ZkAclEntry[];
  readonly stat: StatPersisted;
}

/** What a snapshot holds besides its nodes, which go to the visitor as they are read. */
export interface SnapshotContents {
  readonly dbid: bigint;
  readonly sessions: Map<bigint, number>;
  readonly acls: Map<bigint, ZkAclEntry[]>;
}

/** A `TxnHeader`. */
export interface TxnHeader {
  readonly clientId: bigint;
  readonly cxid: number;
  readonly zxid: number;
  readonly timeMs: number;
  readonly type: number;
}

/** A transaction body, by type; a multi holds the bodies of its operations. */
export type TxnBody =
  | {
      readonly kind: 'create';
      readonly path: string;
      readonly data: Buffer | null;
      readonly acl: ZkAclEntry[];
      readonly ephemeral: boolean;
      /** -1 in the pre-3.3 format: the parent's cversion + 1. */
      readonly parentCVersion: number;
      /** Long.MIN_VALUE for a container, the TTL-encoded owner for a TTL node, else 0. */
      readonly ownerOverride?: bigint;
    }
  | {readonly kind: 'delete'; readonly path: string}
  | {
      readonly kind: 'setData';
      readonly path: string;
      readonly data: Buffer | null;
      readonly version: number;
    }
  | {
      readonly kind: 'setACL';
      readonly path: string;
      readonly acl: ZkAclEntry[];
      readonly version: number;
    }
  | {readonly kind: 'check'}
  | {readonly kind: 'error'; readonly err: number}
  | {readonly kind: 'createSession'; readonly timeoutMs: number}
  | {readonly kind: 'closeSession'; readonly paths: readonly string[] | null}
  | {readonly kind: 'multi'; readonly ops: readonly {type: number; body: TxnBody}[]};

/** `EphemeralType.CONTAINER_EPHEMERAL_OWNER`. */
export const CONTAINER_OWNER = -(2n ** 63n);
/** `EphemeralType`'s extended-type mask: the high byte 0xff marks a TTL node. */
const EXTENDED_MASK = 0xff00000000000000n;
const EXTENDED_TYPE_MASK = 0x00ffff0000000000n;
/** The TTL in milliseconds, in the owner's low 40 bits. */
const TTL_VALUE_MASK = 0x000000ffffffffffn;

/** What an owner in a StatPersisted means, as ZooKeeper's `EphemeralType.get`. */
export function ownerKind(
  owner: bigint,
): {kind: 'none' | 'container' | 'session'} | {kind: 'ttl'; ttlMs: number} {
  if (owner === 0n) return {kind: 'none'};
  if (owner === CONTAINER_OWNER) return {kind: 'container'};
  const u = BigInt.asUintN(64, owner);
  if ((u & EXTENDED_MASK) === EXTENDED_MASK && (u & EXTENDED_TYPE_MASK) === 0n) {
    return {kind: 'ttl', ttlMs: Number(u & TTL_VALUE_MASK)};
  }
  return {kind: 'session'};
}

/** `EphemeralType.TTL.toEphemeralOwner`. */
export function ttlOwner(ttlMs: bigint): bigint {
  return BigInt.asIntN(64, EXTENDED_MASK | (ttlMs & TTL_VALUE_MASK));
}

/**
 * A jute reader over part of a file that turns every decode fault into a
 * {@link ZkDataFileError} at the file offset where it happened.
 */
class FileReader {
  readonly jute: JuteReader;

  constructor(
    readonly file: string,
    private readonly bytes: Buffer,
    private readonly base: number,
  ) {
    this.jute = new JuteReader(bytes);
  }

  get offset(): number {
    return this.base + this.bytes.length - this.jute.remaining;
  }

  fail(problem: string, at = this.offset): never {
    throw new ZkDataFileError(this.file, at, problem);
  }

  /** Runs `read`, reporting a short or impossible field as truncated at its offset. */
  read<T>(what: string, read: (r: JuteReader) => T): T {
    const at = this.offset;
    try {
      return read(this.jute);
    } catch (error) {
      if (!(error instanceof JuteDecodeError)) throw error;
      const truncated = error.message.startsWith('record truncated');
      return this.fail(
        truncated
          ? `${what} is cut short (the file ends or the record is too short)`
          : `${what}: ${error.message}`,
        Math.max(at, this.offset),
      );
    }
  }

  zxid(what: string): number {
    const at = this.offset;
    const v = this.read(what, r => r.long());
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER))
      this.fail(`${what} ${v} is out of range`, at);
    return Number(v);
  }

  time(what: string): number {
    const at = this.offset;
    const v = this.read(what, r => r.long());
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail(`${what} ${v} is out of range`, at);
    }
    return Number(v);
  }

  path(what: string): string {
    const at = this.offset;
    const p = this.read(what, r => r.string());
    if (p === null) this.fail(`${what} is null`, at);
    return p;
  }

  acl(what: string): ZkAclEntry[] {
    // Each ACL entry takes at least 12 bytes: perms and two string lengths.
    const n = this.read(what, r => r.count(12));
    const out: ZkAclEntry[] = [];
    for (let i = 0; i < n; i++) {
      const perms = this.read(what, r => r.int());
      const scheme = this.path(`${what} scheme`);
      const id = this.path(`${what} id`);
      out.push({perms, scheme, id});
    }
    return out;
  }

  header(magic: number, name: string): bigint {
    const got = this.read('file header', r => r.int());
    if (got !== magic) {
      this.fail(
        `not a ZooKeeper ${name}: magic 0x${(got >>> 0).toString(16).padStart(8, '0')}, expected 0x${magic.toString(16)}`,
        0,
      );
    }
    const version = this.read('file header', r => r.int());
    if (version !== FILE_FORMAT_VERSION) {
      this.fail(`unsupported file format version ${version} (ZooKeeper 3.x writes 2)`, 4);
    }
    return this.read('file header', r => r.long());
  }
}

/**
 * Reads a whole snapshot file, handing each node to `visit` in file order, and checks its
 * end marker and Adler-32 seal (and the digest's second seal when there is one).
 * `visit` may throw a {@link ZkDataFileError} of its own (a node without a parent).
 */
export function readSnapshot(
  file: string,
  bytes: Buffer,
  visit: (node: SnapshotNode, offset: number) => void,
): SnapshotContents {
  const f = new FileReader(file, bytes, 0);
  const dbid = f.header(SNAPSHOT_MAGIC, 'snapshot');
  const sessions = new Map<bigint, number>();
  for (let n = f.read('session count', r => r.count(12)); n > 0; n--) {
    const id = f.read('session', r => r.long());
    sessions.set(
      id,
      f.read('session', r => r.int()),
    );
  }
  const acls = new Map<bigint, ZkAclEntry[]>();
  for (let n = f.read('ACL cache size', r => r.count(12)); n > 0; n--) {
    const ref = f.read('ACL cache entry', r => r.long());
    acls.set(ref, f.acl('ACL cache entry'));
  }
  const r = f.jute;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (;;) {
    const at = f.offset;
    const path = f.path('node path');
    if (path === '/') break;
    // The hot loop of a large import: the fields are read directly, and only a fault goes
    // back over them to say which one.
    let node: SnapshotNode | undefined;
    try {
      const data = r.buffer();
      const aclRef = r.long();
      const czxid = r.long();
      const mzxid = r.long();
      const ctime = r.long();
      const mtime = r.long();
      const version = r.int();
      const cversion = r.int();
      const aversion = r.int();
      const ephemeralOwner = r.long();
      const pzxid = r.long();
      const acl = aclRef === OPEN_ACL_REF ? OPEN_ACL : acls.get(aclRef);
      if (
        acl !== undefined &&
        czxid >= 0n &&
        czxid <= max &&
        mzxid >= 0n &&
        mzxid <= max &&
        pzxid >= 0n &&
        pzxid <= max &&
        ctime >= -max &&
        ctime <= max &&
        mtime >= -max &&
        mtime <= max
      ) {
        const stat: StatPersisted = {
          czxid: Number(czxid),
          mzxid: Number(mzxid),
          ctime: Number(ctime),
          mtime: Number(mtime),
          version,
          cversion,
          aversion,
          ephemeralOwner,
          pzxid: Number(pzxid),
        };
        node = {path, data, acl, stat};
      }
    } catch (error) {
      if (!(error instanceof JuteDecodeError)) throw error;
    }
    if (node === undefined) {
      // Read the node again field by field for the exact fault and offset.
      const again = new FileReader(file, bytes.subarray(at), at);
      again.path('node path');
      again.read(`node ${path || '/'} data`, j => j.buffer());
      const aclRef = again.read(`node ${path || '/'} ACL`, j => j.long());
      const what = `node ${path || '/'} stat`;
      again.zxid(`${what} czxid`);
      again.zxid(`${what} mzxid`);
      again.time(`${what} ctime`);
      again.time(`${what} mtime`);
      for (let i = 0; i < 3; i++) again.read(what, j => j.int());
      again.read(what, j => j.long());
      again.zxid(`${what} pzxid`);
      return f.fail(
        `node ${path || '/'} names ACL ${aclRef}, which the ACL cache does not hold`,
        at,
      );
    }
    visit(node, at);
  }
  checkSeal(f, bytes);
  if (f.jute.remaining > 0) {
    // ZooKeeper 3.6+: the digest of the tree and a second seal.
    f.read('snapshot digest', r => r.long());
    const digestVersion = f.read('snapshot digest', r => r.int());
    if (digestVersion < 2) f.read('snapshot digest', r => r.string());
    else f.read('snapshot digest', r => r.long());
    checkSeal(f, bytes);
  }
  if (f.jute.remaining > 0) f.fail(`${f.jute.remaining} bytes after the snapshot's end`);
  return {dbid, sessions, acls};
}

function checkSeal(f: FileReader, bytes: Buffer): void {
  const at = f.offset;
  const expected = f.read('checksum', r => r.long());
  const marker = f.read('checksum', r => r.string());
  if (marker !== '/') f.fail(`the checksum is not followed by the end marker "/"`, at);
  const actual = BigInt(adler32(bytes.subarray(0, at)));
  if (expected !== actual) {
    f.fail(
      `Adler-32 checksum mismatch: the file says 0x${BigInt.asUintN(64, expected).toString(16)}, its bytes give 0x${actual.toString(16)}`,
      at,
    );
  }
}

/** One transaction of a log, with its offset in the file. */
export interface TxnRecord {
  readonly header: TxnHeader;
  readonly body: TxnBody;
  readonly offset: number;
}

/**
 * Reads every record of a transaction log: checks the header, each record's length, end
 * byte and Adler-32, and that what follows the last record is the zero preallocation. A
 * record that is cut short, has no end byte or a wrong checksum is refused, as is anything
 * but zeros after the last record: ZooKeeper would stop there (a torn write) or refuse to
 * start (a wrong checksum), and an import must not guess which transactions were meant.
 */
export function readTxnLog(file: string, bytes: Buffer): {dbid: bigint; records: TxnRecord[]} {
  const f = new FileReader(file, bytes, 0);
  const dbid = f.header(TXNLOG_MAGIC, 'transaction log');
  const records: TxnRecord[] = [];
  let pos = f.offset;
  while (pos < bytes.length) {
    if (allZero(bytes, pos)) break;
    if (bytes.length - pos < 12) {
      f.fail('record header is cut short (the file ends inside a record)', pos);
    }
    const crc = bytes.readBigInt64BE(pos);
    const length = bytes.readInt32BE(pos + 8);
    if (length === 0) {
      f.fail('bytes other than the zero preallocation after the last record', pos);
    }
    if (length < 0) f.fail(`record length ${length} is negative`, pos);
    const start = pos + 12;
    if (start + length + 1 > bytes.length) {
      f.fail(`record of ${length} bytes is cut short: the file ends at ${bytes.length}`, pos);
    }
    const txn = bytes.subarray(start, start + length);
    if (bytes[start + length] !== END_OF_RECORD) {
      f.fail(
        `record has no end-of-record byte 'B' (found 0x${(bytes[start + length] ?? 0).toString(16)}): a partial or corrupt record`,
        start + length,
      );
    }
    const actual = BigInt(adler32(txn));
    if (crc !== actual) {
      f.fail(
        `record checksum mismatch: the file says 0x${BigInt.asUintN(64, crc).toString(16)}, its bytes give 0x${actual.toString(16)}`,
        pos,
      );
    }
    records.push(decodeTxn(file, txn, start));
    pos = start + length + 1;
  }
  return {dbid, records};
}

function allZero(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const op = ZkProtocol.op;

function decodeTxn(file: string, txn: Buffer, base: number): TxnRecord {
  const f = new FileReader(file, txn, base);
  const header: TxnHeader = {
    clientId: f.read('TxnHeader', r => r.long()),
    cxid: f.read('TxnHeader', r => r.int()),
    zxid: f.zxid('TxnHeader zxid'),
    timeMs: f.time('TxnHeader time'),
    type: f.read('TxnHeader', r => r.int()),
  };
  const body = decodeBody(f, header.type, false);
  // ZooKeeper 3.6+ appends the tree digest (int version, long digest); older logs have none.
  const left = f.jute.remaining;
  if (left !== 0 && left !== 12) {
    f.fail(`${left} unexpected bytes after the body of a type ${header.type} transaction`);
  }
  return {header, body, offset: base - 12};
}

function decodeBody(f: FileReader, type: number, inMulti: boolean): TxnBody {
  switch (type) {
    case op.create:
    case op.create2: {
      const path = f.path('CreateTxn path');
      const data = f.read('CreateTxn data', r => r.buffer());
      const acl = f.acl('CreateTxn ACL');
      const ephemeral = f.read('CreateTxn', r => r.bool());
      // The pre-3.3 CreateTxnV0 ends here; ZooKeeper then takes the parent's cversion + 1.
      const parentCVersion = f.jute.remaining >= 4 ? f.read('CreateTxn', r => r.int()) : -1;
      return {kind: 'create', path, data, acl, ephemeral, parentCVersion};
    }
    case op.createTTL: {
      const path = f.path('CreateTTLTxn path');
      const data = f.read('CreateTTLTxn data', r => r.buffer());
      const acl = f.acl('CreateTTLTxn ACL');
      const parentCVersion = f.read('CreateTTLTxn', r => r.int());
      const ttl = f.read('CreateTTLTxn', r => r.long());
      const ownerOverride = ttlOwner(ttl);
      return {kind: 'create', path, data, acl, ephemeral: false, parentCVersion, ownerOverride};
    }
    case op.createContainer: {
      const path = f.path('CreateContainerTxn path');
      const data = f.read('CreateContainerTxn data', r => r.buffer());
      const acl = f.acl('CreateContainerTxn ACL');
      const parentCVersion = f.read('CreateContainerTxn', r => r.int());
      return {
        kind: 'create',
        path,
        data,
        acl,
        ephemeral: false,
        parentCVersion,
        ownerOverride: CONTAINER_OWNER,
      };
    }
    case op.delete:
    case op.deleteContainer:
      return {kind: 'delete', path: f.path('DeleteTxn path')};
    case op.setData:
    case op.reconfig: {
      const path = f.path('SetDataTxn path');
      const data = f.read('SetDataTxn data', r => r.buffer());
      return {kind: 'setData', path, data, version: f.read('SetDataTxn', r => r.int())};
    }
    case op.setACL: {
      const path = f.path('SetACLTxn path');
      const acl = f.acl('SetACLTxn ACL');
      return {kind: 'setACL', path, acl, version: f.read('SetACLTxn', r => r.int())};
    }
    case op.error:
      return {kind: 'error', err: f.read('ErrorTxn', r => r.int())};
    case op.check:
      if (!inMulti) break;
      f.path('CheckVersionTxn path');
      f.read('CheckVersionTxn', r => r.int());
      return {kind: 'check'};
    case op.createSession:
      if (inMulti) break;
      return {kind: 'createSession', timeoutMs: f.read('CreateSessionTxn', r => r.int())};
    case op.closeSession: {
      if (inMulti) break;
      // CloseSessionTxn (3.6+) lists the ephemerals to delete; older logs have no body.
      if (f.jute.remaining === 0) return {kind: 'closeSession', paths: null};
      const n = f.read('CloseSessionTxn', r => r.count(4));
      const paths: string[] = [];
      for (let i = 0; i < n; i++) paths.push(f.path('CloseSessionTxn path'));
      return {kind: 'closeSession', paths};
    }
    case op.multi: {
      if (inMulti) break;
      const n = f.read('MultiTxn', r => r.count(8));
      const ops: {type: number; body: TxnBody}[] = [];
      for (let i = 0; i < n; i++) {
        const subType = f.read('MultiTxn op', r => r.int());
        const at = f.offset;
        const data = f.read('MultiTxn op', r => r.buffer()) ?? Buffer.alloc(0);
        const sub = new FileReader(f.file, data, at + 4);
        ops.push({type: subType, body: decodeBody(sub, subType, true)});
      }
      return {kind: 'multi', ops};
    }
    default:
      break;
  }
  return f.fail(
    inMulti
      ? `operation type ${type} cannot be part of a multi transaction`
      : `unsupported transaction type ${type}`,
  );
}
