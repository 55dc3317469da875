import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {ZkSessionToucher} from './zk-session-toucher.js';

describe('a member renews touched ZooKeeper sessions at most once every half tick', () => {
  let renewed: [number, bigint][];
  let toucher: ZkSessionToucher;
  const at = () => Math.round(performance.now());

  beforeEach(() => {
    vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout', 'performance']});
    renewed = [];
    toucher = new ZkSessionToucher(
      id => {
        renewed.push([at(), id]);
        return Promise.resolve();
      },
      1000,
      () => undefined,
    );
  });

  afterEach(() => {
    toucher.close();
    vi.useRealTimers();
  });

  it('renews a quiet session at once, and a busy one at the end of the half tick', () => {
    const start = at();
    toucher.touch(1n);
    vi.advanceTimersByTime(300);
    toucher.touch(1n);
    toucher.touch(2n);
    vi.advanceTimersByTime(400);
    toucher.touch(1n);
    expect(renewed).toEqual([
      [start, 1n],
      [start + 300, 2n],
    ]);
    // Session 1's touches at 300 and 700 ms are renewed by one renewal, a round after 300 ms.
    vi.advanceTimersByTime(600);
    expect(renewed.slice(2)).toEqual([[start + 1300, 1n]]);
    // Quiet for a round: the next touch renews at once again.
    vi.advanceTimersByTime(1500);
    toucher.touch(1n);
    expect(renewed.slice(3)).toEqual([[start + 2800, 1n]]);
  });

  it('never leaves a touch without a renewal after it', () => {
    const touches: number[] = [];
    for (let t = 0; t < 5000; t += 170) {
      touches.push(at());
      toucher.touch(7n);
      vi.advanceTimersByTime(170);
    }
    vi.advanceTimersByTime(1000);
    const times = renewed.map(([t]) => t);
    for (const t of touches) {
      expect(times.some(r => r >= t && r <= t + 1000)).toBe(true);
    }
    // At most one renewal per half tick (1,000 ms).
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
  });

  it('renews a resumed session at once, whatever its last renewal', () => {
    const start = at();
    toucher.touch(3n);
    toucher.renewNow(3n);
    expect(renewed).toEqual([
      [start, 3n],
      [start, 3n],
    ]);
  });
});
