import {describe, expect, it} from 'vitest';

import {FuzzRandom} from './prng.js';
import {encodeFields, parseFields, varint} from './wire.js';

describe('varint', () => {
  it.each([
    [0n, '00'],
    [1n, '01'],
    [300n, 'ac02'],
    [-1n, 'ffffffffffffffffff01'],
    [(1n << 63n) - 1n, 'ffffffffffffffff7f'],
  ] as const)('%s encodes as %s', (value, hex) => {
    expect(varint(value).toString('hex')).toBe(hex);
  });
});

describe('parseFields', () => {
  it('takes a message apart and encodeFields puts it back byte for byte', () => {
    // field 1 "foo", field 2 varint 150, field 3 fixed32, field 4 fixed64
    const message = Buffer.from('0a03666f6f1096012d01020304310102030405060708', 'hex');
    const fields = parseFields(message);
    expect(fields?.map(f => [f.fieldNo, f.wireType])).toEqual([
      [1, 2],
      [2, 0],
      [5, 5],
      [6, 1],
    ]);
    expect(encodeFields(fields!).equals(message)).toBe(true);
  });

  it.each([
    ['a length past the end', '0a05666f6f'],
    ['field number 0', '0001'],
    ['a group', '0b0c'],
    ['a varint cut short', '0880'],
  ])('refuses %s', (_, hex) => {
    expect(parseFields(Buffer.from(hex, 'hex'))).toBeUndefined();
  });
});

describe('FuzzRandom', () => {
  it('gives the same stream for the same seed and input, another for another input', () => {
    const draw = (r: FuzzRandom): number[] => Array.from({length: 8}, () => r.nextUint32());
    expect(draw(FuzzRandom.forInput(1, 5))).toEqual(draw(FuzzRandom.forInput(1, 5)));
    expect(draw(FuzzRandom.forInput(1, 5))).not.toEqual(draw(FuzzRandom.forInput(1, 6)));
    expect(draw(FuzzRandom.forInput(1, 5))).not.toEqual(draw(FuzzRandom.forInput(2, 5)));
  });
});
