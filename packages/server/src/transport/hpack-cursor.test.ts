import {describe, expect, it} from 'vitest';

import {encodeHpackInteger, encodeHpackRawString, HpackCursor, HpackError} from './hpack-cursor.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('HPACK integers', () => {
  // RFC 7541 C.1.1-C.1.3, then the edges of a 5-bit and a 7-bit prefix.
  it.each([
    [10, 5, '0a'],
    [1337, 5, '1f 9a 0a'],
    [42, 8, '2a'],
    [30, 5, '1e'],
    [31, 5, '1f 00'],
    [127, 7, '7f 00'],
    [128, 7, '7f 01'],
    [2 ** 32 - 1, 7, '7f 80 ff ff ff 0f'],
  ])('%d with a %d-bit prefix is %s', (value, prefixBits, encoded) => {
    expect(encodeHpackInteger(value, prefixBits, 0)).toEqual(hex(encoded));
    const cursor = new HpackCursor(hex(encoded));
    expect(cursor.readInteger(prefixBits)).toBe(value);
    expect(cursor.atEnd).toBe(true);
  });

  it('ignores the bits above the prefix and keeps them when encoding', () => {
    expect(new HpackCursor(hex('ea')).readInteger(5)).toBe(10);
    expect(encodeHpackInteger(62, 6, 0x40)).toEqual(hex('7e'));
  });

  it.each([
    ['a block that ends inside it', '7f 9a'],
    ['an empty block', ''],
    ['one above 2^32 - 1', '7f 81 ff ff ff 0f'],
  ])('refuses %s', (_case, encoded) => {
    expect(() => new HpackCursor(hex(encoded)).readInteger(7)).toThrow(HpackError);
  });
});

describe('HPACK string literals', () => {
  it('reads a raw string (RFC 7541 C.2.1) and encodes it back', () => {
    const block = hex('0a 6375 7374 6f6d 2d6b 6579');
    const literal = new HpackCursor(block).readString();
    expect(literal.huffman).toBe(false);
    expect(literal.octets.toString('latin1')).toBe('custom-key');
    expect(encodeHpackRawString(Buffer.from('custom-key'))).toEqual(block);
  });

  it('reads a Huffman-coded string as its coded octets (RFC 7541 C.4.1)', () => {
    const cursor = new HpackCursor(hex('8c f1e3 c2e5 f23a 6ba0 ab90 f4ff 84'));
    const literal = cursor.readString();
    expect(literal).toEqual({huffman: true, octets: hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')});
    expect(cursor.offset).toBe(13);
    expect(cursor.peek()).toBe(0x84);
  });

  it('refuses a string that runs past the end of the block', () => {
    expect(() => new HpackCursor(hex('05 6162')).readString()).toThrow(HpackError);
  });
});
