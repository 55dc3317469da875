import {describe, expect, it} from 'vitest';

import {formatStatus, humanBytes} from './snapshot-command.js';

describe('snapshot status output', () => {
  // What etcdctl 3.4 printed for a snapshot of one key.
  const status = {hash: 3554497645, revision: 2, totalKey: 5, totalSize: 20480};

  it('prints the table etcdctl prints', () => {
    expect(formatStatus(status, 'table')).toBe(
      [
        '+----------+----------+------------+------------+',
        '|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |',
        '+----------+----------+------------+------------+',
        '| d3dd546d |        2 |          5 |      20 kB |',
        '+----------+----------+------------+------------+',
        '',
      ].join('\n'),
    );
  });

  it('prints the simple and json forms etcdctl prints', () => {
    expect(formatStatus(status, 'simple')).toBe('d3dd546d, 2, 5, 20 kB\n');
    expect(formatStatus(status, 'json')).toBe(
      '{"hash":3554497645,"revision":2,"totalKey":5,"totalSize":20480}\n',
    );
  });

  it.each([
    [5, '5 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [20_480, '20 kB'],
    [20_500, '20 kB'],
    [21_500, '22 kB'],
    [2_105_344, '2.1 MB'],
    [9_960_000, '10 MB'],
    [3_000_000_000, '3.0 GB'],
  ])('sizes %d bytes as %s, as go-humanize does', (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });
});
