import {readFileSync} from 'node:fs';
import {gzipSync} from 'node:zlib';

import {
  PutRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
} from '@synod/proto';
import {
  etcdSkipReason,
  grpcFrame,
  makeTestPki,
  mutualTlsOptions,
  opensslSkipReason,
  rawGrpcCall,
} from '@synod/testing';
import type {RawGrpcOptions, RawGrpcResult, TestPki} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {sameHttp} from './gateway-harness.js';
import {align, normalise, startPair} from './harness.js';

/**
 * Malformed gRPC requests: the same raw bytes and headers go to etcd and to Synod on one call
 * each, and their answers must be the same.
 *
 * | compared                          | normalised                                           |
 * | --------------------------------- | ---------------------------------------------------- |
 * | `grpc-status` and `grpc-message`  | nothing: etcd's exact text                           |
 * | response messages (OK answers)    | decoded, header ids and term dropped (`normalise`)   |
 * | whether the call ended in time    | the wait is the same short timeout for both          |
 * | an RST_STREAM code                | nothing                                              |
 *
 * Groups: the request bytes (field 0, wrong wire types, truncation, varint overflow,
 * negative lengths, unknown fields and groups, nested messages) on KV, Lease, Lock,
 * Election, Auth, Maintenance and Watch; enum values out of range; a Watch stream that the
 * client half-closes; and the gRPC framing (compressed flag, grpc-encoding, message count).
 *
 * Left out because etcd 3.4.23's answer is no answer: a length prefix whose sum with the
 * offset overflows an int64 (etcd's decoder panics and the process exits; Synod answers
 * "proto: negative length found during unmarshaling"), and a sort target outside 0-4 with
 * an order that sorts (etcd panics; Synod answers "etcdserver: invalid sort option").
 */

type ResponseType = {decode(bytes: Uint8Array): unknown} | undefined;

