/**
 * A point in the store's history: `main` is the store revision of a write txn, `sub` the
 * position of a change inside it (0, 1, 2 ...). Both stay below 2^53.
 */
export interface Revision {
  readonly main: number;
  readonly sub: number;
}

/** Bytes of a revision key in the backend's `key` bucket. */
export const REVISION_KEY_BYTES = 16;

/** Big-endian `main` then `sub`, 8 bytes each, so byte order is revision order. */
export function revisionKey(main: number, sub: number): Buffer {
  const out = Buffer.allocUnsafe(REVISION_KEY_BYTES);
  writeU64BE(out, 0, main);
  writeU64BE(out, 8, sub);
  return out;
}

export function parseRevisionKey(key: Uint8Array): Revision {
  return {main: readU64BE(key, 0), sub: readU64BE(key, 8)};
}

function writeU64BE(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`revision ${n} out of range`);
  buf.writeUInt32BE(Math.floor(n / 0x100000000), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

function readU64BE(buf: Uint8Array, offset: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return view.getUint32(offset) * 0x100000000 + view.getUint32(offset + 4);
}
