import {readFileSync} from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';

import {etcdSkipReason, makeTestPki, mutualTlsOptions, opensslSkipReason} from '@synod/testing';
import type {TestPki} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {
  b64,
  http2Post,
  httpOutcome,
  reportedId,
  request,
  sameHttp,
  tlsFilesOf,
  tokenOf,
} from './gateway-harness.js';
import type {HttpOutcome} from './gateway-harness.js';
import type {Pair, Side} from './harness.js';
import {startPair} from './harness.js';

describe.skipIf(etcdSkipReason !== undefined)(
  'the HTTP/JSON gateway, side by side with etcd',
  () => {
    let pair: Pair;

    beforeAll(async () => {
      pair = await startPair();
    }, 60_000);

    afterAll(async () => {
      await pair.stop();
    });

    it('puts, gets and ranges with every option', async () => {
      for (const [k, v] of [
        ['gw/a', '1'],
        ['gw/b', '22'],
        ['gw/c', '333'],
        ['gw/a', '4444'],
      ] as const) {
        await sameHttp(pair, '/v3/kv/put', JSON.stringify({key: b64(k), value: b64(v)}));
      }
      await sameHttp(
        pair,
        '/v3/kv/put',
        JSON.stringify({key: b64('gw/a'), value: b64('5'), prev_kv: true}),
      );
      const range = (extra: Record<string, unknown>) =>
        sameHttp(
          pair,
          '/v3/kv/range',
          JSON.stringify({key: b64('gw/'), range_end: b64('gw0'), ...extra}),
        );
      await range({});
      await range({limit: 2});
      await range({limit: '1', sort_order: 'DESCEND', sort_target: 'VALUE'});
      await range({sortOrder: 1, sortTarget: 'MOD'});
      await range({keys_only: true});
      await range({count_only: true});
      await range({revision: 2});
      await range({min_mod_revision: '3', max_create_revision: 4});
      await range({serializable: true});
      await sameHttp(pair, '/v3/kv/range', JSON.stringify({key: b64('missing')}));
      await sameHttp(pair, '/v3/kv/range', JSON.stringify({key: 'AA==', range_end: 'AA=='}));
    });

    it('deletes and compacts, with etcd errors', async () => {
      await sameHttp(pair, '/v3/kv/deleterange', JSON.stringify({key: b64('gw/b'), prev_kv: true}));
      await sameHttp(pair, '/v3/kv/deleterange', JSON.stringify({key: b64('nothing')}));
      await sameHttp(pair, '/v3/kv/deleterange', '{}');
      await sameHttp(pair, '/v3/kv/compaction', JSON.stringify({revision: 100_000}));
      await sameHttp(pair, '/v3/kv/compaction', JSON.stringify({revision: 3, physical: true}));
      await sameHttp(pair, '/v3/kv/range', JSON.stringify({key: b64('gw/a'), revision: 2}));
      await sameHttp(pair, '/v3/kv/put', JSON.stringify({value: b64('x')}));
    });

    it('runs transactions', async () => {
      const txn = {
        compare: [{key: b64('gw/a'), result: 'EQUAL', target: 'VALUE', value: b64('5')}],
        success: [
          {request_put: {key: b64('gw/t'), value: b64('yes')}},
          {request_range: {key: b64('gw/a')}},
          {requestDeleteRange: {key: b64('gw/c')}},
        ],
        failure: [{request_put: {key: b64('gw/t'), value: b64('no')}}],
      };
      await sameHttp(pair, '/v3/kv/txn', JSON.stringify(txn));
      await sameHttp(pair, '/v3/kv/txn', JSON.stringify(txn));
      await sameHttp(
        pair,
        '/v3/kv/txn',
        JSON.stringify({
          compare: [{key: b64('gw/t'), target: 'VERSION', result: 'GREATER', version: '0'}],
          success: [{request_txn: {success: [{request_range: {key: b64('gw/t')}}]}}],
        }),
      );
      await sameHttp(
        pair,
        '/v3/kv/txn',
        JSON.stringify({
          compare: [{key: b64('gw/t'), target: 'CREATE', result: 'LESS', create_revision: 0}],
        }),
      );
      await sameHttp(
        pair,
        '/v3/kv/txn',
        JSON.stringify({
          success: [{request_put: {key: b64('gw/d')}}, {request_put: {key: b64('gw/d')}}],
        }),
      );
    });

    it('refuses malformed bodies as etcd does', async () => {
      const bodies = [
        '{bad',
        '{"key":',
        '{"key":"Zm9v"',
        '[]',
        '"text"',
        '17',
        'null',
        '',
        '   ',
        '{"key":"Zm9v"} trailing',
        '{"key":"Zm9v","keys_only":"yes"}',
        '{"key":"Zm9v","keys_only":1}',
        '{"key":"Zm9v","keys_only":null}',
        '{"key":"Zm9v=="}',
        '{"key":"Zm9vYg"}',
        '{"key":"Zm9v_-"}',
        '{"key":"Zm9vYg="}',
        '{"key":"Zm=v"}',
        '{"key":"Zm9vYg==Zm9v"}',
        '{"key":"Zm9v\\nYmE="}',
        '{"key":"!!"}',
        '{"key":17}',
        '{"key":["a"]}',
        '{"key":[102,111,111]}',
        '{"key":null}',
        '{"key":"Zm9v","limit":"99999999999999999999"}',
        '{"key":"Zm9v","limit":9223372036854775807}',
        '{"key":"Zm9v","limit":-9223372036854775809}',
        '{"key":"Zm9v","limit":1.5}',
        '{"key":"Zm9v","limit":1e3}',
        '{"key":"Zm9v","limit":"abc"}',
        '{"key":"Zm9v","limit":"12a"}',
        '{"key":"Zm9v","limit":""}',
        '{"key":"Zm9v","limit":true}',
        '{"key":"Zm9v","limit":{}}',
        '{"key":"Zm9v","sort_order":"NOPE"}',
        '{"key":"Zm9v","sort_order":"descend"}',
        '{"key":"Zm9v","sort_order":7}',
        '{"key":"Zm9v","sort_order":-1}',
        '{"key":"Zm9v","sort_order":4294967296}',
        '{"key":"Zm9v","sort_order":true}',
        '{"key":"Zm9v","bogus":1,"also":{"x":[1,2]}}',
        '{"key":"Zm9v","key":"YQ=="}',
        '{"key":"YQ==","rangeEnd":"Yg==","range_end":"eg=="}',
        '{"key":"Zm9v","limit":01}',
        '{"key":"Zm9v","limit":-}',
        '{"key":"Zm9v","limit":1.}',
        '{"key":"Zm9v","limit":1e}',
        '{"key":"Zm9v" "limit":1}',
        '{"key":"Zm9v",}',
        '{"key":tru}',
        '{"key":"a\\qb"}',
        '{"key":"a\\u12G4"}',
        "{'key':1}",
        '{"key":"\t"}',
      ];
      for (const body of bodies) await sameHttp(pair, '/v3/kv/range', body);
      await sameHttp(pair, '/v3/kv/txn', '{"compare":{}}');
      await sameHttp(pair, '/v3/kv/txn', '{"compare":[1]}');
      await sameHttp(pair, '/v3/kv/txn', '{"success":[{"request_put":[]}]}');
      await sameHttp(pair, '/v3/kv/txn', '{"success":[{"request_put":null}]}');
      await sameHttp(pair, '/v3/kv/put', '{"key":"Zm9v","lease":"x"}');
      await sameHttp(pair, '/v3/lease/grant', '{"TTL":"x1","ID":-5}');
      await sameHttp(pair, '/v3/auth/user/add', '{"name":5}');
    });

    it('answers unknown paths and methods as etcd does', async () => {
      await sameHttp(pair, '/v3/kv/nothing', '{}');
      await sameHttp(pair, '/v3/', '{}');
      await sameHttp(pair, '/v3/kv/range', undefined, {method: 'GET'});
      await sameHttp(pair, '/v3/kv/range', '{}', {method: 'PUT'});
      await sameHttp(pair, '/v3/kv/range', undefined, {method: 'OPTIONS'});
      await sameHttp(pair, '/v3beta/kv/range', JSON.stringify({key: b64('gw/a')}));
      await sameHttp(pair, '/nothing', undefined, {method: 'GET'});
      await sameHttp(pair, '/nothing', '{}');
      await sameHttp(pair, '/nothing', undefined, {method: 'OPTIONS'});
    });

    it('answers /version, /health and /metrics with any method as etcd does, CORS headers included', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
        await sameHttp(pair, '/version', undefined, {method});
        await sameHttp(pair, '/health', undefined, {method});
      }
      // Prometheus' handler answers any method; the figures themselves differ.
      const [e, s] = await Promise.all(
        pair.sides.map(side => httpOutcome(side, '/metrics', '{}', {method: 'POST'})),
      );
      expect(s?.status).toBe(200);
      expect({status: s?.status, headers: s?.headers}).toEqual({
        status: e?.status,
        headers: e?.headers,
      });
    });

    it('grants, lists, renews and revokes leases, also under /v3/kv/lease', async () => {
      await sameHttp(pair, '/v3/lease/grant', JSON.stringify({TTL: 60}));
      await sameHttp(pair, '/v3/lease/grant', JSON.stringify({TTL: '120', ID: 0}));
      const lease0 = (side: Side) => reportedId(side, 0);
      const leaseOf = (side: Side, n: number) => {
        // ids 0 and 1 are the members' (header member_id is dropped; `leader` is not reported
        // here), so the leases are the first ids the side reported.
        return reportedId(side, n);
      };
      await sameHttp(pair, '/v3/kv/put', side =>
        JSON.stringify({key: b64('gw/leased'), value: b64('x'), lease: leaseOf(side, 0)}),
      );
      await sameHttp(pair, '/v3/lease/timetolive', side =>
        JSON.stringify({ID: lease0(side), keys: true}),
      );
      await sameHttp(pair, '/v3/kv/lease/timetolive', side => JSON.stringify({ID: lease0(side)}));
      await sameHttp(pair, '/v3/lease/leases', '{}');
      await sameHttp(pair, '/v3/kv/lease/leases', '{}');
      await sameHttp(pair, '/v3/lease/keepalive', side => JSON.stringify({ID: lease0(side)}));
      await sameHttp(pair, '/v3/lease/keepalive', '{"ID":"123"}');
      await sameHttp(pair, '/v3/lease/keepalive', '{bad');
      await sameHttp(pair, '/v3/lease/revoke', side => JSON.stringify({ID: lease0(side)}));
      await sameHttp(pair, '/v3/kv/lease/revoke', side => JSON.stringify({ID: lease0(side)}));
      await sameHttp(pair, '/v3/lease/timetolive', '{"ID":"999"}');
      await sameHttp(pair, '/v3/kv/range', JSON.stringify({key: b64('gw/leased')}));
      await sameHttp(pair, '/v3/lease/grant', JSON.stringify({TTL: 60, ID: 77}));
      await sameHttp(pair, '/v3/lease/grant', JSON.stringify({TTL: 60, ID: 77}));
    });

    it('watches: created, events, cancel and errors, one result per line', async () => {
      /** Opens a watch, sends `body` and keeps the request open, runs `writes`, then hangs up. */
      const watch = (side: Side, body: string, writes: () => Promise<void>) => {
        const [host, port] = side.address.split(':');
        return new Promise<string>((resolve, reject) => {
          let text = '';
          let status = 0;
          const req = http.request(
            {host, port: Number(port), path: '/v3/watch', method: 'POST', agent: false},
            res => {
              status = res.statusCode ?? 0;
              res.on('data', (chunk: Buffer) => {
                text += chunk.toString();
              });
              res.on('error', () => undefined);
            },
          );
          req.on('error', error => {
            if (status === 0) reject(error);
          });
          req.write(body);
          // The body stays open: the watch is a stream of requests.
          void writes().then(() =>
            setTimeout(() => {
              resolve(`${status} ${text}`);
              req.destroy();
            }, 300),
          );
        });
      };
      const run = (body: string, keys: string[]) =>
        Promise.all(
          pair.sides.map(side =>
            watch(side, body, async () => {
              await new Promise(resolve => setTimeout(resolve, 200));
              for (const key of keys) {
                await request(side, '/v3/kv/put', JSON.stringify({key: b64(key), value: b64('w')}));
              }
            }),
          ),
        );
      const compare = async (body: string, keys: string[]) => {
        const [e, s] = await run(body, keys);
        const norm = (text: string) =>
          text.replace(/"(cluster_id|member_id|raft_term)":"\d+",?/g, '').replace(/,}/g, '}');
        expect(norm(s ?? ''), body).toEqual(norm(e ?? ''));
      };
      await compare(JSON.stringify({create_request: {key: b64('gw/w1')}}), ['gw/w1', 'gw/w2']);
      await compare(
        JSON.stringify({create_request: {key: b64('gw/w'), range_end: b64('gw/x'), prev_kv: true}}),
        ['gw/w1', 'gw/w2'],
      );
      await compare(
        JSON.stringify({create_request: {key: b64('gw/w1'), filters: ['NOPUT']}}) +
          JSON.stringify({create_request: {key: b64('gw/w2'), watch_id: 7}}),
        ['gw/w1', 'gw/w2'],
      );
      await compare(
        JSON.stringify({create_request: {key: b64('gw/w1')}}) +
          JSON.stringify({cancel_request: {watch_id: 0}}),
        ['gw/w1'],
      );
      await compare(JSON.stringify({create_request: {key: b64('gw/w1'), start_revision: 1}}), []);
      await compare('{"create_request":{"key":"!!"}}', []);
      await compare('{bad', []);
    });

    it('serves members, status, alarms and hashes', async () => {
      const [etcdMembers, synodMembers] = await Promise.all(
        pair.sides.map(side => httpOutcome(side, '/v3/cluster/member/list', '{}')),
      );
      // Names and ports differ; the shape (fields, their order, one member) must not.
      const shape = (outcome: HttpOutcome | undefined) =>
        JSON.stringify(outcome?.body).replace(/"(\d+|http:[^"]*|[a-z0-9-]+)"/g, '_');
      expect(shape(synodMembers)).toEqual(shape(etcdMembers));
      const [etcdStatus, synodStatus] = await Promise.all(
        pair.sides.map(side => httpOutcome(side, '/v3/maintenance/status', '{}')),
      );
      const fields = (outcome: HttpOutcome | undefined) =>
        (outcome?.body as [string, unknown][]).map(([k]) => k).filter(k => k !== 'dbSizeQuota');
      // etcd 3.4 has no dbSizeQuota yet (3.5 adds it).
      expect(fields(synodStatus)).toEqual(fields(etcdStatus));
      await sameHttp(pair, '/v3/maintenance/alarm', '{}');
      await sameHttp(pair, '/v3/maintenance/alarm', '{"action":"GET"}');
      await sameHttp(pair, '/v3/maintenance/defragment', '{}');
      await sameHttp(pair, '/v3/cluster/member/remove', '{"ID":"12345"}');
      await sameHttp(pair, '/v3/cluster/member/promote', '{"ID":"12345"}');
      await sameHttp(pair, '/v3/maintenance/transfer-leadership', '{"targetID":"12345"}');
      // Hash is of the backend's file, which differs between the two stores: its shape only.
      const hashes = await Promise.all(
        pair.sides.map(side => httpOutcome(side, '/v3/maintenance/hash', '{}')),
      );
      expect(hashes.map(fields)).toEqual([
        ['header', 'hash'],
        ['header', 'hash'],
      ]);
      // etcd 3.4 serves HashKV on no path of its own (3.5: /v3/maintenance/hashkv).
      const hashKv = await httpOutcome(
        pair.synod,
        '/v3/maintenance/hashkv',
        '{"revision":"100000"}',
      );
      expect(hashKv.body).toEqual([
        ['error', 'etcdserver: mvcc: required revision is a future revision'],
        ['message', 'etcdserver: mvcc: required revision is a future revision'],
        ['code', 11],
      ]);
    });

    it('authenticates with the Authorization header, Bearer or not, and Grpc-Metadata-Token', async () => {
      await sameHttp(pair, '/v3/auth/user/add', '{"name":"root","password":"rootpw"}');
      await sameHttp(pair, '/v3/auth/user/add', '{"name":"root","password":"rootpw"}');
      await sameHttp(pair, '/v3/auth/role/add', '{"name":"root"}');
      await sameHttp(pair, '/v3/auth/user/grant', '{"user":"root","role":"root"}');
      await sameHttp(pair, '/v3/auth/user/add', '{"name":"reader","password":"pw"}');
      await sameHttp(pair, '/v3/auth/role/add', '{"name":"gwread"}');
      await sameHttp(
        pair,
        '/v3/auth/role/grant',
        JSON.stringify({
          name: 'gwread',
          perm: {permType: 'READ', key: b64('gw/'), range_end: b64('gw0')},
        }),
      );
      await sameHttp(pair, '/v3/auth/user/grant', '{"user":"reader","role":"gwread"}');
      await sameHttp(pair, '/v3/auth/role/get', '{"role":"gwread"}');
      await sameHttp(pair, '/v3/auth/user/get', '{"name":"reader"}');
      await sameHttp(pair, '/v3/auth/user/list', '{}');
      await sameHttp(pair, '/v3/auth/role/list', '{}');
      await sameHttp(pair, '/v3/auth/enable', '{}');
      try {
        await sameHttp(pair, '/v3/auth/authenticate', '{"name":"reader","password":"wrong"}');
        const tokens = await Promise.all(pair.sides.map(side => tokenOf(side, 'reader', 'pw')));
        const tokenFor = (side: Side) => tokens[side.name === 'etcd' ? 0 : 1] ?? '';
        const read = JSON.stringify({key: b64('gw/a')});
        await sameHttp(pair, '/v3/kv/range', read);
        await sameHttp(pair, '/v3/kv/range', read, side => ({
          headers: {authorization: tokenFor(side)},
        }));
        await sameHttp(pair, '/v3/kv/range', read, side => ({
          headers: {'grpc-metadata-token': tokenFor(side)},
        }));
        await sameHttp(
          pair,
          '/v3/kv/put',
          JSON.stringify({key: b64('gw/a'), value: 'eA=='}),
          side => ({
            headers: {authorization: tokenFor(side)},
          }),
        );
        await sameHttp(pair, '/v3/kv/range', read, {headers: {authorization: 'not-a-token'}});
        // Errors of streaming calls: a snapshot needs root, a keep-alive a valid token.
        await sameHttp(pair, '/v3/maintenance/snapshot', '{}', side => ({
          headers: {authorization: tokenFor(side)},
        }));
        await sameHttp(pair, '/v3/lease/keepalive', '{"ID":"1"}', {
          headers: {authorization: 'not-a-token'},
        });
        const bearer = await httpOutcome(pair.synod, '/v3/kv/range', read, {
          headers: {authorization: `Bearer ${tokenFor(pair.synod)}`},
        });
        expect(bearer.status).toBe(200);
      } finally {
        await Promise.all(
          pair.sides.map(async side => {
            const answer = await request(
              side,
              '/v3/auth/authenticate',
              '{"name":"root","password":"rootpw"}',
            );
            const {token} = JSON.parse(answer.text) as {token: string};
            await request(side, '/v3/auth/disable', '{}', {headers: {authorization: token}});
          }),
        );
      }
      await sameHttp(pair, '/v3/auth/user/delete', '{"name":"reader"}');
      await sameHttp(pair, '/v3/auth/role/delete', '{"role":"gwread"}');
    });

    it('locks and elects', async () => {
      await sameHttp(pair, '/v3/lease/grant', JSON.stringify({TTL: 60, ID: 4242}));
      await sameHttp(pair, '/v3/lock/lock', JSON.stringify({name: b64('gw-lock'), lease: 4242}));
      await sameHttp(pair, '/v3/election/leader', JSON.stringify({name: b64('gw-election')}));
      await sameHttp(
        pair,
        '/v3/election/campaign',
        JSON.stringify({name: b64('gw-election'), lease: 4242, value: b64('me')}),
      );
      await sameHttp(pair, '/v3/election/leader', JSON.stringify({name: b64('gw-election')}));
      await sameHttp(pair, '/v3/lock/unlock', '{}');
      await sameHttp(pair, '/v3/lease/revoke', '{"ID":4242}');
    });

    it('refuses a request larger than the limit', async () => {
      const big = JSON.stringify({
        key: b64('gw/big'),
        value: Buffer.alloc(3_000_000, 1).toString('base64'),
      });
      await sameHttp(pair, '/v3/kv/put', big);
      const large = JSON.stringify({
        key: b64('gw/big'),
        value: Buffer.alloc(1_600_000, 1).toString('base64'),
      });
      await sameHttp(pair, '/v3/kv/put', large);
    });
  },
);

