import {createHash} from 'node:crypto';

/** Names up to this length are their own backend key, as in etcd's buckets. */
const plainKeyMaxBytes = 1000;
/** Bytes of a long name kept at the front of its key, so keys still sort roughly by name. */
const longKeyPrefixBytes = plainKeyMaxBytes + 1 - 32;

/**
 * The backend key of a user or role: the name itself when it is at most 1000 bytes long,
 * else its first 969 bytes followed by the SHA-256 of the whole name (1001 bytes). etcd
 * takes names as long as a request may be, while a backend key holds at most 1978 bytes;
 * no name's key can equal another's, because a long name's key is longer than any short
 * one, and two long names share a key only if their hashes collide. The record under the
 * key carries the full name, which is what the auth store reads back.
 *
 * Example: a 4,000-byte role name "aaa…" is stored under "aaa…" (969 bytes) + sha256(name).
 */
export function authBucketKey(name: Uint8Array): Buffer {
  const bytes = Buffer.from(name.buffer, name.byteOffset, name.byteLength);
  if (bytes.length <= plainKeyMaxBytes) return Buffer.from(bytes);
  const hash = createHash('sha256').update(bytes).digest();
  return Buffer.concat([bytes.subarray(0, longKeyPrefixBytes), hash]);
}
