import {describe, expect, it} from 'vitest';
import {Prng} from './prng.js';

function draws(p: Prng, n: number): number[] {
  return Array.from({length: n}, () => p.nextUint32());
}

describe('Prng', () => {
  it('replays the same stream for the same seed', () => {
    expect(draws(new Prng(42), 50)).toEqual(draws(new Prng(42), 50));
  });

  it('gives different streams for neighbouring seeds, including above 2^32', () => {
    expect(draws(new Prng(1), 10)).not.toEqual(draws(new Prng(2), 10));
    expect(draws(new Prng(2 ** 40), 10)).not.toEqual(draws(new Prng(2 ** 40 + 2 ** 32), 10));
  });

  it('forks streams that do not depend on what the parent drew', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    draws(b, 100);
    expect(draws(a.fork('network'), 20)).toEqual(draws(b.fork('network'), 20));
    expect(draws(a.fork('network'), 20)).not.toEqual(draws(a.fork('clock'), 20));
  });

  it('keeps nextInt, intBetween and nextFloat in range and covers every value', () => {
    const p = new Prng(3);
    const ints = new Set<number>();
    const between = new Set<number>();
    let floatsInRange = true;
    for (let i = 0; i < 2000; i++) {
      ints.add(p.nextInt(7));
      between.add(p.intBetween(-2, 2));
      const f = p.nextFloat();
      floatsInRange &&= f >= 0 && f < 1;
    }
    expect([...ints].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...between].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
    expect(floatsInRange).toBe(true);
    expect(() => p.nextInt(0)).toThrow(RangeError);
  });

  it('makes chance(p) true about p of the time, never for 0, always for 1', () => {
    const p = new Prng(9);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (p.chance(0.3)) hits++;
    expect(hits).toBeGreaterThan(2700);
    expect(hits).toBeLessThan(3300);
    for (let i = 0; i < 100; i++) {
      expect(p.chance(0)).toBe(false);
      expect(p.chance(1)).toBe(true);
    }
  });

  it('shuffles into a permutation and picks members', () => {
    const p = new Prng(11);
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const shuffled = p.shuffle([...items]);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    expect(items).toContain(p.pick(items));
    expect(() => p.pick([])).toThrow(RangeError);
  });
});
