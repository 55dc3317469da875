import {describe, expect, it} from 'vitest';

import {bucketOf, Histogram, middleOf} from './histogram.js';

/** The exact quantile of sorted values, by the same rule: the smallest with rank >= q * n. */
function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

describe('Histogram', () => {
  it('reports zeros when empty', () => {
    const h = new Histogram();
    expect([h.count, h.minNs, h.maxNs, h.meanNs, h.stddevNs, h.quantileNs(0.99)]).toEqual([
      0, 0, 0, 0, 0, 0,
    ]);
  });

  it('keeps values below 1024 ns exact', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.quantileNs(0.5)).toBe(50);
    expect(h.quantileNs(0.9)).toBe(90);
    expect(h.quantileNs(0.99)).toBe(99);
    expect(h.quantileNs(1)).toBe(100);
    expect(h.quantileNs(0)).toBe(1);
  });

  it('reads percentiles back within 0.2% of the exact ones, from microseconds to seconds', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Log-uniform between 1 µs and 10 s, as latencies spread.
      const v = Math.round(1e3 * 10 ** (random() * 7));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = exactQuantile(values, q);
      expect(Math.abs(h.quantileNs(q) - exact) / exact).toBeLessThan(0.002);
    }
    expect(h.maxNs).toBe(values.at(-1));
    expect(h.minNs).toBe(values[0]);
  });

  it('computes mean and population standard deviation exactly', () => {
    const h = new Histogram();
    for (const v of [2, 4, 4, 4, 5, 5, 7, 9].map(x => x * 1e6)) h.record(v);
    expect(h.meanNs).toBe(5e6);
    expect(h.stddevNs).toBeCloseTo(2e6, 3);
  });

  it('merges into the same figures as recording everything in one histogram', () => {
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let i = 0; i < 1000; i++) {
      const v = 5000 + i * 7919;
      (i % 3 === 0 ? a : b).record(v);
      both.record(v);
    }
    const merged = Histogram.fromData(a.toData()).merge(b.toData());
    const {sumSquaresNs2, ...rest} = merged.toData();
    const {sumSquaresNs2: expectedSquares, ...expectedRest} = both.toData();
    expect(rest).toEqual(expectedRest);
    // Squares of nanoseconds pass 2^53: summed in another order they differ in the last bits.
    expect(Math.abs(sumSquaresNs2 - expectedSquares) / expectedSquares).toBeLessThan(1e-12);
    expect(merged.stddevNs).toBeCloseTo(both.stddevNs, 3);
    expect(merged.quantileNs(0.99)).toBe(both.quantileNs(0.99));
  });

  it('puts every power of two at the start of its own bucket', () => {
    for (let bit = 10; bit < 45; bit++) {
      const v = 2 ** bit;
      expect(bucketOf(v)).toBe(bucketOf(v - 1) + 1);
      expect(middleOf(bucketOf(v))).toBeGreaterThanOrEqual(v);
    }
  });

  it('reads back the worked example of its doc comment', () => {
    expect(middleOf(bucketOf(3_000_000))).toBe(3_000_320);
  });
});
