import {describe, expect, it} from 'vitest';
import {KeyIndex} from './key-index.js';
import {SortedKeys} from './sorted-keys.js';

/** The example of the KeyIndex doc comment. */
function foo(): KeyIndex {
  const ki = new KeyIndex();
  ki.put(1, 0);
  ki.put(2, 0);
  ki.put(3, 0);
  ki.tombstone(4, 0);
  ki.put(5, 0);
  ki.put(6, 0);
  return ki;
}

describe('KeyIndex', () => {
  it('answers reads at any revision across generations', () => {
    const ki = foo();
    expect(ki.get(0)).toBeUndefined();
    expect(ki.get(2)).toEqual({main: 2, sub: 0});
    expect(ki.get(4)).toBeUndefined();
    expect(ki.get(5)).toEqual({main: 5, sub: 0});
    expect(ki.get(100)).toEqual({main: 6, sub: 0});
    expect(ki.live).toBe(true);
  });

  it('compacts as in the worked example', () => {
    const ki = foo();
    const kept: string[] = [];
    const keep = (m: number, s: number) => kept.push(`${m}.${s}`);
    ki.compact(2, keep);
    expect(kept).toEqual(['2.0']);
    expect(ki.get(2)).toEqual({main: 2, sub: 0});
    kept.length = 0;
    ki.compact(4, keep);
    expect(kept).toEqual([]);
    expect(ki.get(4)).toBeUndefined();
    expect(ki.get(5)).toEqual({main: 5, sub: 0});
    kept.length = 0;
    ki.compact(6, keep);
    expect(kept).toEqual(['6.0']);
    expect(ki.get(6)).toEqual({main: 6, sub: 0});
    expect(ki.empty).toBe(false);
  });

  it('empties when the key was deleted before the compact revision', () => {
    const ki = new KeyIndex();
    ki.put(2, 0);
    ki.tombstone(3, 1);
    ki.compact(5, () => undefined);
    expect(ki.empty).toBe(true);
    expect(ki.tombstone(6, 0)).toBe(false);
  });
});

describe('SortedKeys', () => {
  it('keeps byte order across chunk splits and deletes', () => {
    const sk = new SortedKeys();
    const keys = Array.from({length: 3000}, (_, i) => `k${(i * 7919) % 3000}`);
    for (const k of keys) sk.insert(k);
    sk.insert('k5');
    expect(sk.size).toBe(3000);
    const sorted = [...new Set(keys)].sort();
    expect(sk.range('', undefined)).toEqual(sorted);
    const seen: string[] = [];
    sk.forEachInRange('k1', 'k2', k => seen.push(k));
    expect(seen).toEqual(sorted.filter(k => k >= 'k1' && k < 'k2'));
    expect(sk.range('k10', 'k11')).toEqual(sorted.filter(k => k >= 'k10' && k < 'k11'));
    for (const k of sorted.slice(0, 2000)) sk.delete(k);
    expect(sk.range('', undefined)).toEqual(sorted.slice(2000));
  });
});
