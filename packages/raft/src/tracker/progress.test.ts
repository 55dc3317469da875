import {describe, expect, it} from 'vitest';
import {Progress} from './progress.js';

function pr(fields: Partial<Pick<Progress, 'match' | 'next' | 'state'>>): Progress {
  const p = new Progress({next: fields.next ?? 1, match: fields.match ?? 0, maxInflight: 4});
  if (fields.state === 'replicate') {
    p.becomeReplicate();
    p.next = fields.next ?? p.next;
  }
  return p;
}

describe('Progress', () => {
  it('becomeProbe from replicate restarts at match + 1', () => {
    const p = pr({match: 5, next: 9, state: 'replicate'});
    p.becomeProbe();
    expect([p.state, p.next]).toEqual(['probe', 6]);
  });

  it('becomeProbe from snapshot resumes after the pending snapshot', () => {
    const p = pr({match: 1, next: 5});
    p.becomeSnapshot(10);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect([p.state, p.next, p.pendingSnapshot]).toEqual(['probe', 11, 0]);
  });

  it('becomeProbe after a failed snapshot (pending cleared) restarts at match + 1', () => {
    const p = pr({match: 1, next: 5});
    p.becomeSnapshot(10);
    p.pendingSnapshot = 0;
    p.becomeProbe();
    expect(p.next).toBe(2);
  });

  const updateTable: {match: number; next: number; n: number; want: [boolean, number, number]}[] = [
    {match: 3, next: 5, n: 2, want: [false, 3, 5]}, // old ack
    {match: 3, next: 5, n: 3, want: [false, 3, 5]}, // duplicate ack
    {match: 3, next: 5, n: 4, want: [true, 4, 5]},
    {match: 3, next: 5, n: 9, want: [true, 9, 10]},
  ];
  for (const {match, next, n, want} of updateTable) {
    it(`maybeUpdate(${n}) at match=${match} next=${next} gives ${JSON.stringify(want)}`, () => {
      const p = pr({match, next});
      const updated = p.maybeUpdate(n);
      expect([updated, p.match, p.next]).toEqual(want);
    });
  }

  const decrTable: {
    state: 'probe' | 'replicate';
    match: number;
    next: number;
    rejected: number;
    hint: number;
    want: [boolean, number];
  }[] = [
    // replicate: a rejection at or below match is stale
    {state: 'replicate', match: 5, next: 10, rejected: 5, hint: 5, want: [false, 10]},
    {state: 'replicate', match: 5, next: 10, rejected: 4, hint: 4, want: [false, 10]},
    // replicate: a real rejection goes back to match + 1
    {state: 'replicate', match: 5, next: 10, rejected: 9, hint: 9, want: [true, 6]},
    // probe: must answer the last probe (next - 1) or it is stale
    {state: 'probe', match: 0, next: 10, rejected: 5, hint: 5, want: [false, 10]},
    {state: 'probe', match: 0, next: 10, rejected: 9, hint: 9, want: [true, 9]},
    // probe: the hint skips further back
    {state: 'probe', match: 0, next: 10, rejected: 9, hint: 3, want: [true, 4]},
    // probe: never below match + 1
    {state: 'probe', match: 2, next: 10, rejected: 9, hint: 0, want: [true, 3]},
    // probe: never to 0
    {state: 'probe', match: 0, next: 2, rejected: 1, hint: 0, want: [true, 1]},
  ];
  for (const c of decrTable) {
    it(`maybeDecrTo(${c.rejected}, ${c.hint}) in ${c.state} match=${c.match} next=${c.next}`, () => {
      const p = pr({match: c.match, next: c.next, state: c.state});
      p.msgAppFlowPaused = true;
      const ok = p.maybeDecrTo(c.rejected, c.hint);
      expect([ok, p.next]).toEqual(c.want);
      if (ok && c.state === 'probe') expect(p.msgAppFlowPaused).toBe(false);
    });
  }

  it('probe pauses after one message and unpauses on an ack', () => {
    const p = pr({match: 0, next: 1});
    expect(p.isPaused()).toBe(false);
    p.sentEntries(3, 3, 30);
    expect(p.isPaused()).toBe(true);
    expect(p.next).toBe(1); // probe does not advance optimistically
    p.maybeUpdate(3);
    expect(p.isPaused()).toBe(false);
  });

  it('replicate advances next optimistically and pauses when the window is full', () => {
    const p = pr({match: 0, next: 1, state: 'replicate'});
    for (let i = 1; i <= 4; i++) p.sentEntries(1, i, 1);
    expect(p.next).toBe(5);
    expect(p.isPaused()).toBe(true);
    p.inflights.freeLE(2);
    expect(p.isPaused()).toBe(false);
  });
});
