import {ZkProtocol} from '@synod/proto';

import type {ZkAclEntry} from '../zookeeper/znode-record.js';

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
 * Every fault is a {@link ZkDataFileError} naming the file and the byte offset. This file holds
 * the formats' constants and records; `zk-snapshot-file.ts` reads a snapshot and
 * `zk-txn-log-file.ts` a transaction log, both through `zk-data-file-reader.ts`.
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

/** One transaction of a log, with its offset in the file. */
export interface TxnRecord {
  readonly header: TxnHeader;
  readonly body: TxnBody;
  readonly offset: number;
}
