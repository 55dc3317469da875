import {describe, expect, it} from 'vitest';
import {Inflights} from './inflights.js';

describe('Inflights', () => {
  it('fills up to capacity and refuses more', () => {
    const w = new Inflights(3);
    w.add(1, 10);
    w.add(2, 10);
    expect(w.full()).toBe(false);
    w.add(3, 10);
    expect(w.full()).toBe(true);
    expect(() => {
      w.add(4, 10);
    }).toThrow(/full/);
  });

  const freeTable: {adds: number[]; freeTo: number; wantCount: number; wantBytes: number}[] = [
    {adds: [1, 2, 3, 4], freeTo: 0, wantCount: 4, wantBytes: 40},
    {adds: [1, 2, 3, 4], freeTo: 2, wantCount: 2, wantBytes: 20},
    {adds: [1, 2, 3, 4], freeTo: 4, wantCount: 0, wantBytes: 0},
    {adds: [1, 2, 3, 4], freeTo: 100, wantCount: 0, wantBytes: 0},
    {adds: [5, 9, 13], freeTo: 10, wantCount: 1, wantBytes: 10},
    {adds: [], freeTo: 10, wantCount: 0, wantBytes: 0},
  ];
  for (const {adds, freeTo, wantCount, wantBytes} of freeTable) {
    it(`adds [${adds.join(',')}] freeLE(${freeTo}) leaves ${wantCount}`, () => {
      const w = new Inflights(8);
      for (const i of adds) w.add(i, 10);
      w.freeLE(freeTo);
      expect(w.count).toBe(wantCount);
      expect(w.bytes).toBe(wantBytes);
    });
  }

  it('wraps around the ring buffer', () => {
    const w = new Inflights(4);
    for (let i = 1; i <= 4; i++) w.add(i, 1);
    w.freeLE(3);
    expect(w.count).toBe(1);
    w.add(5, 1);
    w.add(6, 1);
    w.add(7, 1);
    expect(w.full()).toBe(true);
    w.freeLE(5);
    expect(w.count).toBe(2);
    w.freeLE(7);
    expect(w.count).toBe(0);
    expect(w.full()).toBe(false);
  });

  it('is full once the byte budget is used', () => {
    const w = new Inflights(10, 100);
    w.add(1, 60);
    expect(w.full()).toBe(false);
    w.add(2, 40);
    expect(w.full()).toBe(true);
    w.freeLE(1);
    expect(w.full()).toBe(false);
    expect(w.bytes).toBe(40);
  });

  it('freeFirstOne frees only the oldest message', () => {
    const w = new Inflights(3);
    w.add(4, 1);
    w.add(7, 2);
    w.add(9, 3);
    w.freeFirstOne();
    expect([w.count, w.bytes, w.full()]).toEqual([2, 5, false]);
  });

  it('reset empties the window', () => {
    const w = new Inflights(2);
    w.add(1, 5);
    w.add(2, 5);
    w.reset();
    expect(w.count).toBe(0);
    expect(w.full()).toBe(false);
  });
});
