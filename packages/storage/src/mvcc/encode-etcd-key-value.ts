import type {KeyValue} from './key-value.js';
import {bytesFieldSize, numberFieldSize, writeCheckedVarint} from './protobuf-varint.js';

const KEY_TAG = 0x0a;
const CREATE_REVISION_TAG = 0x10;
const MOD_REVISION_TAG = 0x18;
const VERSION_TAG = 0x20;
const VALUE_TAG = 0x2a;
const LEASE_TAG = 0x30;

/**
 * Marshals an `mvccpb.KeyValue` as gogo/protobuf does (fields in order; zeros and empty
 * bytes left out; a negative lease as its 64-bit two's complement), into one buffer of the
 * exact size, copying the key and the value once.
 *
 * The etcd-format snapshot writer and HashKV call it once per revision in the store, where the generated encoder
 * (`KeyValue.fromPartial` over copies of the key and value, then `KeyValue.encode`, whose
 * writer grows as it goes) was the largest item of the conversion's CPU profile after garbage
 * collection. Converting a store of 200,000 values of 256 B took 1.47 s of CPU with this, 1.66 s
 * with the generated encoder (medians of 3, same file out, byte for byte).
 *
 * Example: key `a`, create and mod revision 2, version 1, value `v`, no lease:
 * `0a 01 61  10 02  18 02  20 01  2a 01 76`.
 */
export function encodeEtcdKeyValue(kv: KeyValue): Buffer {
  const lease = BigInt.asUintN(64, kv.lease);
  const size =
    bytesFieldSize(kv.key.length) +
    numberFieldSize(kv.createRevision) +
    numberFieldSize(kv.modRevision) +
    numberFieldSize(kv.version) +
    bytesFieldSize(kv.value.length) +
    (lease === 0n ? 0 : 1 + bigintVarintSize(lease));
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const bytes = (tag: number, b: Uint8Array): void => {
    if (b.length === 0) return;
    out[at++] = tag;
    at = writeCheckedVarint(out, at, b.length);
    out.set(b, at);
    at += b.length;
  };
  const number = (tag: number, n: number): void => {
    if (n === 0) return;
    out[at++] = tag;
    at = writeCheckedVarint(out, at, n);
  };
  bytes(KEY_TAG, kv.key);
  number(CREATE_REVISION_TAG, kv.createRevision);
  number(MOD_REVISION_TAG, kv.modRevision);
  number(VERSION_TAG, kv.version);
  bytes(VALUE_TAG, kv.value);
  if (lease !== 0n) {
    out[at++] = LEASE_TAG;
    let v = lease;
    while (v >= 0x80n) {
      out[at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    out[at++] = Number(v);
  }
  if (at !== size) throw new Error(`internal: KeyValue of ${size} bytes came out as ${at}`);
  return out;
}

function bigintVarintSize(n: bigint): number {
  let bytes = 1;
  for (let v = n; v >= 0x80n; v >>= 7n) bytes++;
  return bytes;
}
