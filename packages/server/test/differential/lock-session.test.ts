import {ElectionDefinition, LockDefinition} from '@synod/proto';
import {etcdSkipReason} from '@synod/testing';
import {createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {b, outcome, startPair} from './harness.js';

/**
 * etcd serves Lock and Campaign through a client session: a request without a lease gets a
 * lease of 60 s of its own that nobody keeps alive, and the errors of the session's calls
 * reach the caller as gRPC status UNKNOWN. What is compared: status and message, and for
 * a granted lock or leadership the key's shape (`name/<lease in hex>`) and its lease's TTL.
 */
describe.skipIf(etcdSkipReason !== undefined)(
  'Lock and Campaign sessions, etcd and Synod side by side',
  () => {
    let pair: Pair;

    beforeAll(async () => {
      pair = await startPair();
    });

    afterAll(async () => {
      await pair.stop();
    });

    const locks = (s: Side) => createClient(LockDefinition, s.channel);
    const elections = (s: Side) => createClient(ElectionDefinition, s.channel);

    /** What a key named by a lease tells: its prefix, and the TTL of the lease in its name. */
    async function session(
      s: Side,
      key: Buffer,
    ): Promise<{prefix: string; granted: bigint; alive: boolean}> {
      const text = key.toString();
      const slash = text.lastIndexOf('/');
      const lease = BigInt(`0x${text.slice(slash + 1)}`);
      const ttl = await s.lease.leaseTimeToLive({ID: lease, keys: false});
      return {prefix: text.slice(0, slash), granted: ttl.grantedTTL, alive: ttl.TTL > 50n};
    }

    it('locks without a lease under a new 60 s lease of its own', async () => {
      const results = await Promise.all(
        pair.sides.map(async s =>
          session(s, (await locks(s).lock({name: b('sess-lock'), lease: 0n})).key),
        ),
      );
      expect(results[1]).toEqual(results[0]);
      expect(results[0]).toEqual({prefix: 'sess-lock', granted: 60n, alive: true});
    });

    it('campaigns without a lease under a new 60 s lease of its own', async () => {
      const results = await Promise.all(
        pair.sides.map(async s => {
          const {leader} = await elections(s).campaign({
            name: b('sess-elect'),
            lease: 0n,
            value: b('me'),
          });
          return {
            ...(await session(s, leader?.key ?? Buffer.alloc(0))),
            leaseInAnswer: (leader?.lease ?? 0n) !== 0n,
          };
        }),
      );
      expect(results[1]).toEqual(results[0]);
    });

    it('refuses a lease that does not exist with status UNKNOWN, as etcd does', async () => {
      const missing = 0x7ead_beefn;
      const [e, s] = await Promise.all(
        pair.sides.map(side =>
          outcome(side, () => locks(side).lock({name: b('sess-missing'), lease: missing})),
        ),
      );
      expect(s).toEqual(e);
      const [ce, cs] = await Promise.all(
        pair.sides.map(side =>
          outcome(side, () =>
            elections(side).campaign({name: b('sess-missing'), lease: missing, value: b('x')}),
          ),
        ),
      );
      expect(cs).toEqual(ce);
      expect(e).toEqual({
        error: {code: 'UNKNOWN', details: 'etcdserver: requested lease not found'},
      });
    });

    it('answers a refused Unlock, Proclaim and Resign with status UNKNOWN, as etcd does', async () => {
      const emptyLeader = {name: b('sess-empty'), key: Buffer.alloc(0), rev: 1n, lease: 0n};
      const calls: [string, (s: Side) => Promise<unknown>][] = [
        ['unlock', s => locks(s).unlock({key: Buffer.alloc(0)})],
        ['resign', s => elections(s).resign({leader: emptyLeader})],
        ['proclaim', s => elections(s).proclaim({leader: emptyLeader, value: b('x')})],
      ];
      for (const [label, call] of calls) {
        const [e, s] = await Promise.all(pair.sides.map(side => outcome(side, () => call(side))));
        expect(s, label).toEqual(e);
      }
    });
  },
);
