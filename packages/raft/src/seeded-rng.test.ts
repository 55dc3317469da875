import {describe, expect, it} from 'vitest';
import {SeededRng} from './seeded-rng.js';

describe('SeededRng', () => {
  it('replays the same sequence from the same seed', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const xs = Array.from({length: 20}, () => a.nextInt(1000));
    expect(Array.from({length: 20}, () => b.nextInt(1000))).toEqual(xs);
    const c = new SeededRng(43);
    expect(Array.from({length: 20}, () => c.nextInt(1000))).not.toEqual(xs);
  });

  it('draws every value of a small range, and only those', () => {
    const r = new SeededRng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const v = r.nextInt(10);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    expect(counts.length).toBe(10);
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it('rejects a bound that is not a positive integer', () => {
    const r = new SeededRng(1);
    expect(() => r.nextInt(0)).toThrow(RangeError);
    expect(() => r.nextInt(1.5)).toThrow(RangeError);
  });
});
