/** A key or value as the caller gives it: a string (encoded as UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

const empty = Buffer.alloc(0);

/** Converts a key or value to a Buffer without copying bytes that already are one. */
export function toBuffer(bytes: Bytes): Buffer {
  if (typeof bytes === 'string') return bytes === '' ? empty : Buffer.from(bytes, 'utf8');
  if (Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The smallest key greater than every key that starts with `prefix`, used as the range
 * end of a prefix range: the last byte below 0xff is incremented and what follows it
 * dropped ("aa" -> "ab", "a\xff" -> "b"). A prefix of only 0xff bytes (or an empty one)
 * has no such key, and etcd's "\0" (to the end of the keyspace) is returned.
 */
export function prefixEnd(prefix: Uint8Array): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i] ?? 0xff;
    if (byte < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
