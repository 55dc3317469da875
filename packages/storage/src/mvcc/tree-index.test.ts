import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {KeyIndex} from './key-index.js';
import {TreeIndex} from './tree-index.js';

/** Every key as a KeyIndex of its own: the representation TreeIndex packs away. */
class Reference {
  readonly keys = new Map<string, KeyIndex>();

  put(key: string, main: number, sub: number): void {
    let ki = this.keys.get(key);
    if (ki === undefined) {
      ki = new KeyIndex();
      this.keys.set(key, ki);
    }
    ki.put(main, sub);
  }

  tombstone(key: string, main: number, sub: number): boolean {
    return this.keys.get(key)?.tombstone(main, sub) ?? false;
  }

  compact(atRev: number, keep: (main: number, sub: number) => void): void {
    for (const [key, ki] of this.keys) {
      ki.compact(atRev, keep);
      if (ki.empty) this.keys.delete(key);
    }
  }
}

const KEYS = ['a', 'ab', 'b', 'c'];
/** Subs on both sides of the packing limit (1024). */
const SUBS = [0, 1, 1023, 1024, 5000];

type Op =
  | {readonly kind: 'put' | 'del'; readonly key: string; readonly sub: number}
  | {readonly kind: 'compact'; readonly back: number};

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    key: fc.constantFrom(...KEYS),
    sub: fc.constantFrom(...SUBS),
  }),
  fc.record({
    kind: fc.constant('del' as const),
    key: fc.constantFrom(...KEYS),
    sub: fc.constantFrom(...SUBS),
  }),
  fc.record({kind: fc.constant('compact' as const), back: fc.nat(3)}),
);

describe('TreeIndex', () => {
  it('packs a key with one live put and unpacks it on its next change', () => {
    const index = new TreeIndex();
    index.put('a', 7, 0);
    index.put('b', 7, 1);
    index.put('a', 8, 0);
    expect(index.tombstone('b', 9, 0)).toBe(true);
    expect(index.get('a', 7)).toEqual({main: 7, sub: 0});
    expect(index.get('a', 8)).toEqual({main: 8, sub: 0});
    expect(index.get('b', 8)).toEqual({main: 7, sub: 1});
    expect(index.get('b', 9)).toBeUndefined();
    const kept: string[] = [];
    index.compact(9, (m, s) => kept.push(`${m}.${s}`));
    // b's tombstone is at the compact revision: it goes with its generation, as in etcd.
    expect(kept.sort()).toEqual(['8.0']);
    expect(index.get('a', 9)).toEqual({main: 8, sub: 0});
    expect(index.tombstone('b', 10, 0)).toBe(false);
    expect(index.keyCount).toBe(1);
    expect(index.range('', undefined, 10, 0).revs.map(r => r.key)).toEqual(['a']);
  });

  it('keeps a sub too big to pack exact', () => {
    const index = new TreeIndex();
    index.put('a', 3, 1024);
    index.put('b', 2 ** 44, 0);
    expect(index.get('a', 3)).toEqual({main: 3, sub: 1024});
    expect(index.get('b', 2 ** 44)).toEqual({main: 2 ** 44, sub: 0});
  });

  it('keeps a long history of many generations exact past the arrays that grow by one', () => {
    const index = new TreeIndex();
    const ref = new Reference();
    // 200 revisions of one key: every seventh a delete, subs on both sides of 1024 at the end.
    for (let rev = 2; rev < 202; rev++) {
      const sub = rev > 190 ? 1500 : rev % 3;
      if (rev % 7 === 0) {
        expect(index.tombstone('k', rev, sub)).toBe(ref.tombstone('k', rev, sub));
      } else {
        index.put('k', rev, sub);
        ref.put('k', rev, sub);
      }
      // At 98 the last change is a delete (its generation goes), at 100 a put (it stays).
      if (rev === 110 || rev === 120) {
        const at = rev === 110 ? 98 : 100;
        const got: string[] = [];
        const want: string[] = [];
        index.compact(at, (m, s) => got.push(`${m}.${s}`));
        ref.compact(at, (m, s) => want.push(`${m}.${s}`));
        expect(got).toEqual(want);
      }
    }
    for (let at = 0; at <= 202; at++)
      expect(index.get('k', at)).toEqual(ref.keys.get('k')?.get(at));
  });

  it("keeps each live key's create revision and version across compactions and deletes", () => {
    const index = new TreeIndex();
    index.put('a', 2, 0);
    index.put('big', 2, 1500);
    expect(index.generation('a')).toEqual({createRevision: 2, version: 1});
    index.put('a', 3, 0);
    index.put('big', 3, 2000);
    index.put('a', 4, 0);
    expect(index.generation('a')).toEqual({createRevision: 2, version: 3});
    expect(index.generation('big')).toEqual({createRevision: 2, version: 2});
    // Only 4.0 is left of a's history: it is still its third version, created at 2.
    index.compact(4, () => undefined);
    expect(index.get('a', 4)).toEqual({main: 4, sub: 0});
    expect(index.generation('a')).toEqual({createRevision: 2, version: 3});
    expect(index.generation('big')).toEqual({createRevision: 2, version: 2});
    expect(index.tombstone('a', 5, 0)).toBe(true);
    expect(index.tombstone('big', 5, 1)).toBe(true);
    expect(index.generation('a')).toBeUndefined();
    expect(index.generation('big')).toBeUndefined();
    index.put('a', 6, 0);
    index.put('big', 6, 1500);
    expect(index.generation('a')).toEqual({createRevision: 6, version: 1});
    expect(index.generation('big')).toEqual({createRevision: 6, version: 1});
    // Rebuilt from records whose earlier history is gone, a key takes their generation.
    index.put('c', 9, 0);
    index.setGeneration('c', 7, 4);
    index.put('c', 10, 0);
    expect(index.generation('c')).toEqual({createRevision: 7, version: 5});
    expect(index.generation('none')).toBeUndefined();
  });

  it('answers like one KeyIndex per key after any put/delete/compact sequence', () => {
    fc.assert(
      fc.property(fc.array(opArb, {maxLength: 60}), ops => {
        const index = new TreeIndex();
        const ref = new Reference();
        let rev = 1;
        for (const op of ops) {
          if (op.kind === 'compact') {
            const at = Math.max(1, rev - op.back);
            const got: string[] = [];
            const want: string[] = [];
            index.compact(at, (m, s) => got.push(`${m}.${s}`));
            ref.compact(at, (m, s) => want.push(`${m}.${s}`));
            expect(got.sort()).toEqual(want.sort());
            continue;
          }
          rev++;
          if (op.kind === 'put') {
            index.put(op.key, rev, op.sub);
            ref.put(op.key, rev, op.sub);
          } else {
            expect(index.tombstone(op.key, rev, op.sub)).toBe(ref.tombstone(op.key, rev, op.sub));
          }
        }
        expect(index.keyCount).toBe(ref.keys.size);
        for (let at = 0; at <= rev + 1; at++) {
          for (const key of KEYS) expect(index.get(key, at)).toEqual(ref.keys.get(key)?.get(at));
          const want = [...ref.keys]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .flatMap(([key, ki]) => {
              const r = ki.get(at);
              return r === undefined ? [] : [{key, rev: r}];
            });
          expect(index.range('', undefined, at, 0)).toEqual({revs: want, total: want.length});
          expect(index.range('ab', 'c', at, 1)).toEqual({
            revs: want.filter(w => w.key >= 'ab' && w.key < 'c').slice(0, 1),
            total: want.filter(w => w.key >= 'ab' && w.key < 'c').length,
          });
        }
      }),
      {numRuns: 300},
    );
  });
});
