import {AlarmRequest_AlarmAction, Compare_CompareResult, Compare_CompareTarget} from '@synod/proto';
import type {AlarmType} from '@synod/proto';
import {etcdSkipReason} from '@synod/testing';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {
  align,
  b,
  both,
  okValue,
  same,
  sameWatch,
  sendBoth,
  startPair,
  watchBoth,
} from './harness.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- an alarm type no server knows is the point
const UNKNOWN_ALARM = 9 as AlarmType;

/**
 * Unusual but well-formed inputs: negative and extreme ids and revisions. Each scenario
 * checks afterwards that the server still answers, since an input the apply path does not
 * expect can stop a member.
 */
describe.skipIf(etcdSkipReason !== undefined)('edge inputs: etcd and Synod side by side', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair();
  });

  afterAll(async () => {
    await pair.stop();
  });

  beforeEach(async () => {
    await align(pair);
  });

  async function stillServing(): Promise<void> {
    await same(pair, s => s.kv.range({key: b('edge/alive')}), 'still serving');
  }

  async function check(label: string, op: (side: Side) => Promise<unknown>): Promise<void> {
    await same(pair, op, label);
    await stillServing();
  }

  it('attaches, revokes and inspects negative and extreme lease ids', async () => {
    await check('put with lease -1', s => s.kv.put({key: b('edge/a'), value: b('v'), lease: -1n}));
    await check('revoke -1', s => s.lease.leaseRevoke({ID: -1n}));
    await check('time to live -1', s => s.lease.leaseTimeToLive({ID: -1n, keys: true}));
    await check('time to live 0', s => s.lease.leaseTimeToLive({ID: 0n}));
    await check('revoke 0', s => s.lease.leaseRevoke({ID: 0n}));
    const max = (1n << 63n) - 1n;
    await check('grant max id', s => s.lease.leaseGrant({TTL: 30n, ID: max}));
    await check('revoke max id', s => s.lease.leaseRevoke({ID: max}));
  });

  it('compares against a negative lease, and a value compare without a value', async () => {
    await check('compare lease -1', s =>
      s.kv.txn({
        compare: [
          {
            key: b('edge/a'),
            target: Compare_CompareTarget.LEASE,
            result: Compare_CompareResult.NOT_EQUAL,
            targetUnion: {$case: 'lease', value: -1n},
          },
        ],
      }),
    );
    await check('compare without a value', s =>
      s.kv.txn({
        compare: [
          {
            key: b('edge/a'),
            target: Compare_CompareTarget.VALUE,
            result: Compare_CompareResult.EQUAL,
          },
        ],
      }),
    );
  });

  it('compares a missing key against negative revisions and versions', async () => {
    const cases = [
      [Compare_CompareTarget.VERSION, 'version'],
      [Compare_CompareTarget.CREATE, 'createRevision'],
      [Compare_CompareTarget.MOD, 'modRevision'],
    ] as const;
    for (const [target, $case] of cases) {
      for (const result of [
        Compare_CompareResult.EQUAL,
        Compare_CompareResult.GREATER,
        Compare_CompareResult.LESS,
        Compare_CompareResult.NOT_EQUAL,
      ]) {
        await same(
          pair,
          s =>
            s.kv.txn({
              compare: [{key: b('edge/missing'), target, result, targetUnion: {$case, value: -1n}}],
            }),
          `${$case} result ${result} -1`,
        );
      }
    }
  });

  it('ranges with extreme limits', async () => {
    await check('limit max', s =>
      s.kv.range({key: b('edge/'), rangeEnd: b('\0'), limit: (1n << 63n) - 1n}),
    );
    await check('revision min', s => s.kv.range({key: b('edge/a'), revision: -(1n << 63n)}));
  });

  function createWatch(startRevision: bigint, watchId: bigint) {
    return {
      requestUnion: {
        $case: 'createRequest' as const,
        value: {
          key: b('edge/w'),
          rangeEnd: Buffer.alloc(0),
          startRevision,
          progressNotify: false,
          filters: [],
          prevKv: false,
          watchId,
          fragment: false,
        },
      },
    };
  }

  // etcd 3.4 answers created, then canceled with compact_revision -1 (header revision 0): a
  // negative start is below the compact revision of a store never compacted.
  it('cancels a watch from a negative start revision', async () => {
    const ws = watchBoth(pair);
    try {
      sendBoth(ws, createWatch(-3n, 0n));
      await sameWatch(ws, 2, 'negative start', 1000);
    } finally {
      for (const stream of ws) stream.close();
    }
    await stillServing();
  });

  it('keeps a negative explicit watch id', async () => {
    const ws = watchBoth(pair);
    try {
      sendBoth(ws, createWatch(0n, -7n));
      await sameWatch(ws, 1, 'negative explicit watch id', 1000);
    } finally {
      for (const stream of ws) stream.close();
    }
  });

  it('ignores a cancel for a negative watch id', async () => {
    const ws = watchBoth(pair);
    try {
      sendBoth(ws, createWatch(0n, 0n));
      await sameWatch(ws, 1, 'created');
      sendBoth(ws, {requestUnion: {$case: 'cancelRequest', value: {watchId: -1n}}});
      await sameWatch(ws, 0, 'cancel -1', 500);
    } finally {
      for (const stream of ws) stream.close();
    }
    await stillServing();
  });

  /** Alarm answers without their header, which differs (see maintenance.test.ts). */
  async function sameAlarms(label: string, op: (side: Side) => Promise<unknown>): Promise<void> {
    const [e, s] = await both(pair, op);
    const alarms = (result: typeof e) => ('ok' in result ? okValue(result).alarms : result);
    expect(alarms(s), label).toEqual(alarms(e));
    await stillServing();
  }

  it('raises unknown alarms and alarms for unknown members', async () => {
    await sameAlarms('activate unknown type', s =>
      s.maintenance.alarm({
        action: AlarmRequest_AlarmAction.ACTIVATE,
        memberID: 42n,
        alarm: UNKNOWN_ALARM,
      }),
    );
    await sameAlarms('list', s => s.maintenance.alarm({action: AlarmRequest_AlarmAction.GET}));
    await check('move leader to 0', s => s.maintenance.moveLeader({targetID: 0n}));
  });

  it('answers a deactivation with the cleared alarm', async () => {
    await sameAlarms('activate', s =>
      s.maintenance.alarm({
        action: AlarmRequest_AlarmAction.ACTIVATE,
        memberID: 43n,
        alarm: UNKNOWN_ALARM,
      }),
    );
    await sameAlarms('deactivate', s =>
      s.maintenance.alarm({
        action: AlarmRequest_AlarmAction.DEACTIVATE,
        memberID: 43n,
        alarm: UNKNOWN_ALARM,
      }),
    );
  });
});
