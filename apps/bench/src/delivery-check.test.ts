import {describe, expect, it} from 'vitest';

import {DeliveryCheck, endMarkerValue, writerValue} from './delivery-check.js';
import {Recorder} from './result.js';

/** Feeds events (revision, seq or 'end') to a fresh check and returns what it recorded. */
function check(events: readonly (readonly [number, number | 'end'])[], endCount: number) {
  const recorder = new Recorder();
  const c = new DeliveryCheck('w', recorder);
  for (const [revision, seq] of events) {
    const value = seq === 'end' ? endMarkerValue(endCount) : writerValue(seq, 1_000n, 64);
    c.observe(BigInt(revision), value, 3_000n);
  }
  c.finish();
  return {
    counters: Object.fromEntries(recorder.counters),
    violations: recorder.violations,
    delivery: recorder.histogram('delivery'),
  };
}

describe('DeliveryCheck', () => {
  it('passes every event once, in order, then the end marker', () => {
    const r = check(
      [
        [10, 0],
        [11, 2],
        [12, 1],
        [13, 'end'],
      ],
      3,
    );
    expect(r.violations).toEqual([]);
    expect(r.counters).toEqual({watchEvents: 4});
    expect(r.delivery.count).toBe(3);
    expect(r.delivery.maxNs).toBe(2000);
  });

  it('reports a revision that goes backwards and a sequence number seen twice', () => {
    const r = check(
      [
        [10, 0],
        [12, 1],
        [11, 1],
        [13, 'end'],
      ],
      2,
    );
    expect(r.violations).toEqual(['w: revision 11 arrived after 12', 'w: event 1 arrived twice']);
    expect(r.counters).toMatchObject({watchOutOfOrder: 1, watchDuplicates: 1});
  });

  it('reports events the end marker announces but that never arrived', () => {
    const r = check(
      [
        [10, 0],
        [12, 2],
        [15, 'end'],
      ],
      5,
    );
    expect(r.violations).toEqual(['w: 3 of 5 events never arrived']);
    expect(r.counters).toMatchObject({watchMissing: 3});
  });

  it('reports a watcher that stopped before the end marker', () => {
    const r = check([[10, 0]], 1);
    expect(r.violations).toEqual(['w: the end marker never arrived (1 events seen)']);
  });
});