interface Answer {
  readonly status: number | undefined;
  readonly message: string;
  readonly responses: readonly unknown[];
  readonly resetCode: number | undefined;
  readonly timedOut: boolean;
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function answerOf(side: Side, result: RawGrpcResult, responseType: ResponseType): Answer {
  return {
    status: result.status,
    // grpc-js says "OK" where grpc-go leaves the message out.
    message: result.status === 0 && result.message === 'OK' ? '' : result.message,
    responses: result.messages.map(bytes =>
      responseType === undefined ? bytes.length > 0 : normalise(side, responseType.decode(bytes)),
    ),
    resetCode: result.resetCode,
    timedOut: result.timedOut,
  };
}

describe.skipIf(etcdSkipReason !== undefined)('malformed requests: etcd and Synod', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair();
  });

  afterAll(async () => {
    await pair.stop();
  });

  async function call(
    path: string,
    body: Buffer,
    responseType: ResponseType,
    options: RawGrpcOptions = {},
  ): Promise<[Answer, Answer]> {
    const [etcd, synod] = await Promise.all(
      pair.sides.map(async side =>
        answerOf(side, await rawGrpcCall(side.address, path, body, options), responseType),
      ),
    );
    return [etcd as Answer, synod as Answer];
  }

  async function same(
    label: string,
    path: string,
    body: Buffer,
    responseType?: ResponseType,
    options?: RawGrpcOptions,
  ): Promise<Answer> {
    const [etcd, synod] = await call(path, body, responseType, options);
    expect(synod, label).toEqual(etcd);
    return etcd;
  }

  const range = '/etcdserverpb.KV/Range';

  describe('request bytes that etcd cannot decode', () => {
    const undecodable: [string, string, string][] = [
      ['field 0', range, '0001'],
      ['key as a varint', range, '0801'],
      ['key as a group', range, '0b'],
      ['an end group tag', range, '0a0161 0c'],
      ['a truncated varint', range, '0a0161 18 ff'],
      ['a truncated length', range, '0a05 61'],
      ['a truncated tag', range, '0a0161 ff'],
      ['an 11-byte varint', range, '0a0161 18 ffffffffffffffffffff01'],
      ['an 11-byte tag', range, 'ffffffffffffffffffff01'],
      ['a negative key length', range, '0a ffffffffffffffffff01'],
      ['a length past the message', range, '0a ffffffff0f'],
      ['a length of 2^62', range, '0a 8080808080808080 40'],
      ['an unknown wire type 6', range, '0a0161 fe01'],
      ['an unknown wire type 7', range, '0a0161 ff01'],
      ['an unterminated unknown group', range, '0a0161 fb01'],
      ['wire type 6 inside an unknown group', range, '0a0161 fb01 fe01 fc01'],
      ['a truncated unknown fixed64', range, '0a0161 f901 0000'],
      ['a negative unknown length', range, '0a0161 fa01 ffffffffffffffffff01'],
      ['a tag whose field number wraps negative', range, '8a8080807f 0161'],
      ['field 0 in a 10-byte tag', range, '8080808080808080 8001'],
      ['put value as a varint', '/etcdserverpb.KV/Put', '0a0161 1001'],
      ['put lease as bytes', '/etcdserverpb.KV/Put', '0a0161 1a0161'],
      ['field 0 in a delete', '/etcdserverpb.KV/DeleteRange', '0001'],
      ['field 0 in a compare', '/etcdserverpb.KV/Txn', '0a02 0001'],
      ['compare key as a varint', '/etcdserverpb.KV/Txn', '0a02 1801'],
      ['field 0 in a range inside a request op', '/etcdserverpb.KV/Txn', '1204 0a02 0001'],
      ['a compare cut short', '/etcdserverpb.KV/Txn', '0a0161'],
      ['field 0 in a lease grant', '/etcdserverpb.Lease/LeaseGrant', '0001'],
      ['lease TTL as bytes', '/etcdserverpb.Lease/LeaseGrant', '0a0161'],
      ['field 0 in a lock', '/v3lockpb.Lock/Lock', '0001'],
      ['lock name as a varint', '/v3lockpb.Lock/Lock', '0801'],
      ['field 0 in a campaign', '/v3electionpb.Election/Campaign', '0001'],
      ['campaign name as a varint', '/v3electionpb.Election/Campaign', '0801'],
      ['field 0 in a user add', '/etcdserverpb.Auth/UserAdd', '0001'],
      ['authenticate name as a varint', '/etcdserverpb.Auth/Authenticate', '0801'],
      ['field 0 in a status request', '/etcdserverpb.Maintenance/Status', '0001'],
      ['field 0 in a keep-alive', '/etcdserverpb.Lease/LeaseKeepAlive', '0001'],
      ['field 0 in a snapshot request', '/etcdserverpb.Maintenance/Snapshot', '0001'],
      ['field 0 in an observe', '/v3electionpb.Election/Observe', '0001'],
      ['field 0 in a watch request', '/etcdserverpb.Watch/Watch', '0001'],
      ['field 0 in a watch create', '/etcdserverpb.Watch/Watch', '0a02 0001'],
      ['watch prev_kv packed', '/etcdserverpb.Watch/Watch', '0a07 0a0161 3202 0001'],
      ['watch filters as fixed32', '/etcdserverpb.Watch/Watch', '0a08 0a0161 2d00000000'],
      ['watch filters cut short', '/etcdserverpb.Watch/Watch', '0a07 0a0161 2a02 80'],
    ];
    it('refuses each with etcd status and message, without blocking', async () => {
      for (const [label, path, bytes] of undecodable) {
        const answer = await same(label, path, grpcFrame(hex(bytes)));
        expect(answer.status, label).toBe(13);
      }
    });

    it('ends a watch stream at an undecodable request that follows a good one', async () => {
      const good = WatchRequest.encode(
        WatchRequest.fromPartial({
          requestUnion: {
            $case: 'createRequest',
            value: {key: Buffer.from('malformed/w'), rangeEnd: Buffer.alloc(0)},
          },
        }),
      ).finish();
      const body = Buffer.concat([grpcFrame(good), grpcFrame(hex('0001'))]);
      const [etcd, synod] = await call('/etcdserverpb.Watch/Watch', body, undefined);
      // Whether etcd sends the first watch's "created" before the status is a race between
      // its send and receive loops; the status is what is compared.
      expect({...synod, responses: []}).toEqual({...etcd, responses: []});
      expect(etcd.status).toBe(13);
    });
  });

  describe('well-formed bytes a lenient reader might refuse', () => {
    const decodable: [string, string, string, ResponseType][] = [
      ['unknown groups', range, '0a0161 fb01 fb02 fc02 fc01', RangeResponse],
      [
        'unknown fields of every wire type',
        range,
        '0a0161 f801 05 fa01 0161 fd01 00000000',
        RangeResponse,
      ],
      ['a 10-byte varint', range, '0a0161 18 ffffffffffffffffff7f', RangeResponse],
      ['a tag whose field number wraps to 1', range, '8a 80 80 80 80 02 0161', RangeResponse],
      ['a lock on the empty name', '/v3lockpb.Lock/Lock', '', undefined],
    ];
    it('serves each as etcd does', async () => {
      await align(pair);
      for (const [label, path, bytes, responseType] of decodable) {
        const answer = await same(label, path, grpcFrame(hex(bytes)), responseType);
        expect(answer.status, label).toBe(0);
      }
    });
  });

  describe('watch filters, packed or one by one', () => {
    it('creates the watch as etcd does', async () => {
      await align(pair);
      const watch = '/etcdserverpb.Watch/Watch';
      const options = {timeoutMs: 500};
      await same('packed', watch, grpcFrame(hex('0a07 0a0161 2a02 0001')), WatchResponse, options);
      await same(
        'one by one',
        watch,
        grpcFrame(hex('0a07 0a0161 2800 2801')),
        WatchResponse,
        options,
      );
    });
  });

  describe('enum values out of range', () => {
    async function putBoth(key: string, value: string): Promise<void> {
      const bytes = PutRequest.encode(
        PutRequest.fromPartial({
          key: Buffer.from(key),
          value: Buffer.from(value),
        }),
      ).finish();
      await same(`put ${key}`, '/etcdserverpb.KV/Put', grpcFrame(bytes));
    }

    it('reads a range with sort order 99 unsorted, limit applied, as etcd 3.4 does', async () => {
      await align(pair);
      await putBoth('malformed/s/b', '1');
      await putBoth('malformed/s/a', '2');
      await putBoth('malformed/s/c', '0');
      const key = hex(Buffer.from('malformed/s/').toString('hex'));
      const end = hex(Buffer.from('malformed/s0').toString('hex'));
      const request = (extra: string) =>
        hex(`0a${key.length.toString(16).padStart(2, '0')}${key.toString('hex')}
             12${end.length.toString(16).padStart(2, '0')}${end.toString('hex')} ${extra}`);
      // sort_order (4) = 99; then with limit (3) = 2; then with sort_target (5) = VALUE.
      await same('order 99', range, grpcFrame(request('2063')), RangeResponse);
      await same('order 99, limit 2', range, grpcFrame(request('1802 2063')), RangeResponse);
      await same('order 99, target value', range, grpcFrame(request('2063 2804')), RangeResponse);
      await same('order 99, target 99', range, grpcFrame(request('2063 2863')), RangeResponse);
    });

    it('evaluates compares with result or target 99 as etcd 3.4 does', async () => {
      await align(pair);
      await putBoth('malformed/c', 'v');
      // Compare: result (1), target (2), key (3) and a target value; then one success range.
      const compares: [string, string][] = [
        ['result 99 on version', '0863 1000 1a0c6d616c666f726d65642f63 2005'],
        ['result 99 on value of a key', '0863 1003 1a0c6d616c666f726d65642f63 3a0176'],
        ['result 99 on value of no key', '0863 1003 1a0c6d616c666f726d65642f78 3a0176'],
        ['target 99 equal', '0800 1063 1a0c6d616c666f726d65642f63'],
        ['target 99 not equal', '0803 1063 1a0c6d616c666f726d65642f63'],
        ['target 99 greater', '0801 1063 1a0c6d616c666f726d65642f63'],
        ['target 99 result 99', '0863 1063 1a0c6d616c666f726d65642f63'],
      ];
      for (const [label, compare] of compares) {
        const c = hex(compare);
        const body = hex(`0a${c.length.toString(16).padStart(2, '0')}${c.toString('hex')}`);
        await same(label, '/etcdserverpb.KV/Txn', grpcFrame(body), TxnResponse);
      }
    });
  });

  describe('deep nesting', () => {
    // etcd decodes any depth and spends its op budget (128) down the levels: 129 levels of one
    // op each pass, 130 do not. ts-proto's decoders stopped at 100 messages (50 levels).
    it.each([60, 129, 130, 600])(
      'takes a txn nested %i levels deep as etcd 3.4 does',
      async depth => {
        let txn = TxnRequest.fromPartial({
          success: [{request: {$case: 'requestPut', value: {key: Buffer.from('malformed/deep')}}}],
        });
        for (let level = 1; level < depth; level++) {
          txn = TxnRequest.fromPartial({success: [{request: {$case: 'requestTxn', value: txn}}]});
        }
        await align(pair);
        await same(
          '150 levels',
          '/etcdserverpb.KV/Txn',
          grpcFrame(Buffer.from(TxnRequest.encode(txn).finish())),
          TxnResponse,
        );
      },
    );
  });

  describe('string fields with invalid UTF-8', () => {
    it('keeps two role names apart that differ only in invalid bytes', async () => {
      await same('role c0 80', '/etcdserverpb.Auth/RoleAdd', grpcFrame(hex('0a03c080ff')));
      await same('role fe fe', '/etcdserverpb.Auth/RoleAdd', grpcFrame(hex('0a03fefeff')));
      await same('role c0 80 again', '/etcdserverpb.Auth/RoleAdd', grpcFrame(hex('0a03c080ff')));
      await same('role get fe fe', '/etcdserverpb.Auth/RoleGet', grpcFrame(hex('0a03fefeff')));
      await same('role list', '/etcdserverpb.Auth/RoleList', grpcFrame(Buffer.alloc(0)));
      // A sequence cut short: Go's JSON has one U+FFFD per bad byte (two here, then `a`),
      // where a WHATWG decoder would give one for both.
      await same('role e2 82 61', '/etcdserverpb.Auth/RoleAdd', grpcFrame(hex('0a03e28261')));
      await sameHttp(pair, '/v3/auth/role/list', '{}');
    });
  });

  describe('a watch stream the client half-closes', () => {
    it('keeps delivering the events of the watches it created', async () => {
      await align(pair);
      const create = WatchRequest.encode(
        WatchRequest.fromPartial({
          requestUnion: {
            $case: 'createRequest',
            value: {key: Buffer.from('malformed/half'), rangeEnd: Buffer.alloc(0)},
          },
        }),
      ).finish();
      const watching = call('/etcdserverpb.Watch/Watch', grpcFrame(create), WatchResponse, {
        timeoutMs: 1500,
      });
      await new Promise(resolve => setTimeout(resolve, 500));
      const put = PutRequest.encode(
        PutRequest.fromPartial({
          key: Buffer.from('malformed/half'),
          value: Buffer.from('v'),
        }),
      ).finish();
      await same('put while half-closed', '/etcdserverpb.KV/Put', grpcFrame(put));
      const [etcd, synod] = await watching;
      expect(synod).toEqual(etcd);
      expect(etcd.timedOut).toBe(true);
      expect(etcd.responses).toHaveLength(2);
    });
  });

  describe('gRPC framing', () => {
    const key = hex('0a0161');

    // Synod reads gRPC frames itself (transport/grpc-server.ts), as grpc-go does: flags,
    // encodings, messages cut short, and unary calls answered from their first message.
    it('refuses a grpc-encoding it has no decompressor for, before reading', async () => {
      await same('gzip', range, grpcFrame(gzipSync(key), 1), undefined, {
        headers: {'grpc-encoding': 'gzip'},
      });
    });

    it('checks the length before the flag: unframed bytes are a message too large', async () => {
      await same('unframed', range, hex('f5ffffff0a0161'));
    });

    it('answers a server stream whose message is cut short INTERNAL "unexpected EOF"', async () => {
      await same('snapshot cut short', '/etcdserverpb.Maintenance/Snapshot', hex('0000000005'));
    });

    it('refuses a compressed flag of 2', async () => {
      await same('flag 2', range, grpcFrame(key, 2));
    });

    it('refuses a compressed flag of 1 without an encoding', async () => {
      await same('flag 1', range, grpcFrame(key, 1));
    });

    it('answers a message cut short UNKNOWN "unexpected EOF"', async () => {
      await same('cut short', range, Buffer.concat([hex('000000000a'), key]));
    });

    it('ends a watch stream whose last message is cut short', async () => {
      await same(
        'watch cut short',
        '/etcdserverpb.Watch/Watch',
        Buffer.concat([hex('000000000a'), key]),
        undefined,
        {timeoutMs: 500},
      );
    });

    it('answers a unary call from its first message and ignores a second', async () => {
      await same(
        'two messages',
        range,
        Buffer.concat([grpcFrame(key), grpcFrame(key)]),
        RangeResponse,
      );
    });

    it('answers a unary call with no message UNKNOWN "EOF"', async () => {
      await same('no message', range, Buffer.alloc(0));
    });

    it('answers a server-streaming call with no message UNKNOWN "EOF"', async () => {
      await same('no message', '/etcdserverpb.Maintenance/Snapshot', Buffer.alloc(0));
    });

    it('answers a unary call before the client half-closes', async () => {
      await same('kept open', range, grpcFrame(key), RangeResponse, {
        keepOpen: true,
        timeoutMs: 500,
      });
    });
  });

  describe('HTTP/2 request headers', () => {
    const key = grpcFrame(hex('0a0161'));
    /** Compares the answers, and makes sure etcd's is a served call. */
    async function servedAlike(label: string, path: string, options?: RawGrpcOptions) {
      const answer = await same(label, path, key, RangeResponse, options);
      expect(answer.status, label).toBe(0);
    }

    // Node's HTTP/2 layer (nghttp2, with its HTTP messaging checks on and no option to turn
    // them off) resets each of these streams with PROTOCOL_ERROR before any JavaScript sees
    // it; a bare Node http2 server does the same. etcd serves them on a plaintext port, where
    // grpc-go's own HTTP/2 server reads them. The client port reads such a connection through
    // its AuthorityRewriter, which gives nghttp2 headers it accepts.
    it('serves a :path without its leading slash', async () => {
      await servedAlike('no slash', 'etcdserverpb.KV/Range');
    });

    it('serves a request without :scheme, or with a :scheme nghttp2 refuses', async () => {
      await servedAlike('no scheme', range, {headers: {':scheme': null}});
      for (const scheme of ['', '1a', 'a b']) {
        await servedAlike(`scheme ${scheme}`, range, {headers: {':scheme': scheme}});
      }
    });

    it('serves a request without :authority, and one with host instead', async () => {
      await servedAlike('no authority', range, {headers: {':authority': null}});
      await servedAlike('host', range, {headers: {':authority': null, host: 'h'}});
    });

    it('serves a request with none of the three', async () => {
      await servedAlike('none', 'etcdserverpb.KV/Range', {
        headers: {':scheme': null, ':authority': null},
      });
    });

    it('serves an empty :authority', async () => {
      await servedAlike('empty authority', range, {headers: {':authority': ''}});
    });

    it('refuses a malformed method name RESOURCE_EXHAUSTED, as grpc-go 1.26 does', async () => {
      await same('malformed', '/foo', key);
    });

    it('names a malformed method without its slash as sent', async () => {
      await same('malformed', 'foo', key);
    });

    // etcd serves gRPC on a TLS port through Go's net/http HTTP/2 server, which checks more
    // than grpc-go's: it resets a :path without its slash, a missing :scheme and one other
    // than http and https, as nghttp2 does (or, for `foo`, is made to).
    describe.skipIf(opensslSkipReason !== undefined)('on a TLS port', () => {
      let pki: TestPki;
      let tlsPair: Pair;
      let tls: RawGrpcOptions['tls'];

      beforeAll(async () => {
        pki = makeTestPki();
        const root = pki.client('root');
        tlsPair = await startPair(mutualTlsOptions(pki), {ca: pki.ca, ...root});
        tls = {
          ca: readFileSync(pki.ca),
          cert: readFileSync(root.cert),
          key: readFileSync(root.key),
        };
      });

      afterAll(async () => {
        await tlsPair.stop();
        pki.remove();
      });

      async function sameOverTls(
        label: string,
        path: string,
        headers: RawGrpcOptions['headers'],
      ): Promise<Answer> {
        const [etcd, synod] = await Promise.all(
          tlsPair.sides.map(async side =>
            answerOf(
              side,
              await rawGrpcCall(side.address, path, key, {headers, tls}),
              RangeResponse,
            ),
          ),
        );
        expect(synod, label).toEqual(etcd);
        return etcd as Answer;
      }

      it('resets what Go’s HTTP/2 server resets', async () => {
        for (const [label, path, headers] of [
          ['no slash', 'etcdserverpb.KV/Range', {}],
          ['no scheme', range, {':scheme': null}],
          ['scheme foo', range, {':scheme': 'foo'}],
          ['scheme HTTP', range, {':scheme': 'HTTP'}],
          ['empty scheme', range, {':scheme': ''}],
        ] as const) {
          const answer = await sameOverTls(label, path, headers);
          expect(answer.resetCode, label).toBe(1);
        }
      });

      it('serves any :authority, or none, as Go’s HTTP/2 server does', async () => {
        for (const [label, headers] of [
          ['no authority', {':authority': null}],
          ['empty authority', {':authority': ''}],
          ['URL authority', {':authority': 'https://127.0.0.1:2379'}],
          ['scheme http', {':scheme': 'http'}],
        ] as const) {
          const answer = await sameOverTls(label, range, headers);
          expect(answer.status, label).toBe(0);
        }
      });
    });
  });
});
