/** The largest n such that 255·n·(n+1)/2 + (n+1)·(65521−1) stays below 2^32 (zlib's NMAX). */
const NMAX = 5552;
const BASE = 65521;

/**
 * Adler-32 (RFC 1950), as `java.util.zip.Adler32` computes it: the checksum ZooKeeper puts
 * on every transaction-log record and at the end of every snapshot. Feed `bytes` on top of a
 * running value (start from 1, the empty input's checksum).
 *
 * Example: `adler32(Buffer.from('Wikipedia'))` is `0x11e60398`.
 */
export function adler32(bytes: Uint8Array, running = 1): number {
  let a = running & 0xffff;
  let b = (running >>> 16) & 0xffff;
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    // Sums stay exact in doubles far beyond this; the modulo only every NMAX bytes keeps it fast.
    const end = Math.min(i + NMAX, n);
    for (; i < end; i++) {
      a += bytes[i] as number;
      b += a;
    }
    a %= BASE;
    b %= BASE;
  }
  return ((b << 16) | a) >>> 0;
}
