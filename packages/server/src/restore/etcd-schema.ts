/*
 * etcd's backend schema (3.4 and 3.5): the buckets of the bbolt file that
 * `etcdctl snapshot save` writes, and how Synod's backend maps onto them.
 *
 *   key              revision key -> mvccpb.KeyValue. A revision key is 17 bytes: the main
 *                    revision (u64 BE), '_', the sub revision (u64 BE); a deletion
 *                    (tombstone) has an 18th byte 't' and a KeyValue holding only the key.
 *   meta             consistent_index -> u64 BE; scheduledCompactRev, finishedCompactRev ->
 *                    a 17-byte revision key (sub 0); 3.5 adds term (u64 BE, the raft term
 *                    of the consistent index) and confState (Go's JSON of raftpb.ConfState,
 *                    `{"voters":[...],"auto_leave":false}`), 3.6 storageVersion ("3.6.0"):
 *                    the old cluster's log, which a restore into a new cluster leaves.
 *   lease            lease id (u64 BE) -> leasepb.Lease {ID = 1, TTL = 2, RemainingTTL = 3}
 *   members          member id in hex, no padding -> JSON {id, peerURLs, isLearner?,
 *                    name?, clientURLs?}; members_removed: hex id -> "removed"
 *   cluster          clusterVersion -> "3.4.0"; 3.5 adds downgrade -> JSON
 *                    `{"target-version":"","enabled":false}`
 *   alarm            marshalled AlarmMember -> empty
 *   auth             authEnabled -> 1 byte (1 on), authRevision -> u64 BE
 *   authUsers        name -> authpb.User; authRoles: name -> authpb.Role
 *
 * Synod keeps the same buckets in LMDB with its own encodings where they differ: `key`
 * holds 16-byte revision keys and its own record (see `encodeRecord`), `meta` keeps the
 * compaction revisions as plain u64s, `lease` a 16-byte record, `members` protobuf
 * records; `alarm`, `auth`, `authUsers` and `authRoles` are etcd's already (user and role
 * keys are the names, except names over 1000 bytes, see `authBucketKey`).
 */

/** The buckets of an etcd 3.4 / 3.5 backend, in the byte order bbolt keeps them. */
export const ETCD_BUCKETS = [
  'alarm',
  'auth',
  'authRoles',
  'authUsers',
  'cluster',
  'key',
  'lease',
  'members',
  'members_removed',
  'meta',
] as const;
export type EtcdBucket = (typeof ETCD_BUCKETS)[number];

export const META_CONSISTENT_INDEX = 'consistent_index';
export const META_SCHEDULED_COMPACT = 'scheduledCompactRev';
export const META_FINISHED_COMPACT = 'finishedCompactRev';
/** etcd 3.5's raft term of the consistent index, u64 BE. */
export const META_TERM = 'term';
/** etcd 3.5's membership at the consistent index: Go's JSON of `raftpb.ConfState`. */
export const META_CONF_STATE = 'confState';
/** etcd 3.5's downgrade state in the `cluster` bucket: JSON `{"target-version", "enabled"}`. */
export const CLUSTER_DOWNGRADE = 'downgrade';
/** The cluster version a Synod snapshot claims: the etcd API it serves. */
export const CLUSTER_VERSION = '3.4.0';

/**
 * Synod's own `meta` keys for the compaction revisions (u64 BE main revision), as the
 * MVCC store writes them; a test pins them to the store's behaviour.
 */
export const SYNOD_META_SCHEDULED_COMPACT = 'scheduled_compact_rev';
export const SYNOD_META_FINISHED_COMPACT = 'finished_compact_rev';

const REVISION_KEY_BYTES = 17;
const SEPARATOR = 0x5f; // '_'
const TOMBSTONE_MARK = 0x74; // 't'

/** An etcd revision key, with the tombstone mark when `tombstone`. */
export function etcdRevisionKey(main: number, sub: number, tombstone: boolean): Buffer {
  const key = Buffer.alloc(tombstone ? REVISION_KEY_BYTES + 1 : REVISION_KEY_BYTES);
  key.writeBigUInt64BE(BigInt(main), 0);
  key[8] = SEPARATOR;
  key.writeBigUInt64BE(BigInt(sub), 9);
  if (tombstone) key[REVISION_KEY_BYTES] = TOMBSTONE_MARK;
  return key;
}

/**
 * The etcd revision key of a Synod one: Synod's is the same main and sub (u64 BE each) without
 * the `_` between them, so the bytes are copied rather than parsed and rebuilt; the snapshot
 * writer does this once per revision in the store.
 */
export function etcdRevisionKeyOfSynod(synodKey: Uint8Array, tombstone: boolean): Buffer {
  if (synodKey.length !== 16) {
    throw new Error(`a Synod revision key is 16 bytes, not ${synodKey.length}`);
  }
  const key = Buffer.allocUnsafe(tombstone ? REVISION_KEY_BYTES + 1 : REVISION_KEY_BYTES);
  key.set(synodKey.subarray(0, 8), 0);
  key[8] = SEPARATOR;
  key.set(synodKey.subarray(8, 16), 9);
  if (tombstone) key[REVISION_KEY_BYTES] = TOMBSTONE_MARK;
  return key;
}

