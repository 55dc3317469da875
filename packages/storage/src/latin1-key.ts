/**
 * The bytes of `u` as a latin1 string: one UTF-16 unit per byte, so JavaScript string order
 * is byte order. Used wherever keys are compared or looked up in maps.
 */
export function latin1Key(u: Uint8Array): string {
  const b = u instanceof Buffer ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return b.toString('latin1');
}
