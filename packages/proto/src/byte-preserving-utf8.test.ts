import {describe, expect, it} from 'vitest';

import {AuthRoleAddRequest} from './index.js';
import {decodeUtf8KeepingBytes, encodeUtf8KeepingBytes} from './byte-preserving-utf8.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/ /g, ''), 'hex');

describe('UTF-8 that keeps every byte', () => {
  it.each([
    ['ASCII', '61 62 63', 'abc'],
    ['valid multi-byte', 'c3 a9 e2 82 ac f0 9f 98 80', 'é€😀'],
    ['an overlong NUL', 'c0 80', '\udcc0\udc80'],
    ['bytes that never start a sequence', 'fe fe ff', '\udcfe\udcfe\udcff'],
    ['an encoded surrogate (invalid in UTF-8)', 'ed a0 80', '\udced\udca0\udc80'],
    ['above U+10FFFF', 'f4 90 80 80', '\udcf4\udc90\udc80\udc80'],
    ['a sequence cut short, then ASCII', 'e2 82 61', '\udce2\udc82a'],
    ['valid around invalid', '61 80 c3 a9', 'a\udc80é'],
  ])('%s: decodes to the expected text and encodes back to the same bytes', (_, bytes, text) => {
    expect(decodeUtf8KeepingBytes(hex(bytes))).toBe(text);
    expect(Buffer.from(encodeUtf8KeepingBytes(text)).toString('hex')).toBe(bytes.replace(/ /g, ''));
  });

  it('encodes a lone surrogate that is no escaped byte as U+FFFD, as TextEncoder does', () => {
    expect(Buffer.from(encodeUtf8KeepingBytes('a\ud800b\udc10')).toString('hex')).toBe(
      '61efbfbd62efbfbd',
    );
  });

  it('keeps two role names apart in messages that differ only in invalid bytes', () => {
    const first = AuthRoleAddRequest.decode(hex('0a 02 c0 80'));
    const second = AuthRoleAddRequest.decode(hex('0a 02 fe fe'));
    expect(first.name).not.toBe(second.name);
    expect(Buffer.from(AuthRoleAddRequest.encode(first).finish()).toString('hex')).toBe('0a02c080');
  });
});
