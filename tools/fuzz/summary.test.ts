import {describe, expect, it} from 'vitest';

import type {Outcome} from './classify.js';
import type {FuzzReport, InputRecord} from './runner.js';
import {formatSummary} from './summary.js';

const ok: Outcome = {
  status: 0,
  message: '',
  timedOut: false,
  resetCode: undefined,
  httpStatus: 200,
};
const tooLarge = (size: number, prefix: string): Outcome => ({
  ...ok,
  status: 8,
  message: `${prefix}eceived message larger than max (${size} vs. 2097152)`,
});
const open: Outcome = {...ok, status: undefined, timedOut: true};

function record(
  index: number,
  label: string,
  cls: InputRecord['cls'],
  etcd: Outcome,
  synod: Outcome,
): InputRecord {
  return {index, label, kind: 'mutated', what: `input ${index}`, cls, etcd, synod};
}

const report: FuzzReport = {
  seed: 7,
  members: 1,
  withEtcd: true,
  elapsedMs: 1500,
  failures: [],
  records: [
    record(0, 'KV/Put', 'same', ok, ok),
    record(
      1,
      'KV/Put',
      'different message only',
      tooLarge(3000000, 'grpc: r'),
      tooLarge(3000000, 'R'),
    ),
    record(
      2,
      'Auth/RoleGet',
      'different message only',
      tooLarge(4000000, 'grpc: r'),
      tooLarge(4000000, 'R'),
    ),
    record(3, 'Watch/Watch', 'Synod timed out', {...ok, status: 13, message: 'grpc: bad'}, open),
    {
      index: 4,
      label: 'KV/Txn',
      kind: 'valid',
      what: 'input 4',
      cls: 'skipped',
      skipped: 'deletes over the canary keys',
    },
  ],
};

describe('formatSummary', () => {
  const summary = formatSummary(report, {etcdVersion: 'etcd 3.4.23', groups: 1});

  it('counts every input once, per method and class', () => {
    expect(summary).toContain(
      '5 inputs (indices 0–4) in 1.5 s: 4 sent, 1 held back by the safety guard.',
    );
    expect(summary).toContain('| KV/Put | 2 | 1 | 1 | 0 | 0 |');
    expect(summary).toContain('| total | 5 | 1 | 2 | 1 | 1 |');
  });

  it('groups one difference across methods when only numbers differ', () => {
    expect(summary).toMatch(/\| 1 \| different message only \| 2 \| KV\/Put, Auth\/RoleGet \|/);
  });

  it('lists a Synod timeout even past the group limit', () => {
    expect(summary).toMatch(/\| 2 \| Synod timed out \| 1 \| Watch\/Watch \|/);
  });
});
