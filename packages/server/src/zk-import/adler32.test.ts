import {describe, expect, it} from 'vitest';

import {adler32} from './adler32.js';

/** RFC 1950's definition, one byte at a time, as the reference. */
function slowAdler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe('adler32', () => {
  it.each([
    ['', 0x00000001],
    ['a', 0x00620062],
    ['abc', 0x024d0127],
    ['Wikipedia', 0x11e60398],
  ])('of %j is the published value', (text, expected) => {
    expect(adler32(Buffer.from(text))).toBe(expected);
  });

  it('agrees with the definition across the modulo interval, fed in pieces or whole', () => {
    const bytes = Buffer.alloc(20_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = 255 - (i % 7);
    const whole = adler32(bytes);
    expect(whole).toBe(slowAdler32(bytes));
    expect(adler32(bytes.subarray(5553), adler32(bytes.subarray(0, 5553)))).toBe(whole);
  });
});
