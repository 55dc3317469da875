import {describe, expect, it} from 'vitest';

import {parseDurationMs, parseOptions, UsageError} from './options.js';
import {shareOf, splitEvenly} from './share.js';

describe('parseOptions', () => {
  it('fills defaults for a bare workload', () => {
    const o = parseOptions(['put']);
    expect(o).toMatchObject({
      workload: 'put',
      endpoints: ['127.0.0.1:2379'],
      conns: 1,
      clients: 1,
      rate: 0,
      durationMs: 10_000,
      total: undefined,
      keySize: 32,
      valSize: 256,
      keySpace: 10_000,
      sequentialKeys: false,
      prefix: '/synod-bench/',
      consistency: 'l',
      workers: 1,
      json: false,
    });
  });

  it('takes --name=value and --name value, and boolean flags alone', () => {
    const o = parseOptions([
      'range',
      '--endpoints=http://127.0.0.1:1,127.0.0.1:2',
      '--clients',
      '64',
      '--conns=8',
      '--consistency',
      's',
      '--total=1000',
      '--sequential-keys',
      '--json',
      '--workers=2',
    ]);
    expect(o).toMatchObject({
      endpoints: ['127.0.0.1:1', '127.0.0.1:2'],
      clients: 64,
      conns: 8,
      consistency: 's',
      total: 1000,
      sequentialKeys: true,
      json: true,
      workers: 2,
    });
  });

  it('gives watch a writer rate and check-perf etcdctl duration and prefix by default', () => {
    expect(parseOptions(['watch']).rate).toBe(1000);
    expect(parseOptions(['check-perf'])).toMatchObject({
      durationMs: 60_000,
      prefix: '/etcdctl-check-perf/',
      load: 's',
    });
    expect(parseOptions(['check-perf', '--duration=5s', '--load=m'])).toMatchObject({
      durationMs: 5000,
      load: 'm',
    });
  });

  it.each([
    [[], /workload is required/],
    [['get'], /unknown workload "get"/],
    [['put', '--bogus=1'], /unknown flag --bogus/],
    [['put', '--clients'], /--clients needs a value/],
    [['put', '--clients=0'], /--clients must be an integer >= 1, not "0"/],
    [['put', '--rate=-1'], /--rate must be an integer >= 0/],
    [['range', '--consistency=x'], /--consistency must be l or s/],
    [['mixed', '--read-ratio=1.5'], /--read-ratio must be within 0..1/],
    [['put', '--duration=soon'], /--duration "soon" is not a duration/],
    [['put', 'extra'], /unexpected argument "extra"/],
    [['put', '--endpoints=,'], /--endpoints lists no endpoint/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(UsageError);
    expect(() => parseOptions(argv)).toThrow(message);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1.5', 1500],
    ['1h', 3_600_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
});

describe('shareOf', () => {
  it('splits clients, connections, rate and total without losing any', () => {
    const o = parseOptions(['put', '--clients=7', '--conns=3', '--rate=1001', '--total=10']);
    const shares = [0, 1, 2].map(index => shareOf(o, {index, count: 3}));
    expect(shares.map(s => s.clients)).toEqual([3, 2, 2]);
    expect(shares.map(s => s.conns)).toEqual([1, 1, 1]);
    expect(shares.reduce((sum, s) => sum + s.rate, 0)).toBe(1001);
    expect(shares.reduce((sum, s) => sum + (s.total ?? 0), 0)).toBe(10);
  });

  it('gives the watch writer a worker of its own and splits the watchers over the rest', () => {
    const o = parseOptions(['watch', '--watchers=5', '--rate=300']);
    const shares = [0, 1, 2].map(index => shareOf(o, {index, count: 3}));
    expect(shares.map(s => s.watchers)).toEqual([0, 3, 2]);
    expect(shares.map(s => s.rate)).toEqual([300, 300, 300]);
  });

  it('splits evenly', () => {
    expect([0, 1, 2, 3].map(i => splitEvenly(10, i, 4))).toEqual([3, 3, 2, 2]);
  });
});
