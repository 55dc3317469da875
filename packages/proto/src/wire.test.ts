/**
 * Wire-compatibility tests for the etcd v3 API. Every expected byte string is
 * derived by hand from the field numbers and wire types in the .proto sources,
 * never produced by the generator, so a renumbered field, a changed type or a
 * wrong encoding of a 64-bit id shows up as a byte mismatch.
 *
 * Reading the comments: a tag byte is (field << 3) | wire type, where wire type
 * 0 is a varint and 2 a length-delimited field (bytes, string, message, packed
 * repeated). Varints are little-endian groups of 7 bits, the high bit set on
 * every byte but the last.
 */
import {describe, expect, it} from 'vitest';
import {fromTsProtoServiceDefinition} from 'nice-grpc/lib/service-definitions/ts-proto.js';
import type {TsProtoServiceDefinition} from 'nice-grpc';
import {
  AlarmRequest,
  AlarmResponse,
  AuthDefinition,
  AuthDisableRequest,
  AuthDisableResponse,
  AuthEnableRequest,
  AuthEnableResponse,
  AuthRoleAddRequest,
  AuthRoleAddResponse,
  AuthRoleDeleteRequest,
  AuthRoleDeleteResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleGrantPermissionResponse,
  AuthRoleListRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthStatusRequest,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserAddResponse,
  AuthUserChangePasswordRequest,
  AuthUserChangePasswordResponse,
  AuthUserDeleteRequest,
  AuthUserDeleteResponse,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserGrantRoleResponse,
  AuthUserListRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  CampaignRequest,
  CampaignResponse,
  ClusterDefinition,
  CompactionRequest,
  CompactionResponse,
  Compare_CompareResult,
  Compare_CompareTarget,
  DefragmentRequest,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  DowngradeRequest,
  DowngradeResponse,
  ElectionDefinition,
  Event_EventType,
  HashKVRequest,
  HashKVResponse,
  HashRequest,
  HashResponse,
  HealthCheckRequest,
  HealthCheckResponse,
  HealthDefinition,
  KVDefinition,
  LeaderRequest,
  LeaderResponse,
  LeaseDefinition,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  LockDefinition,
  LockRequest,
  LockResponse,
  MaintenanceDefinition,
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeResponse,
  ResignRequest,
  ResignResponse,
  ResponseHeader,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  UnlockRequest,
  UnlockResponse,
  WatchCreateRequest,
  WatchCreateRequest_FilterType,
  WatchDefinition,
  WatchRequest,
  WatchResponse,
} from './index.js';
import type {Compare, MessageFns} from './index.js';

/** Joins hex groups written with spaces for readability into one hex string. */
function hex(...groups: readonly string[]): string {
  return groups.join('').replace(/\s+/g, '');
}

function encodeToHex<T>(fns: MessageFns<T>, message: T): string {
  return Buffer.from(fns.encode(message).finish()).toString('hex');
}

