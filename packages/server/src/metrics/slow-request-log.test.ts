import type {KVServiceImplementation} from '@synod/proto';
import {describe, expect, it} from 'vitest';

import {traceStep} from './request-trace.js';
import {goDuration, SlowRequestLog} from './slow-request-log.js';

/** A log that keeps what it was told, and a clock a test moves by hand. */
function setup(thresholdMs = 100) {
  const lines: {level: string; fields: Record<string, unknown>; msg: string}[] = [];
  const clock = {ms: 1000};
  let slow = 0;
  const log = new SlowRequestLog({
    logger: {
      info: (fields, msg) => lines.push({level: 'info', fields: fields as never, msg}),
      warn: (fields, msg) => lines.push({level: 'warn', fields: fields as never, msg}),
      error: (fields, msg) => lines.push({level: 'error', fields: fields as never, msg}),
    },
    thresholdMs,
    nowMs: () => clock.ms,
    wallMs: () => Date.UTC(2026, 0, 1) + clock.ms,
    onSlow: () => {
      slow++;
    },
  });
  return {lines, clock, log, slowCount: () => slow};
}

const header = {clusterId: 1n, memberId: 2n, revision: 7n, raftTerm: 3n};

/** A KV service whose calls take the time a test gives them, in stages. */
function kv(clock: {ms: number}, stages: readonly [string, number][]): KVServiceImplementation {
  const run = async (context: object) => {
    for (const [name, ms] of stages) {
      await Promise.resolve();
      clock.ms += ms;
      traceStep(context, name);
    }
  };
  return {
    range: async (_request, context) => {
      await run(context);
      return {header, kvs: [{key: Buffer.from('foo'), value: Buffer.from('bar')}], count: 1n};
    },
    put: async (_request, context) => {
      await run(context);
      return {header};
    },
    deleteRange: () => Promise.resolve({header}),
    txn: () => Promise.resolve({header}),
    compact: () => Promise.resolve({header}),
  };
}

const context = () => ({}) as never;

describe('slow requests, logged as etcd logs them', () => {
  it('warns "apply request took too long" with took, expected-duration, prefix, request and response', async () => {
    const {lines, clock, log, slowCount} = setup();
    const service = log.kvService(kv(clock, [['process raft request', 150]]));
    await service.put(
      {key: Buffer.from('foo'), value: Buffer.from('bar'), lease: 0n, prevKv: false} as never,
      context(),
    );
    expect(slowCount()).toBe(1);
    expect(lines[0]).toEqual({
      level: 'warn',
      msg: 'apply request took too long',
      fields: {
        took: '150ms',
        'expected-duration': '100ms',
        prefix: '',
        request: 'key:"foo" value_size:3 ',
        response: expect.stringMatching(/^size:\d+$/) as unknown,
      },
    });
    expect(lines[1]?.msg).toMatch(/^trace\[\d+\] put$/);
    expect(lines[1]?.fields).toMatchObject({
      detail: '{key:foo; req_size:6; response_revision:7; }',
      duration: '150ms',
      step_count: 1,
    });
    expect(lines[1]?.fields.steps).toEqual([
      expect.stringMatching(/^trace\[\d+\] 'process raft request' {2}\(duration: 150ms\)$/),
    ]);
  });

  it('marks reads read-only, and traces only the stages longer than their share', async () => {
    const {lines, clock, log} = setup();
    const service = log.kvService(
      kv(clock, [
        ['agreement among raft nodes before linearized reading', 120],
        ['range keys from in-memory index tree', 2],
      ]),
    );
    await service.range(
      {key: Buffer.from('foo'), rangeEnd: Buffer.alloc(0), limit: 0n, revision: 0n} as never,
      context(),
    );
    expect(lines[0]?.fields).toMatchObject({
      prefix: 'read-only range ',
      request: 'key:"foo" ',
      response: expect.stringMatching(/^range_response_count:1 size:\d+$/) as unknown,
    });
    expect(lines[1]?.fields.steps).toEqual([
      expect.stringContaining("'agreement among raft nodes before linearized reading'"),
    ]);
  });

  it('says nothing of a request within the threshold', async () => {
    const {lines, clock, log, slowCount} = setup();
    await log
      .kvService(kv(clock, [['process raft request', 99]]))
      .put({key: Buffer.from('k'), value: Buffer.alloc(0)} as never, context());
    expect(lines).toEqual([]);
    expect(slowCount()).toBe(0);
  });

  it("prints durations as Go's time.Duration does", () => {
    expect(goDuration(100)).toBe('100ms');
    expect(goDuration(152.337)).toBe('152.337ms');
    expect(goDuration(0.85)).toBe('850µs');
    expect(goDuration(1500)).toBe('1.5s');
  });
});
