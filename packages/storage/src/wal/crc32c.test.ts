import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {crc32c} from './crc32c.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bit-at-a-time reference, independent of the table code under test. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it.each([
    ['', 0x00000000],
    ['a', 0xc1d04330],
    ['123456789', 0xe3069283],
    ['The quick brown fox jumps over the lazy dog', 0x22620404],
  ])('matches the published check value for %j', (input, expected) => {
    expect(crc32c(0, ascii(input))).toBe(expected);
  });

  it('matches the iSCSI test vectors of RFC 3720 (32 zeros, 32 0xff, ascending bytes)', () => {
    expect(crc32c(0, new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(0, new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(
      crc32c(
        0,
        Uint8Array.from({length: 32}, (_, i) => i),
      ),
    ).toBe(0x46dd794e);
  });

  it('equals the bitwise reference and chains like one long input', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 100}), fc.uint8Array({maxLength: 100}), (a, b) => {
        const joined = new Uint8Array([...a, ...b]);
        expect(crc32c(0, joined)).toBe(crc32cBitwise(joined));
        expect(crc32c(crc32c(0, a), b)).toBe(crc32c(0, joined));
      }),
    );
  });
});
