/**
 * Protobuf varints of whole numbers below 2^53, for the hand-written `mvccpb.KeyValue`
 * encoders (HashKV, etcd-format snapshots). Each 7 bits, lowest first, with the high bit
 * set on every byte but the last: 300 is `ac 02`.
 */

/** Bytes of the varint of `n`, a whole number below 2^53 (revisions and lengths are). */
export function varintSize(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

/** Bytes of a varint field holding `n`: none for 0, which protobuf leaves out. */
export const numberFieldSize = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n));

/** Bytes of a length-delimited field of `length` bytes: none when empty. */
export const bytesFieldSize = (length: number): number =>
  length === 0 ? 0 : 1 + varintSize(length) + length;

/**
 * Writes `n` as a varint at `at`; returns the offset after it. The caller vouches that `n`
 * is a whole number below 2^53 (see {@link writeCheckedVarint}).
 */
export function writeVarint(out: Buffer, at: number, n: number): number {
  let v = n;
  let i = at;
  while (v >= 0x80) {
    out[i++] = v % 0x80 | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[i++] = v;
  return i;
}

/** {@link writeVarint}, refusing what is not a whole number below 2^53. */
export function writeCheckedVarint(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${n} is not a whole number below 2^53 and cannot be a revision`);
  }
  return writeVarint(out, at, n);
}
