import type {BackendEntry, BboltFill} from '@synod/storage';
import {bytesFieldSize, numberFieldSize, varintSize, writeVarint} from '@synod/storage';

/**
 * The `key` bucket of an etcd backend written from Synod's (16-byte revision key -> Synod
 * record, see `encodeRecord`), each entry straight from the LMDB value into the bbolt page:
 * the etcd revision key (main, '_', sub, and 't' for a deletion), then the `mvccpb.KeyValue`
 * as gogo/protobuf marshals it (fields in order, zeros and empty bytes left out, a negative
 * lease as its 64-bit two's complement; a deletion holds only its key). No KeyValue, Buffer
 * or bigint is made per revision: in the member that serves a snapshot this loop runs once
 * per revision in the store.
 *
 * Example: Synod's `00..07 00..00` holding flags 0, create 2, mod 7, version 3, lease 0,
 * key `a`, value `v` becomes etcd's `00..07 5f 00..00` holding `0a 01 61 10 02 18 07 20 03
 * 2a 01 76`.
 *
 * Each entry is read before the next is asked for, so `entries` may reuse one buffer for
 * every value (`BackendReadView.transientRange`). It is iterated once per call of the fill.
 */
export function fillEtcdRevisions(entries: Iterable<BackendEntry>): BboltFill {
  return async sink => {
    let sinceFlush = 0;
    for (const {key, value} of entries) {
      const record = value as Buffer;
      if (key.length !== SYNOD_REVISION_KEY_BYTES || record.length < RECORD_HEAD_BYTES) {
        throw new Error(
          `backend bucket key: entry 0x${Buffer.from(key).toString('hex')} is not a revision record`,
        );
      }
      const tombstone = ((record[0] as number) & RECORD_TOMBSTONE) !== 0;
      const keyLength = readU32(record, 33);
      const keyAt = RECORD_HEAD_BYTES;
      const valueAt = keyAt + keyLength;
      const valueLength = record.length - valueAt;
      if (valueLength < 0) {
        throw new Error(
          `backend bucket key: record 0x${Buffer.from(key).toString('hex')} is shorter than its key`,
        );
      }
      const create = tombstone ? 0 : readU64(record, 1);
      const mod = tombstone ? 0 : readU64(record, 9);
      const version = tombstone ? 0 : readU64(record, 17);
      const leaseHigh = tombstone ? 0 : readU32(record, 25);
      const leaseLow = tombstone ? 0 : readU32(record, 29);
      const hasLease = leaseHigh !== 0 || leaseLow !== 0;
      const kvBytes =
        bytesFieldSize(keyLength) +
        numberFieldSize(create) +
        numberFieldSize(mod) +
        numberFieldSize(version) +
        (tombstone ? 0 : bytesFieldSize(valueLength)) +
        (hasLease ? 1 + u64VarintSize(leaseHigh, leaseLow) : 0);
      const etcdKeyBytes = tombstone ? ETCD_REVISION_KEY_BYTES + 1 : ETCD_REVISION_KEY_BYTES;
      let at = sink.entry(etcdKeyBytes, kvBytes);
      if (sink.measuring) continue;
      const out = sink.bytes;
      for (let i = 0; i < 8; i++) {
        out[at + i] = key[i] as number;
        out[at + 9 + i] = key[8 + i] as number;
      }
      out[at + 8] = SEPARATOR;
      if (tombstone) out[at + ETCD_REVISION_KEY_BYTES] = TOMBSTONE;
      at += etcdKeyBytes;
      const end = at + kvBytes;
      out[at++] = KEY_TAG;
      at = writeVarint(out, at, keyLength);
      at += record.copy(out, at, keyAt, valueAt);
      at = numberField(out, at, CREATE_REVISION_TAG, create);
      at = numberField(out, at, MOD_REVISION_TAG, mod);
      at = numberField(out, at, VERSION_TAG, version);
      if (!tombstone && valueLength > 0) {
        out[at++] = VALUE_TAG;
        at = writeVarint(out, at, valueLength);
        at += record.copy(out, at, valueAt);
      }
      if (hasLease) {
        out[at++] = LEASE_TAG;
        at = writeU64Varint(out, at, leaseHigh, leaseLow);
      }
      if (at !== end) throw new Error(`internal: KeyValue of ${kvBytes} bytes came out as ${at}`);
      if (++sinceFlush === FLUSH_EVERY) {
        sinceFlush = 0;
        await sink.flush();
      }
    }
  };
}

/** The writer is given the chance to write its pages out (and the loop to turn) this often. */
const FLUSH_EVERY = 1024;

const SYNOD_REVISION_KEY_BYTES = 16;
const ETCD_REVISION_KEY_BYTES = 17;
const SEPARATOR = 0x5f;
const TOMBSTONE = 0x74;
/** Synod's record head: flags, create, mod, version, lease, key length (see `encodeRecord`). */
const RECORD_HEAD_BYTES = 1 + 8 * 4 + 4;
const RECORD_TOMBSTONE = 1;

const KEY_TAG = 0x0a;
const CREATE_REVISION_TAG = 0x10;
const MOD_REVISION_TAG = 0x18;
const VERSION_TAG = 0x20;
const VALUE_TAG = 0x2a;
const LEASE_TAG = 0x30;

/**
 * The u64 BE at `at` (below 2^53). Indexed reads, not `readUInt32BE`, whose argument checks
 * cost more than the read: this runs three times per revision in each of the two passes.
 */
function readU64(b: Buffer, at: number): number {
  return readU32(b, at) * 0x100000000 + readU32(b, at + 4);
}

function readU32(b: Buffer, at: number): number {
  return (
    (b[at] as number) * 0x1000000 +
    (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
  );
}

function numberField(out: Buffer, at: number, tag: number, n: number): number {
  if (n === 0) return at;
  out[at] = tag;
  return writeVarint(out, at + 1, n);
}

/** Bytes of the varint of the u64 `high * 2^32 + low`. */
function u64VarintSize(high: number, low: number): number {
  if (high === 0) return varintSize(low);
  // 32 bits of `low`, then 7 bits at a time of the rest.
  let bits = 32 + (32 - Math.clz32(high));
  let bytes = 0;
  for (; bits > 0; bits -= 7) bytes++;
  return bytes;
}

/** Writes the u64 `high * 2^32 + low` as a varint (a lease id; negative ones are 10 bytes). */
function writeU64Varint(out: Buffer, at: number, high: number, low: number): number {
  let v = (BigInt(high) << 32n) | BigInt(low);
  let i = at;
  while (v >= 0x80n) {
    out[i++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[i++] = Number(v);
  return i;
}
