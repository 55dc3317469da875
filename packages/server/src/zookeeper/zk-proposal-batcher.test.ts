import {setImmediate as nextTurn} from 'node:timers/promises';

import type {ZkOp} from '@synod/proto/synodpb';
import {ZkRequest} from '@synod/proto/synodpb';
import {describe, expect, it} from 'vitest';

import type {ZkProposal, ZkProposed} from './zk-member.js';
import {ZkProposalBatcher, encodedBytesAtMost} from './zk-proposal-batcher.js';

const setData = (path: string, bytes: number): ZkProposal => ({
  sessionId: 1n,
  timeMs: 0n,
  request: {
    $case: 'txn',
    value: {
      ops: [
        {
          op: {
            $case: 'setData',
            value: {path, data: Buffer.alloc(bytes), version: -1, dataNull: false},
          },
        },
      ],
      multi: false,
    },
  },
  auth: [{scheme: 'ip', id: '127.0.0.1'}],
});

const pathOf = (r: ZkProposal): string => {
  const op: ZkOp | undefined = r.request?.$case === 'txn' ? r.request.value.ops[0] : undefined;
  return op?.op?.value.path ?? '?';
};

/**
 * A batcher over Node's own check phase whose proposals are recorded: each batch is the list
 * of its requests' paths, and each request comes back as a txn whose zxid is its place in the
 * order of all requests proposed.
 */
function recordingBatcher(limits: {requests?: number; bytes?: number} = {}) {
  const batches: string[][] = [];
  let proposed = 0;
  let failNext: Error | undefined;
  const batcher = new ZkProposalBatcher(
    requests => {
      batches.push(requests.map(pathOf));
      const error = failNext;
      failNext = undefined;
      if (error !== undefined) return Promise.reject(error);
      return Promise.resolve(
        requests.map((): ZkProposed => ({kind: 'txn', results: [], zxid: ++proposed})),
      );
    },
    {
      soon: fn => setImmediate(fn),
      maxBatchRequests: limits.requests ?? 100,
      maxBatchBytes: limits.bytes ?? 64 * 1024,
    },
  );
  return {
    batcher,
    batches,
    failNextBatch: (error: Error) => {
      failNext = error;
    },
  };
}

describe('ZkProposalBatcher', () => {
  it("proposes one turn's requests as one batch, in order, and answers each with its own outcome", async () => {
    const {batcher, batches} = recordingBatcher();
    const first = ['/a', '/b', '/c'].map(p => batcher.propose(setData(p, 10)));
    expect(batches).toEqual([]);
    await nextTurn();
    const second = batcher.propose(setData('/d', 10));
    expect((await Promise.all(first)).map(r => r.zxid)).toEqual([1, 2, 3]);
    expect((await second).zxid).toBe(4);
    expect(batches).toEqual([['/a', '/b', '/c'], ['/d']]);
  });

  it('starts a new batch at the request or byte limit, keeping the order', async () => {
    const byCount = recordingBatcher({requests: 2});
    const counted = ['/a', '/b', '/c', '/d', '/e'].map(p => byCount.batcher.propose(setData(p, 1)));
    await Promise.all(counted);
    expect(byCount.batches).toEqual([['/a', '/b'], ['/c', '/d'], ['/e']]);

    const one = encodedBytesAtMost(setData('/a', 1000));
    const bySize = recordingBatcher({bytes: 2 * one + 1});
    const sized = ['/a', '/b', '/c'].map(p => bySize.batcher.propose(setData(p, 1000)));
    expect((await Promise.all(sized)).map(r => r.zxid)).toEqual([1, 2, 3]);
    expect(bySize.batches).toEqual([['/a', '/b'], ['/c']]);
  });

  it('proposes a request too big to share an entry alone, after those queued before it', async () => {
    const {batcher, batches} = recordingBatcher({bytes: 4096});
    const small = batcher.propose(setData('/small', 10));
    const big = batcher.propose(setData('/big', 8192));
    const after = batcher.propose(setData('/after', 10));
    expect((await Promise.all([small, big, after])).map(r => r.zxid)).toEqual([1, 2, 3]);
    expect(batches).toEqual([['/small'], ['/big'], ['/after']]);
  });

  it('fails every request of a batch whose proposal fails, and only those', async () => {
    const {batcher, failNextBatch} = recordingBatcher();
    failNextBatch(new Error('etcdserver: no leader'));
    const failed = [batcher.propose(setData('/a', 1)), batcher.propose(setData('/b', 1))].map(p =>
      p.then(
        () => 'applied',
        (error: unknown) => String(error),
      ),
    );
    await nextTurn();
    const next = batcher.propose(setData('/c', 1));
    expect(await Promise.all(failed)).toEqual([
      'Error: etcdserver: no leader',
      'Error: etcdserver: no leader',
    ]);
    expect((await next).zxid).toBe(1);
  });

  it("counts a request at no less than its share of a batch's encoding", () => {
    const acl = [{perms: 31, scheme: 'digest', id: 'alice:aGFzaA=='}];
    const requests: ZkProposal[] = [
      setData('/zk-bench/é-path', 256),
      {
        ...setData('/x', 0),
        request: {
          $case: 'txn',
          value: {
            multi: true,
            ops: [
              {
                op: {
                  $case: 'create',
                  value: {
                    path: '/ünï/ç',
                    data: Buffer.alloc(3000),
                    acl,
                    mode: 3,
                    ttlMs: 2n ** 40n,
                    opcode: 21,
                    dataNull: false,
                  },
                },
              },
              {
                op: {
                  $case: 'setAcl',
                  value: {path: '/a', acl: [...acl, ...acl], version: 2 ** 31 - 1},
                },
              },
              {op: {$case: 'delete', value: {path: '/a/b', version: -1}}},
              {op: {$case: 'check', value: {path: '/a', version: -1}}},
            ],
          },
        },
        auth: [
          {scheme: 'digest', id: 'alice:aGFzaA=='},
          {scheme: 'x509', id: 'CN=ü'},
        ],
      },
    ];
    for (const r of requests) {
      const widest = {
        ...r,
        sessionId: -1n,
        timeMs: -1n,
        memberId: 2n ** 64n - 1n,
        connectionId: 2n ** 64n - 1n,
        seq: 2 ** 32 - 1,
      };
      // The element's own tag and length in the batch: at most 1 + 5 bytes.
      const share = ZkRequest.encode(widest).finish().length + 6;
      expect(encodedBytesAtMost(r)).toBeGreaterThanOrEqual(share);
    }
  });
});
