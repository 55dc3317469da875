import {describe, expect, it} from 'vitest';

import {HpackError} from '../hpack-cursor.js';
import {HpackDecoder} from './hpack-decoder.js';
import {encodeHeaderBlock, encodeHeaderField} from './hpack-encoder.js';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function pairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i] ?? '', fields[i + 1] ?? '']);
  return out;
}

describe('HpackDecoder', () => {
  it('decodes a literal with indexing and adds it to the table (RFC 7541 C.2.1)', () => {
    const decoder = new HpackDecoder();
    const fields = decoder.decode(
      hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'),
    );
    expect(pairs(fields)).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.tableSizeBytes).toBe(55);
  });

  it('decodes a literal without indexing, leaving the table alone (C.2.2)', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(hex('040c 2f73 616d 706c 652f 7061 7468')))).toEqual([
      [':path', '/sample/path'],
    ]);
    expect(decoder.tableLength).toBe(0);
  });

  it('decodes a never-indexed literal (C.2.3) and an indexed field (C.2.4)', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')))).toEqual([
      ['password', 'secret'],
    ]);
    expect(pairs(decoder.decode(hex('82')))).toEqual([[':method', 'GET']]);
  });

  it('decodes three requests sharing one table, without Huffman (C.3)', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')))).toEqual(
      [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ],
    );
    expect(decoder.tableSizeBytes).toBe(57);
    expect(pairs(decoder.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(decoder.tableSizeBytes).toBe(110);
    expect(
      pairs(
        decoder.decode(
          hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'),
        ),
      ),
    ).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
    expect(decoder.tableSizeBytes).toBe(164);
  });

  it('decodes three requests with Huffman-coded strings (C.4)', () => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')))).toContainEqual(
      [':authority', 'www.example.com'],
    );
    expect(pairs(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf')))).toContainEqual([
      'cache-control',
      'no-cache',
    ]);
    expect(
      pairs(decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))),
    ).toContainEqual(['custom-key', 'custom-value']);
    expect(decoder.tableSizeBytes).toBe(164);
  });

  it('evicts the oldest entries when the table overflows (C.5, a 256-byte table)', () => {
    const decoder = new HpackDecoder(256);
    // The first block starts with a size update to 256.
    decoder.decode(
      hex(
        '3fe1 01 4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      ),
    );
    expect(decoder.tableSizeBytes).toBe(222);
    expect(pairs(decoder.decode(hex('4803 3330 37c1 c0bf')))).toEqual([
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(decoder.tableSizeBytes).toBe(222);
    expect(decoder.tableLength).toBe(4);
  });

  it('refuses what RFC 7541 makes a decoding error', () => {
    expect(() => new HpackDecoder().decode(hex('80'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('be'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('82 3f e1 1f'))).toThrow(HpackError);
    expect(() => new HpackDecoder(4096).decode(hex('3f e1 3f'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('040c 2f73'))).toThrow(HpackError);
  });

  it('reports the header list size', () => {
    const size = {listSizeBytes: 0};
    new HpackDecoder().decode(hex('82 84'), size);
    expect(size.listSizeBytes).toBe(':method'.length + 3 + ':path'.length + 1 + 64);
  });
});

describe('encodeHeaderField', () => {
  it('indexes a static pair and names a static name', () => {
    expect(encodeHeaderField(':status', '200')).toEqual(hex('88'));
    expect(encodeHeaderField('content-type', 'application/grpc')).toEqual(
      Buffer.concat([hex('0f10 10'), Buffer.from('application/grpc')]),
    );
    expect(encodeHeaderField('grpc-status', '0')).toEqual(
      Buffer.concat([hex('00 0b'), Buffer.from('grpc-status'), hex('01'), Buffer.from('0')]),
    );
  });

  it('round-trips through the decoder without touching its table', () => {
    const fields: [string, string][] = [
      [':status', '404'],
      ['content-type', 'application/json'],
      ['grpc-message', 'etcdserver: key not found'],
      ['x-custom', 'a'.repeat(300)],
    ];
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(encodeHeaderBlock(fields)))).toEqual(fields);
    expect(decoder.tableLength).toBe(0);
  });
});
