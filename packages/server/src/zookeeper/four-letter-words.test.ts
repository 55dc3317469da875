import {describe, expect, it} from 'vitest';

import {javaDouble} from './four-letter-words.js';

describe("mntr's averages are written as Java writes a double", () => {
  it.each([
    [0, '0.0'],
    [2, '2.0'],
    [0.3333, '0.3333'],
    [12.5, '12.5'],
    [0.001, '0.001'],
    [0.0005, '5.0E-4'],
    [0.00012, '1.2E-4'],
    [12_345_678, '1.2345678E7'],
  ])('%d is %s', (value, written) => {
    expect(javaDouble(value)).toBe(written);
  });
});
