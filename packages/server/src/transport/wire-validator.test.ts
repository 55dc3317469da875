import {PutRequest} from '@synod/proto';
import {describe, expect, it} from 'vitest';

import {etcdWireSchema} from './etcd-wire-schema.js';
import {WireValidator} from './wire-validator.js';

const validators = WireValidator.forMethods(etcdWireSchema);

function check(path: string, hex: string): string | undefined {
  const validator = validators.get(path);
  if (validator === undefined) throw new Error(`no validator for ${path}`);
  return validator.check(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

const range = '/etcdserverpb.KV/Range';

/** Each row's expected answer is what etcd 3.4.23 said to the same bytes. */
const cases: [string, string, string, string | undefined][] = [
  ['a well-formed key', range, '0a0161', undefined],
  ['an empty request', range, '', undefined],
  ['field number 0', range, '0001', 'proto: RangeRequest: illegal tag 0 (wire type 0)'],
  ['key as a varint', range, '0801', 'proto: wrong wireType = 0 for field Key'],
  ['key as a group', range, '0b', 'proto: wrong wireType = 3 for field Key'],
  ['a truncated varint', range, '0a0161 18 ff', 'unexpected EOF'],
  ['a truncated length', range, '0a05 61', 'unexpected EOF'],
  ['an 11-byte varint', range, '0a0161 18 ffffffffffffffffffff01', 'proto: integer overflow'],
  ['an 11-byte tag', range, 'ffffffffffffffffffff01', 'proto: integer overflow'],
  ['a truncated tag', range, '0a0161 ff', 'unexpected EOF'],
  ['a 10-byte varint', range, '0a0161 18 ffffffffffffffffff7f', undefined],
  ['an end group tag', range, '0a0161 0c', 'proto: RangeRequest: wiretype end group for non-group'],
  ['an unknown group', range, '0a0161 fb01 fc01', undefined],
  ['nested unknown groups', range, '0a0161 fb01 fb02 fc02 fc01', undefined],
  ['an unterminated group', range, '0a0161 fb01', 'unexpected EOF'],
  ['wire type 6 inside a group', range, '0a0161 fb01 fe01 fc01', 'proto: illegal wireType 6'],
  ['an unknown wire type 6', range, '0a0161 fe01', 'proto: illegal wireType 6'],
  ['an unknown wire type 7', range, '0a0161 ff01', 'proto: illegal wireType 7'],
  ['well-formed unknown fields', range, '0a0161 f801 05 fa01 0161 fd01 00000000', undefined],
  ['a truncated unknown fixed64', range, '0a0161 f901 0000', 'unexpected EOF'],
  ['a truncated unknown length', range, '0a0161 fa01 05 00', 'unexpected EOF'],
  [
    'a negative unknown length',
    range,
    '0a0161 fa01 ffffffffffffffffff01',
    'proto: negative length found during unmarshaling',
  ],
  [
    'a negative key length',
    range,
    '0a ffffffffffffffffff01',
    'proto: negative length found during unmarshaling',
  ],
  ['a length of 2^62', range, '0a 8080808080808080 40', 'unexpected EOF'],
  ['a tag whose int32 field number wraps to 1', range, '8a 80 80 80 80 02 0161', undefined],
  [
    'a tag whose int32 field number wraps negative',
    range,
    '8a8080807f 0161',
    'proto: RangeRequest: illegal tag -33554431 (wire type 34091302922)',
  ],
  [
    'field 0 in a 10-byte tag',
    range,
    '8080808080808080 8001',
    'proto: RangeRequest: illegal tag 0 (wire type 9223372036854775808)',
  ],
  ['sort order 99', range, '0a0161 2863', undefined],
  [
    'put value as a varint',
    '/etcdserverpb.KV/Put',
    '0a0161 1001',
    'proto: wrong wireType = 0 for field Value',
  ],
  [
    'put lease as bytes',
    '/etcdserverpb.KV/Put',
    '0a0161 1a0161',
    'proto: wrong wireType = 2 for field Lease',
  ],
  [
    'field 0 in a compare',
    '/etcdserverpb.KV/Txn',
    '0a02 0001',
    'proto: Compare: illegal tag 0 (wire type 0)',
  ],
  [
    'compare key as a varint',
    '/etcdserverpb.KV/Txn',
    '0a02 1801',
    'proto: wrong wireType = 0 for field Key',
  ],
  [
    'field 0 in a range inside a request op',
    '/etcdserverpb.KV/Txn',
    '1204 0a02 0001',
    'proto: RangeRequest: illegal tag 0 (wire type 0)',
  ],
  ['a compare cut short', '/etcdserverpb.KV/Txn', '0a0161', 'unexpected EOF'],
  [
    'lease TTL as bytes',
    '/etcdserverpb.Lease/LeaseGrant',
    '0a0161',
    'proto: wrong wireType = 2 for field TTL',
  ],
  [
    'lock name as a varint',
    '/v3lockpb.Lock/Lock',
    '0801',
    'proto: wrong wireType = 0 for field Name',
  ],
  [
    'field 0 in a campaign',
    '/v3electionpb.Election/Campaign',
    '0001',
    'proto: CampaignRequest: illegal tag 0 (wire type 0)',
  ],
  [
    'field 0 in a watch create request',
    '/etcdserverpb.Watch/Watch',
    '0a02 0001',
    'proto: WatchCreateRequest: illegal tag 0 (wire type 0)',
  ],
  [
    'watch prev_kv packed',
    '/etcdserverpb.Watch/Watch',
    '0a07 0a0161 3202 0001',
    'proto: wrong wireType = 2 for field PrevKv',
  ],
  ['watch filters packed', '/etcdserverpb.Watch/Watch', '0a07 0a0161 2a02 0001', undefined],
  ['watch filters one by one', '/etcdserverpb.Watch/Watch', '0a07 0a0161 2800 2801', undefined],
  [
    'watch filters as fixed32',
    '/etcdserverpb.Watch/Watch',
    '0a08 0a0161 2d00000000',
    'proto: wrong wireType = 5 for field Filters',
  ],
  ['watch filters cut short', '/etcdserverpb.Watch/Watch', '0a07 0a0161 2a02 80', 'unexpected EOF'],
];

describe('WireValidator answers as etcd 3.4 decodes', () => {
  for (const [label, path, hex, expected] of cases) {
    it(`${label}: ${expected ?? 'decodes'}`, () => {
      expect(check(path, hex)).toBe(expected);
    });
  }
});

describe('WireValidator cost', () => {
  it('checks a typical put in well under the decode time (printed, not asserted)', () => {
    const bytes = PutRequest.encode({
      key: Buffer.from('service/registry/instance-000042'),
      value: Buffer.alloc(256, 7),
      lease: 7587874839384848123n,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    }).finish();
    const validator = validators.get('/etcdserverpb.KV/Put');
    if (validator === undefined) throw new Error('no Put validator');
    const rounds = 200_000;
    const time = (f: () => void) => {
      for (let i = 0; i < rounds / 10; i++) f();
      const start = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) f();
      return Number(process.hrtime.bigint() - start) / rounds / 1000;
    };
    const decodeUs = time(() => PutRequest.decode(bytes));
    const checkUs = time(() => validator.check(bytes));
    console.log(
      `PutRequest of ${bytes.length} bytes: decode ${decodeUs.toFixed(3)} µs, ` +
        `check ${checkUs.toFixed(3)} µs, check+decode ${(decodeUs + checkUs).toFixed(3)} µs`,
    );
    expect(validator.check(bytes)).toBeUndefined();
  });
});
