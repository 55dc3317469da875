import {describe, expect, it} from 'vitest';

import {checkPerfLoad, judgeCheckPerf} from './check-perf.js';
import type {CheckPerfMeasurement} from './check-perf.js';

const m = checkPerfLoad('m')!;
const good: CheckPerfMeasurement = {
  writesPerSecond: 990,
  slowestMs: 120,
  stddevMs: 10,
  errors: {},
};

describe('checkPerfLoad', () => {
  it('knows etcdctl load models and their long names', () => {
    expect(checkPerfLoad('s')).toEqual({name: 's', limit: 150, clients: 50, durationSeconds: 60});
    expect(checkPerfLoad('medium')).toBe(m);
    expect(checkPerfLoad('large')?.limit).toBe(8000);
    expect(checkPerfLoad('xLarge')?.clients).toBe(1000);
    expect(checkPerfLoad('huge')).toBeUndefined();
  });
});

describe('judgeCheckPerf', () => {
  it('passes a run within every limit, with etcdctl lines', () => {
    expect(judgeCheckPerf(m, good)).toEqual({
      pass: true,
      lines: [
        'PASS: Throughput is 991 writes/s',
        'PASS: Slowest request took 0.120000s',
        'PASS: Stddev is 0.010000s',
        'PASS',
      ],
    });
  });

  it.each([
    ['throughput at exactly 90% of the limit', {writesPerSecond: 900}, false],
    ['throughput just above 90%', {writesPerSecond: 900.5}, true],
    ['the slowest request at 0.5 s', {slowestMs: 500}, true],
    ['the slowest request over 0.5 s', {slowestMs: 500.001}, false],
    ['stddev at 0.1 s', {stddevMs: 100}, true],
    ['stddev over 0.1 s', {stddevMs: 100.5}, false],
    ['one failed request', {errors: {'UNAVAILABLE: no leader': 1}}, false],
  ])('%s: pass is %s', (_name, change, pass) => {
    expect(judgeCheckPerf(m, {...good, ...change}).pass).toBe(pass);
  });

  it('lists every error and ends with FAIL', () => {
    const verdict = judgeCheckPerf(m, {
      ...good,
      writesPerSecond: 500,
      errors: {'DEADLINE_EXCEEDED: context deadline exceeded': 3},
    });
    expect(verdict.lines).toEqual([
      'FAIL: too many errors',
      'FAIL: ERROR(DEADLINE_EXCEEDED: context deadline exceeded) -> 3',
      'FAIL: Throughput too low: 501 writes/s',
      'PASS: Slowest request took 0.120000s',
      'PASS: Stddev is 0.010000s',
      'FAIL',
    ]);
  });
});