describe.skipIf(etcdSkipReason !== undefined)('gateway tokens that expire, beside etcd', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair({extraArgs: ['--auth-token-ttl=1']});
  }, 60_000);

  afterAll(async () => {
    await pair.stop();
  });

  it('refuses an expired simple token as etcd does', async () => {
    await sameHttp(pair, '/v3/auth/user/add', '{"name":"root","password":"rootpw"}');
    await sameHttp(pair, '/v3/auth/user/grant', '{"user":"root","role":"root"}');
    await sameHttp(pair, '/v3/auth/enable', '{}');
    const tokens = await Promise.all(pair.sides.map(side => tokenOf(side, 'root', 'rootpw')));
    const withToken = (side: Side) => ({
      headers: {authorization: tokens[side.name === 'etcd' ? 0 : 1] ?? ''},
    });
    const read = JSON.stringify({key: b64('gw/a')});
    await sameHttp(pair, '/v3/kv/range', read, withToken);
    // A simple token lives --auth-token-ttl seconds after its last use.
    await new Promise(resolve => setTimeout(resolve, 3_000));
    await sameHttp(pair, '/v3/kv/range', read, withToken);
  }, 30_000);
});

describe.skipIf((etcdSkipReason ?? opensslSkipReason) !== undefined)(
  'the gateway on a TLS port, beside etcd',
  () => {
    let pki: TestPki;
    let pair: Pair;

    beforeAll(async () => {
      pki = makeTestPki();
      const root = pki.client('root');
      pair = await startPair(mutualTlsOptions(pki), {ca: pki.ca, cert: root.cert, key: root.key});
    }, 60_000);

    afterAll(async () => {
      await pair.stop();
      pki.remove();
    });

    it('answers over HTTPS as etcd does', async () => {
      await sameHttp(pair, '/v3/kv/put', JSON.stringify({key: b64('tls/a'), value: b64('1')}));
      await sameHttp(pair, '/v3/kv/range', JSON.stringify({key: b64('tls/a')}));
      await sameHttp(pair, '/v3/kv/range', '{bad');
    });

    it('answers over HTTP/2 when the client negotiates it, as etcd does', async () => {
      const [e, s] = await Promise.all(
        pair.sides.map(async side => {
          const files = tlsFilesOf(side);
          if (files === undefined) throw new Error('a TLS pair without files');
          const session = http2.connect(`https://${side.address}`, {
            ca: readFileSync(files.ca),
            cert: readFileSync(files.cert),
            key: readFileSync(files.key),
          });
          try {
            return await http2Post(session, '/v3/kv/range', JSON.stringify({key: b64('tls/a')}));
          } finally {
            session.close();
          }
        }),
      );
      const kvs = (answer: {text: string} | undefined) =>
        (JSON.parse(answer?.text ?? '{}') as {kvs?: unknown}).kvs;
      expect(s?.status).toBe(e?.status);
      expect(kvs(s)).toEqual(kvs(e));
    });
  },
);