function decodeHex<T>(fns: MessageFns<T>, bytesHex: string): T {
  return fns.decode(Buffer.from(bytesHex, 'hex'));
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const empty = Buffer.alloc(0);

describe('KV messages', () => {
  it('PutRequest with key, value, lease and prev_kv', () => {
    const message: PutRequest = {
      key: bytes('foo'),
      value: bytes('bar'),
      lease: 0x1234n,
      prevKv: true,
      ignoreValue: false,
      ignoreLease: false,
    };
    const expected = hex(
      '0a 03 666f6f', // 1 key, LEN: "foo"
      '12 03 626172', // 2 value, LEN: "bar"
      '18 b424', // 3 lease, varint 0x1234 = 0x34|0x80, 0x1234 >> 7 = 0x24
      '20 01', // 4 prev_kv = true
    );
    expect(encodeToHex(PutRequest, message)).toBe(expected);
    expect(decodeHex(PutRequest, expected)).toEqual(message);
  });

  it('PutRequest that keeps the current value and lease', () => {
    const message: PutRequest = {
      key: bytes('foo'),
      value: empty,
      lease: 0n,
      prevKv: false,
      ignoreValue: true,
      ignoreLease: true,
    };
    const expected = hex(
      '0a 03 666f6f', // 1 key
      '28 01', // 5 ignore_value = true
      '30 01', // 6 ignore_lease = true
    );
    expect(encodeToHex(PutRequest, message)).toBe(expected);
    expect(decodeHex(PutRequest, expected)).toEqual(message);
  });

  it('RangeRequest with every option set', () => {
    const message: RangeRequest = {
      key: bytes('a'),
      rangeEnd: bytes('b'),
      limit: 10n,
      revision: 300n,
      sortOrder: RangeRequest_SortOrder.DESCEND,
      sortTarget: RangeRequest_SortTarget.MOD,
      serializable: true,
      keysOnly: true,
      countOnly: true,
      minModRevision: 5n,
      maxModRevision: 1000n,
      minCreateRevision: 2n,
      maxCreateRevision: 200n,
    };
    const expected = hex(
      '0a 01 61', // 1 key "a"
      '12 01 62', // 2 range_end "b"
      '18 0a', // 3 limit 10
      '20 ac02', // 4 revision 300 = 0x2c|0x80, 300 >> 7 = 2
      '28 02', // 5 sort_order DESCEND = 2
      '30 03', // 6 sort_target MOD = 3
      '38 01', // 7 serializable
      '40 01', // 8 keys_only
      '48 01', // 9 count_only
      '50 05', // 10 min_mod_revision 5
      '58 e807', // 11 max_mod_revision 1000 = 0x68|0x80, 1000 >> 7 = 7
      '60 02', // 12 min_create_revision 2
      '68 c801', // 13 max_create_revision 200 = 0x48|0x80, 200 >> 7 = 1
    );
    expect(encodeToHex(RangeRequest, message)).toBe(expected);
    expect(decodeHex(RangeRequest, expected)).toEqual(message);
  });

  it('RangeRequest enums carry the numbers etcd assigns', () => {
    expect([
      RangeRequest_SortOrder.NONE,
      RangeRequest_SortOrder.ASCEND,
      RangeRequest_SortOrder.DESCEND,
    ]).toEqual([0, 1, 2]);
    expect([
      RangeRequest_SortTarget.KEY,
      RangeRequest_SortTarget.VERSION,
      RangeRequest_SortTarget.CREATE,
      RangeRequest_SortTarget.MOD,
      RangeRequest_SortTarget.VALUE,
    ]).toEqual([0, 1, 2, 3, 4]);
    // ASCEND by VALUE: 28 01 (5 sort_order), 30 04 (6 sort_target).
    const decoded = decodeHex(RangeRequest, hex('0a 01 61', '28 01', '30 04'));
    expect(decoded.sortOrder).toBe(RangeRequest_SortOrder.ASCEND);
    expect(decoded.sortTarget).toBe(RangeRequest_SortTarget.VALUE);
  });

  it('RangeResponse with a KeyValue', () => {
    const message: RangeResponse = {
      header: {clusterId: 0n, memberId: 0n, revision: 9n, raftTerm: 0n},
      kvs: [
        {
          key: bytes('k'),
          createRevision: 2n,
          modRevision: 9n,
          version: 3n,
          value: bytes('v'),
          lease: 0x1234n,
        },
      ],
      more: true,
      count: 2n,
    };
    const expected = hex(
      '0a 02 1809', // 1 header, LEN 2: { 3 revision 9 }
      '12 0f', // 2 kvs, LEN 15: one mvccpb.KeyValue
      '  0a 01 6b', //   1 key "k"
      '  10 02', //   2 create_revision 2
      '  18 09', //   3 mod_revision 9
      '  20 03', //   4 version 3
      '  2a 01 76', //   5 value "v"
      '  30 b424', //   6 lease 0x1234
      '18 01', // 3 more
      '20 02', // 4 count 2
    );
    expect(encodeToHex(RangeResponse, message)).toBe(expected);
    expect(decodeHex(RangeResponse, expected)).toEqual(message);
  });
});

describe('Txn messages', () => {
  const compares: Compare[] = [
    // "k does not exist": the oneof member is written even though it is 0.
    {
      result: Compare_CompareResult.EQUAL,
      target: Compare_CompareTarget.VERSION,
      key: bytes('k'),
      targetUnion: {$case: 'version', value: 0n},
      rangeEnd: empty,
    },
    {
      result: Compare_CompareResult.GREATER,
      target: Compare_CompareTarget.CREATE,
      key: bytes('k'),
      targetUnion: {$case: 'createRevision', value: 5n},
      rangeEnd: empty,
    },
    {
      result: Compare_CompareResult.LESS,
      target: Compare_CompareTarget.MOD,
      key: bytes('k'),
      targetUnion: {$case: 'modRevision', value: 300n},
      rangeEnd: empty,
    },
    {
      result: Compare_CompareResult.NOT_EQUAL,
      target: Compare_CompareTarget.VALUE,
      key: bytes('k'),
      targetUnion: {$case: 'value', value: bytes('v')},
      rangeEnd: empty,
    },
    {
      result: Compare_CompareResult.EQUAL,
      target: Compare_CompareTarget.LEASE,
      key: bytes('a'),
      targetUnion: {$case: 'lease', value: 0x1234n},
      rangeEnd: bytes('z'),
    },
  ];

  const nested = TxnRequest.fromPartial({
    compare: [
      {
        target: Compare_CompareTarget.VERSION,
        key: bytes('n'),
        targetUnion: {$case: 'version', value: 0n},
      },
    ],
    success: [{request: {$case: 'requestPut', value: {key: bytes('n'), value: bytes('1')}}}],
  });

  const message: TxnRequest = {
    compare: compares,
    success: [
      {
        request: {
          $case: 'requestPut',
          value: PutRequest.fromPartial({key: bytes('k'), value: bytes('v')}),
        },
      },
      {
        request: {
          $case: 'requestRange',
          value: RangeRequest.fromPartial({key: bytes('k'), rangeEnd: bytes('\0')}),
        },
      },
    ],
    failure: [
      {
        request: {
          $case: 'requestDeleteRange',
          value: DeleteRangeRequest.fromPartial({key: bytes('k'), prevKv: true}),
        },
      },
      {request: {$case: 'requestTxn', value: nested}},
    ],
  };

  const expected = hex(
    '0a 05', // 1 compare, LEN 5
    '  1a 01 6b', //   3 key "k" (result EQUAL = 0 and target VERSION = 0 are omitted)
    '  20 00', //   4 version 0
    '0a 09', // 1 compare, LEN 9
    '  08 01', //   1 result GREATER
    '  10 01', //   2 target CREATE
    '  1a 01 6b', //   3 key "k"
    '  28 05', //   5 create_revision 5
    '0a 0a', // 1 compare, LEN 10
    '  08 02', //   1 result LESS
    '  10 02', //   2 target MOD
    '  1a 01 6b', //   3 key "k"
    '  30 ac02', //   6 mod_revision 300
    '0a 0a', // 1 compare, LEN 10
    '  08 03', //   1 result NOT_EQUAL
    '  10 03', //   2 target VALUE
    '  1a 01 6b', //   3 key "k"
    '  3a 01 76', //   7 value "v"
    '0a 0c', // 1 compare, LEN 12
    '  10 04', //   2 target LEASE (result EQUAL omitted)
    '  1a 01 61', //   3 key "a"
    '  40 b424', //   8 lease 0x1234
    '  8204 01 7a', //   64 range_end "z": tag (64 << 3) | 2 = 514 = 0x02|0x80, 514 >> 7 = 4
    '12 08', // 2 success, LEN 8: RequestOp
    '  12 06', //   2 request_put, LEN 6
    '    0a 01 6b 12 01 76', //     1 key "k", 2 value "v"
    '12 08', // 2 success, LEN 8: RequestOp
    '  0a 06', //   1 request_range, LEN 6
    '    0a 01 6b 12 01 00', //     1 key "k", 2 range_end "\0"
    '1a 07', // 3 failure, LEN 7: RequestOp
    '  1a 05', //   3 request_delete_range, LEN 5
    '    0a 01 6b 18 01', //     1 key "k", 3 prev_kv
    '1a 13', // 3 failure, LEN 19: RequestOp
    '  22 11', //   4 request_txn, LEN 17: TxnRequest
    '    0a 05 1a 01 6e 20 00', //     1 compare { 3 key "n", 4 version 0 }
    '    12 08 12 06 0a 01 6e 12 01 31', //     2 success { 2 request_put { key "n", value "1" } }
  );

  it('TxnRequest with every compare target and result, and a nested txn', () => {
    expect(encodeToHex(TxnRequest, message)).toBe(expected);
    expect(decodeHex(TxnRequest, expected)).toEqual(message);
  });

  it('decodes the compare operand into the oneof member named by its field', () => {
    const decoded = decodeHex(TxnRequest, expected);
    expect(decoded.compare.map(c => [c.target, c.targetUnion?.$case])).toEqual([
      [Compare_CompareTarget.VERSION, 'version'],
      [Compare_CompareTarget.CREATE, 'createRevision'],
      [Compare_CompareTarget.MOD, 'modRevision'],
      [Compare_CompareTarget.VALUE, 'value'],
      [Compare_CompareTarget.LEASE, 'lease'],
    ]);
    expect(decoded.compare[4]?.rangeEnd).toEqual(bytes('z'));
    const inner = decoded.failure[1]?.request;
    expect(inner?.$case).toBe('requestTxn');
    expect(inner?.$case === 'requestTxn' ? inner.value.success[0]?.request?.$case : undefined).toBe(
      'requestPut',
    );
  });

  it('Compare enums carry the numbers etcd assigns', () => {
    expect([
      Compare_CompareResult.EQUAL,
      Compare_CompareResult.GREATER,
      Compare_CompareResult.LESS,
      Compare_CompareResult.NOT_EQUAL,
    ]).toEqual([0, 1, 2, 3]);
    expect([
      Compare_CompareTarget.VERSION,
      Compare_CompareTarget.CREATE,
      Compare_CompareTarget.MOD,
      Compare_CompareTarget.VALUE,
      Compare_CompareTarget.LEASE,
    ]).toEqual([0, 1, 2, 3, 4]);
  });

  it('TxnResponse with a put response', () => {
    const response: TxnResponse = {
      header: ResponseHeader.fromPartial({revision: 10n}),
      succeeded: true,
      responses: [
        {response: {$case: 'responsePut', value: {header: undefined, prevKv: undefined}}},
      ],
    };
    const bytesHex = hex(
      '0a 02 180a', // 1 header { 3 revision 10 }
      '10 01', // 2 succeeded
      '1a 02', // 3 responses, LEN 2: ResponseOp
      '  12 00', //   2 response_put, LEN 0 (an empty PutResponse is still written)
    );
    expect(encodeToHex(TxnResponse, response)).toBe(bytesHex);
    expect(decodeHex(TxnResponse, bytesHex)).toEqual(response);
  });
});

describe('Watch messages', () => {
  it('WatchRequest carrying a WatchCreateRequest with every option', () => {
    const message: WatchRequest = {
      requestUnion: {
        $case: 'createRequest',
        value: {
          key: bytes('foo'),
          rangeEnd: bytes('fop'),
          startRevision: 1000n,
          progressNotify: true,
          filters: [WatchCreateRequest_FilterType.NOPUT, WatchCreateRequest_FilterType.NODELETE],
          prevKv: true,
          watchId: 7n,
          fragment: true,
        },
      },
    };
    const expected = hex(
      '0a 19', // 1 create_request, LEN 25
      '  0a 03 666f6f', //   1 key "foo"
      '  12 03 666f70', //   2 range_end "fop"
      '  18 e807', //   3 start_revision 1000
      '  20 01', //   4 progress_notify
      '  2a 02 00 01', //   5 filters, packed (LEN 2): NOPUT = 0, NODELETE = 1
      '  30 01', //   6 prev_kv
      '  38 07', //   7 watch_id 7
      '  40 01', //   8 fragment
    );
    expect(encodeToHex(WatchRequest, message)).toBe(expected);
    expect(decodeHex(WatchRequest, expected)).toEqual(message);
  });

  it('accepts filters sent unpacked, one tag per value', () => {
    // 28 00 28 01: field 5 as two varints, as a proto2-minded encoder may send.
    const decoded = decodeHex(WatchCreateRequest, hex('0a 01 61', '28 00', '28 01'));
    expect(decoded.filters).toEqual([
      WatchCreateRequest_FilterType.NOPUT,
      WatchCreateRequest_FilterType.NODELETE,
    ]);
  });

  it('WatchRequest carrying a cancel or a progress request', () => {
    const cancel: WatchRequest = {requestUnion: {$case: 'cancelRequest', value: {watchId: 7n}}};
    // 2 cancel_request, LEN 2: { 1 watch_id 7 }
    expect(encodeToHex(WatchRequest, cancel)).toBe(hex('12 02 0807'));
    expect(decodeHex(WatchRequest, '12020807')).toEqual(cancel);

    const progress: WatchRequest = {requestUnion: {$case: 'progressRequest', value: {}}};
    // 3 progress_request, LEN 0: an empty oneof member is still written.
    expect(encodeToHex(WatchRequest, progress)).toBe(hex('1a 00'));
    expect(decodeHex(WatchRequest, '1a00')).toEqual(progress);
  });

  it('WatchResponse for a failed creation: watch_id -1 is a ten-byte varint', () => {
    const message: WatchResponse = {
      header: undefined,
      watchId: -1n,
      created: true,
      canceled: true,
      compactRevision: 0n,
      cancelReason: 'x',
      fragment: false,
      events: [],
    };
    const expected = hex(
      '10 ffffffffffffffffff01', // 2 watch_id -1: int64 as its 64-bit two's complement
      '18 01', // 3 created
      '20 01', // 4 canceled
      '32 01 78', // 6 cancel_reason "x"
    );
    expect(encodeToHex(WatchResponse, message)).toBe(expected);
    expect(decodeHex(WatchResponse, expected)).toEqual(message);
  });

  it('WatchResponse with a DELETE event (field 11)', () => {
    const message: WatchResponse = {
      header: ResponseHeader.fromPartial({revision: 9n}),
      watchId: 0n,
      created: false,
      canceled: false,
      compactRevision: 0n,
      cancelReason: '',
      fragment: false,
      events: [
        {
          type: Event_EventType.DELETE,
          kv: {
            key: bytes('k'),
            createRevision: 0n,
            modRevision: 9n,
            version: 0n,
            value: empty,
            lease: 0n,
          },
          prevKv: undefined,
        },
      ],
    };
    const expected = hex(
      '0a 02 1809', // 1 header { 3 revision 9 }
      '5a 09', // 11 events: tag (11 << 3) | 2 = 0x5a, LEN 9
      '  08 01', //   1 type DELETE
      '  12 05', //   2 kv, LEN 5
      '    0a 01 6b', //     1 key "k"
      '    18 09', //     3 mod_revision 9
    );
    expect(encodeToHex(WatchResponse, message)).toBe(expected);
    expect(decodeHex(WatchResponse, expected)).toEqual(message);
  });
});

describe('Lease messages', () => {
  it('LeaseGrantRequest with TTL and the largest lease id', () => {
    const message: LeaseGrantRequest = {TTL: 60n, ID: 0x7fffffffffffffffn};
    const expected = hex(
      '08 3c', // 1 TTL 60
      '10 ffffffffffffffff7f', // 2 ID 2^63 - 1: 63 one bits = eight 0xff groups, then 0x7f
    );
    expect(encodeToHex(LeaseGrantRequest, message)).toBe(expected);
    expect(decodeHex(LeaseGrantRequest, expected)).toEqual(message);
  });

  it('LeaseGrantRequest with ID 0 leaves the id to the server', () => {
    const message: LeaseGrantRequest = {TTL: 5n, ID: 0n};
    expect(encodeToHex(LeaseGrantRequest, message)).toBe(hex('08 05'));
    expect(decodeHex(LeaseGrantRequest, '0805')).toEqual(message);
  });
});

describe('ResponseHeader', () => {
  it('carries member and cluster ids above 2^63 - 1 as unsigned varints', () => {
    const message: ResponseHeader = {
      clusterId: 0xffffffffffffffffn,
      memberId: 0x8000000000000001n,
      revision: 12345n,
      raftTerm: 7n,
    };
    const expected = hex(
      '08 ffffffffffffffffff01', // 1 cluster_id 2^64 - 1: nine 0xff groups (63 bits), then 0x01
      '10 81808080808080808001', // 2 member_id 2^63 + 1: bit 0 -> 0x81, seven empty groups, bit 63 -> 0x01
      '18 b960', // 3 revision 12345 = 0x39|0x80, 12345 >> 7 = 0x60
      '20 07', // 4 raft_term 7
    );
    expect(encodeToHex(ResponseHeader, message)).toBe(expected);
    const decoded = decodeHex(ResponseHeader, expected);
    expect(decoded).toEqual(message);
    // Unsigned, not the negative int64 with the same bits.
    expect(decoded.clusterId > 0n).toBe(true);
    expect(decoded.memberId).toBe(9223372036854775809n);
  });

  it('refuses to encode an id that does not fit in a uint64', () => {
    const header = (memberId: bigint): ResponseHeader => ({
      clusterId: 1n,
      memberId,
      revision: 1n,
      raftTerm: 1n,
    });
    expect(() => ResponseHeader.encode(header(1n << 64n))).toThrow(/too large/);
    expect(() => ResponseHeader.encode(header(-1n))).toThrow(/too large/);
  });
});

/** How each RPC streams, as in the etcd API's RPC table. */
type Kind = 'unary' | 'server-stream' | 'client-stream' | 'bidi';

interface MethodRow {
  readonly path: string;
  readonly kind: Kind;
  readonly request: MessageFns<unknown>;
  readonly response: MessageFns<unknown>;
}

function row(
  path: string,
  kind: Kind,
  request: MessageFns<unknown>,
  response: MessageFns<unknown>,
): MethodRow {
  return {path, kind, request, response};
}

const expectedMethods: readonly MethodRow[] = [
  row('/etcdserverpb.KV/Range', 'unary', RangeRequest, RangeResponse),
  row('/etcdserverpb.KV/Put', 'unary', PutRequest, PutResponse),
  row('/etcdserverpb.KV/DeleteRange', 'unary', DeleteRangeRequest, DeleteRangeResponse),
  row('/etcdserverpb.KV/Txn', 'unary', TxnRequest, TxnResponse),
  row('/etcdserverpb.KV/Compact', 'unary', CompactionRequest, CompactionResponse),
  row('/etcdserverpb.Watch/Watch', 'bidi', WatchRequest, WatchResponse),
  row('/etcdserverpb.Lease/LeaseGrant', 'unary', LeaseGrantRequest, LeaseGrantResponse),
  row('/etcdserverpb.Lease/LeaseRevoke', 'unary', LeaseRevokeRequest, LeaseRevokeResponse),
  row('/etcdserverpb.Lease/LeaseKeepAlive', 'bidi', LeaseKeepAliveRequest, LeaseKeepAliveResponse),
  row(
    '/etcdserverpb.Lease/LeaseTimeToLive',
    'unary',
    LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
  ),
  row('/etcdserverpb.Lease/LeaseLeases', 'unary', LeaseLeasesRequest, LeaseLeasesResponse),
  row('/etcdserverpb.Cluster/MemberAdd', 'unary', MemberAddRequest, MemberAddResponse),
  row('/etcdserverpb.Cluster/MemberRemove', 'unary', MemberRemoveRequest, MemberRemoveResponse),
  row('/etcdserverpb.Cluster/MemberUpdate', 'unary', MemberUpdateRequest, MemberUpdateResponse),
  row('/etcdserverpb.Cluster/MemberList', 'unary', MemberListRequest, MemberListResponse),
  row('/etcdserverpb.Cluster/MemberPromote', 'unary', MemberPromoteRequest, MemberPromoteResponse),
  row('/etcdserverpb.Maintenance/Alarm', 'unary', AlarmRequest, AlarmResponse),
  row('/etcdserverpb.Maintenance/Status', 'unary', StatusRequest, StatusResponse),
  row('/etcdserverpb.Maintenance/Defragment', 'unary', DefragmentRequest, DefragmentResponse),
  row('/etcdserverpb.Maintenance/Hash', 'unary', HashRequest, HashResponse),
  row('/etcdserverpb.Maintenance/HashKV', 'unary', HashKVRequest, HashKVResponse),
  row('/etcdserverpb.Maintenance/Snapshot', 'server-stream', SnapshotRequest, SnapshotResponse),
  row('/etcdserverpb.Maintenance/MoveLeader', 'unary', MoveLeaderRequest, MoveLeaderResponse),
  row('/etcdserverpb.Maintenance/Downgrade', 'unary', DowngradeRequest, DowngradeResponse),
  row('/etcdserverpb.Auth/AuthEnable', 'unary', AuthEnableRequest, AuthEnableResponse),
  row('/etcdserverpb.Auth/AuthDisable', 'unary', AuthDisableRequest, AuthDisableResponse),
  row('/etcdserverpb.Auth/AuthStatus', 'unary', AuthStatusRequest, AuthStatusResponse),
  row('/etcdserverpb.Auth/Authenticate', 'unary', AuthenticateRequest, AuthenticateResponse),
  row('/etcdserverpb.Auth/UserAdd', 'unary', AuthUserAddRequest, AuthUserAddResponse),
  row('/etcdserverpb.Auth/UserGet', 'unary', AuthUserGetRequest, AuthUserGetResponse),
  row('/etcdserverpb.Auth/UserList', 'unary', AuthUserListRequest, AuthUserListResponse),
  row('/etcdserverpb.Auth/UserDelete', 'unary', AuthUserDeleteRequest, AuthUserDeleteResponse),
  row(
    '/etcdserverpb.Auth/UserChangePassword',
    'unary',
    AuthUserChangePasswordRequest,
    AuthUserChangePasswordResponse,
  ),
  row(
    '/etcdserverpb.Auth/UserGrantRole',
    'unary',
    AuthUserGrantRoleRequest,
    AuthUserGrantRoleResponse,
  ),
  row(
    '/etcdserverpb.Auth/UserRevokeRole',
    'unary',
    AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse,
  ),
  row('/etcdserverpb.Auth/RoleAdd', 'unary', AuthRoleAddRequest, AuthRoleAddResponse),
  row('/etcdserverpb.Auth/RoleGet', 'unary', AuthRoleGetRequest, AuthRoleGetResponse),
  row('/etcdserverpb.Auth/RoleList', 'unary', AuthRoleListRequest, AuthRoleListResponse),
  row('/etcdserverpb.Auth/RoleDelete', 'unary', AuthRoleDeleteRequest, AuthRoleDeleteResponse),
  row(
    '/etcdserverpb.Auth/RoleGrantPermission',
    'unary',
    AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse,
  ),
  row(
    '/etcdserverpb.Auth/RoleRevokePermission',
    'unary',
    AuthRoleRevokePermissionRequest,
    AuthRoleRevokePermissionResponse,
  ),
  row('/v3lockpb.Lock/Lock', 'unary', LockRequest, LockResponse),
  row('/v3lockpb.Lock/Unlock', 'unary', UnlockRequest, UnlockResponse),
  row('/v3electionpb.Election/Campaign', 'unary', CampaignRequest, CampaignResponse),
  row('/v3electionpb.Election/Proclaim', 'unary', ProclaimRequest, ProclaimResponse),
  row('/v3electionpb.Election/Leader', 'unary', LeaderRequest, LeaderResponse),
  row('/v3electionpb.Election/Observe', 'server-stream', LeaderRequest, LeaderResponse),
  row('/v3electionpb.Election/Resign', 'unary', ResignRequest, ResignResponse),
  row('/grpc.health.v1.Health/Check', 'unary', HealthCheckRequest, HealthCheckResponse),
  row('/grpc.health.v1.Health/Watch', 'server-stream', HealthCheckRequest, HealthCheckResponse),
];

const definitions: readonly TsProtoServiceDefinition[] = [
  KVDefinition,
  WatchDefinition,
  LeaseDefinition,
  ClusterDefinition,
  MaintenanceDefinition,
  AuthDefinition,
  LockDefinition,
  ElectionDefinition,
  HealthDefinition,
];

function kindOf(requestStream: boolean, responseStream: boolean): Kind {
  if (requestStream) return responseStream ? 'bidi' : 'client-stream';
  return responseStream ? 'server-stream' : 'unary';
}

describe('service definitions', () => {
  // The paths nice-grpc registers with the gRPC server and calls as a client,
  // converted the way nice-grpc converts a ts-proto definition.
  const served = definitions.flatMap(definition =>
    Object.values(fromTsProtoServiceDefinition(definition)).map(method => ({
      path: method.path,
      kind: kindOf(method.requestStream, method.responseStream),
    })),
  );

  it('expose exactly the methods of the etcd API and the health service', () => {
    expect(served.map(m => m.path).sort()).toEqual(expectedMethods.map(m => m.path).sort());
  });

  it.each(expectedMethods)('$path is $kind', ({path, kind}) => {
    expect(served.find(m => m.path === path)?.kind).toBe(kind);
  });

  it('pair each method with its request and response messages', () => {
    const byPath = new Map<string, {request: unknown; response: unknown}>();
    for (const definition of definitions) {
      for (const method of Object.values(definition.methods)) {
        byPath.set(`/${definition.fullName}/${method.name}`, {
          request: method.requestType,
          response: method.responseType,
        });
      }
    }
    for (const {path, request, response} of expectedMethods) {
      expect(byPath.get(path)?.request, path).toBe(request);
      expect(byPath.get(path)?.response, path).toBe(response);
    }
  });
});
