import {KeyValue as EtcdKeyValue} from '@synod/proto';
import {describe, expect, it} from 'vitest';

import {encodeEtcdKeyValue} from './encode-etcd-key-value.js';
import type {KeyValue} from './key-value.js';

const kv = (fields: Partial<KeyValue>): KeyValue => ({
  key: Buffer.from('k'),
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: new Uint8Array(0),
  lease: 0n,
  ...fields,
});

/** What the generated encoder makes of the same fields: the reference. */
function generated(fields: KeyValue): Buffer {
  return Buffer.from(
    EtcdKeyValue.encode(
      EtcdKeyValue.fromPartial({
        key: Buffer.from(fields.key),
        createRevision: BigInt(fields.createRevision),
        modRevision: BigInt(fields.modRevision),
        version: BigInt(fields.version),
        value: Buffer.from(fields.value),
        lease: fields.lease,
      }),
    ).finish(),
  );
}

describe('encodeEtcdKeyValue writes what the generated mvccpb.KeyValue encoder writes', () => {
  it.each([
    [
      'the doc example',
      kv({
        key: Buffer.from('a'),
        createRevision: 2,
        modRevision: 2,
        version: 1,
        value: Buffer.from('v'),
      }),
    ],
    ['a tombstone: the key alone', kv({key: Buffer.from('gone')})],
    ['an empty value, left out', kv({createRevision: 5, modRevision: 9, version: 3})],
    [
      'revisions just below 2^53',
      kv({createRevision: 2 ** 53 - 1, modRevision: 2 ** 53 - 1, version: 2 ** 31}),
    ],
    [
      'varints at their byte boundaries',
      kv({createRevision: 127, modRevision: 128, version: 16_384}),
    ],
    ['a lease', kv({createRevision: 3, modRevision: 3, version: 1, lease: 0x694d7a5c3b1e2f01n})],
    [
      'a negative lease, as ten bytes',
      kv({createRevision: 3, modRevision: 3, version: 1, lease: -2n}),
    ],
    [
      'a key of 200 bytes and a value of 256',
      kv({
        key: Buffer.alloc(200, 'k'),
        createRevision: 7,
        modRevision: 7,
        version: 1,
        value: Buffer.alloc(256, 'v'),
      }),
    ],
    [
      'a value of 100,000 bytes (a three-byte length)',
      kv({createRevision: 1, modRevision: 1, version: 1, value: Buffer.alloc(100_000, 1)}),
    ],
  ])('%s', (_, fields) => {
    expect(encodeEtcdKeyValue(fields).toString('hex')).toBe(generated(fields).toString('hex'));
  });

  it('gives the bytes of the doc example', () => {
    const encoded = encodeEtcdKeyValue(
      kv({
        key: Buffer.from('a'),
        createRevision: 2,
        modRevision: 2,
        version: 1,
        value: Buffer.from('v'),
      }),
    );
    expect(encoded.toString('hex')).toBe('0a01611002180220012a0176');
  });

  it('refuses a revision that is not a whole number below 2^53', () => {
    expect(() => encodeEtcdKeyValue(kv({modRevision: 2 ** 53}))).toThrow(/below 2\^53/);
    expect(() => encodeEtcdKeyValue(kv({modRevision: -1}))).toThrow(/below 2\^53/);
  });
});