/** A revision key read back. */
export interface EtcdRevision {
  readonly main: number;
  readonly sub: number;
  readonly tombstone: boolean;
}

/** Reads an etcd revision key, or says why it is not one. */
export function parseEtcdRevisionKey(key: Uint8Array): EtcdRevision | string {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const tombstone = k.length === REVISION_KEY_BYTES + 1 && k[REVISION_KEY_BYTES] === TOMBSTONE_MARK;
  if ((k.length !== REVISION_KEY_BYTES && !tombstone) || k[8] !== SEPARATOR) {
    return `not a revision key (17 bytes main '_' sub, or 18 with a trailing 't')`;
  }
  const mainRev = k.readBigUInt64BE(0);
  const subRev = k.readBigUInt64BE(9);
  if (mainRev > BigInt(Number.MAX_SAFE_INTEGER) || subRev > BigInt(Number.MAX_SAFE_INTEGER)) {
    return `revision ${mainRev}.${subRev} is past 2^53, beyond what Synod keeps`;
  }
  const revision: EtcdRevision = {main: Number(mainRev), sub: Number(subRev), tombstone};
  return revision;
}

/** etcd's `leasepb.Lease`. */
export interface EtcdLease {
  readonly id: bigint;
  readonly ttlSeconds: bigint;
  readonly remainingTtlSeconds: bigint;
}

/** Marshals a `leasepb.Lease` as gogo/protobuf does: fields in order, zeros left out. */
export function encodeEtcdLease(lease: EtcdLease): Buffer {
  const out: number[] = [];
  const field = (tag: number, n: bigint): void => {
    if (n === 0n) return;
    out.push(tag);
    // int64 on the wire: a negative number as its 64-bit two's complement.
    let v = BigInt.asUintN(64, n);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
  };
  field(0x08, lease.id);
  field(0x10, lease.ttlSeconds);
  field(0x18, lease.remainingTtlSeconds);
  return Buffer.from(out);
}

/**
 * Unmarshals a `leasepb.Lease`, skipping fields it does not know (a newer etcd's), or
 * says why it cannot.
 */
export function decodeEtcdLease(bytes: Uint8Array): EtcdLease | string {
  let at = 0;
  const varint = (): bigint | undefined => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = bytes[at++];
      if (b === undefined) return undefined;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, v);
    }
    return undefined;
  };
  const fields = new Map<number, bigint>();
  while (at < bytes.length) {
    const tag = varint();
    if (tag === undefined) return 'truncated field tag';
    const wire = Number(tag & 7n);
    const num = Number(tag >> 3n);
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return `truncated varint in field ${num}`;
      fields.set(num, v);
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || len < 0n) return `bad length in field ${num}`;
      at += Number(len);
    } else {
      return `unknown wire type ${wire} in field ${num}`;
    }
    if (at > bytes.length) return `field ${num} runs past the end`;
  }
  return {
    id: fields.get(1) ?? 0n,
    ttlSeconds: fields.get(2) ?? 0n,
    remainingTtlSeconds: fields.get(3) ?? 0n,
  };
}

/**
 * Synod's lease record, as the lessor persists it: granted TTL and checkpointed
 * remaining TTL, seconds, i64 BE each. A test pins it to the lessor.
 */
export function encodeSynodLease(ttlSeconds: number, remainingTtlSeconds: number): Buffer {
  const v = Buffer.alloc(16);
  v.writeBigInt64BE(BigInt(ttlSeconds), 0);
  v.writeBigInt64BE(BigInt(remainingTtlSeconds), 8);
  return v;
}

export function decodeSynodLease(value: Uint8Array): {
  ttlSeconds: bigint;
  remainingTtlSeconds: bigint;
} {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return {ttlSeconds: v.readBigInt64BE(0), remainingTtlSeconds: v.readBigInt64BE(8)};
}

/** A member as etcd's `members` bucket holds it (Go's JSON of `membership.Member`). */
export interface EtcdMemberJson {
  readonly id: number;
  readonly peerUrls: readonly string[];
  readonly isLearner: boolean;
  readonly name: string;
  readonly clientUrls: readonly string[];
}

/**
 * The JSON etcd writes for a member: fields in Go's order, `isLearner`, `name` and
 * `clientURLs` left out when empty. The id is a JSON number, as Go writes a uint64.
 */
export function encodeEtcdMember(m: EtcdMemberJson): Buffer {
  let json = `{"id":${BigInt(m.id).toString()},"peerURLs":${JSON.stringify(m.peerUrls)}`;
  if (m.isLearner) json += ',"isLearner":true';
  if (m.name !== '') json += `,"name":${JSON.stringify(m.name)}`;
  if (m.clientUrls.length > 0) json += `,"clientURLs":${JSON.stringify(m.clientUrls)}`;
  return Buffer.from(`${json}}`);
}

/** A u64 big-endian value of the `meta` and `auth` buckets. */
export function u64be(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
