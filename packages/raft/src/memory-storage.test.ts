import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {entrySize} from './entry-size.js';
import {CompactedError, SnapshotOutOfDateError, UnavailableError} from './errors.js';
import {MemoryStorage} from './memory-storage.js';
import {SeededRng} from './seeded-rng.js';
import {entries} from './testing/fixtures.js';

/** A storage holding entries 3..5 (terms 3, 4, 5) after a snapshot at index 3, term 3. */
function storage345(): MemoryStorage {
  const ms = new MemoryStorage({voters: [1], learners: []});
  ms.append(entries([1, 2, 3, 4, 5]));
  ms.createSnapshot(3, undefined, new Uint8Array([9]));
  ms.compact(3);
  return ms;
}

describe('MemoryStorage', () => {
  it('reports first and last index around the snapshot', () => {
    const ms = storage345();
    expect([ms.firstIndex(), ms.lastIndex()]).toEqual([4, 5]);
    expect(ms.snapshot().metadata).toMatchObject({index: 3, term: 3});
  });

  const termTable: {i: number; want: number | 'compacted' | 'unavailable'}[] = [
    {i: 2, want: 'compacted'},
    {i: 3, want: 3},
    {i: 4, want: 4},
    {i: 5, want: 5},
    {i: 6, want: 'unavailable'},
  ];
  for (const {i, want} of termTable) {
    it(`term(${i}) is ${want}`, () => {
      const ms = storage345();
      if (want === 'compacted') expect(() => ms.term(i)).toThrow(CompactedError);
      else if (want === 'unavailable') expect(() => ms.term(i)).toThrow(UnavailableError);
      else expect(ms.term(i)).toBe(want);
    });
  }

  const entriesTable: {
    lo: number;
    hi: number;
    max: number;
    want: number[] | 'compacted' | 'unavailable';
  }[] = [
    {lo: 3, hi: 5, max: Infinity, want: 'compacted'},
    {lo: 4, hi: 6, max: Infinity, want: [4, 5]},
    {lo: 4, hi: 5, max: Infinity, want: [4]},
    {lo: 4, hi: 7, max: Infinity, want: 'unavailable'},
    // The size limit always lets the first entry through.
    {lo: 4, hi: 6, max: 0, want: [4]},
    {lo: 4, hi: 6, max: 1_000, want: [4, 5]},
  ];
  for (const {lo, hi, max, want} of entriesTable) {
    it(`entries(${lo}, ${hi}, ${max}) is ${JSON.stringify(want)}`, () => {
      const ms = storage345();
      if (want === 'compacted') expect(() => ms.entries(lo, hi, max)).toThrow(CompactedError);
      else if (want === 'unavailable')
        expect(() => ms.entries(lo, hi, max)).toThrow(UnavailableError);
      else expect(ms.entries(lo, hi, max).map(e => e.index)).toEqual(want);
    });
  }

  it('append truncates a conflicting tail and skips compacted entries', () => {
    const ms = storage345();
    ms.append(entries([3, 6, 6], 3)); // index 3 is compacted, 4..5 replaced
    expect(ms.entries(4, 6, Infinity).map(e => e.term)).toEqual([6, 6]);
    ms.append(entries([7], 6));
    expect(ms.lastIndex()).toBe(6);
    expect(() => {
      ms.append(entries([8], 9));
    }).toThrow(/missing log entry/);
  });

  it('compact refuses already compacted or unavailable indexes', () => {
    const ms = storage345();
    expect(() => {
      ms.compact(3);
    }).toThrow(CompactedError);
    expect(() => {
      ms.compact(9);
    }).toThrow(UnavailableError);
    ms.compact(5);
    expect([ms.firstIndex(), ms.lastIndex(), ms.term(5)]).toEqual([6, 5, 5]);
  });

  it('applySnapshot replaces the log and refuses an older snapshot', () => {
    const ms = storage345();
    const snap = {
      data: new Uint8Array(),
      metadata: {index: 10, term: 7, confState: {voters: [1, 2], learners: []}},
    };
    ms.applySnapshot(snap);
    expect([ms.firstIndex(), ms.lastIndex(), ms.term(10)]).toEqual([11, 10, 7]);
    expect(ms.initialState().confState).toEqual({voters: [1, 2], learners: []});
    expect(() => {
      ms.applySnapshot({...snap, metadata: {...snap.metadata, index: 9}});
    }).toThrow(SnapshotOutOfDateError);
  });

  it('initialState returns the saved hard state', () => {
    const ms = new MemoryStorage();
    ms.setHardState({term: 3, vote: 2, commit: 0});
    expect(ms.initialState().hardState).toEqual({term: 3, vote: 2, commit: 0});
  });
});

/** Entries from `start` whose data names their index and term, e.g. `7@2`. */
function labelled(terms: readonly number[], start: number): Entry[] {
  return terms.map((term, i) => ({
    term,
    index: start + i,
    type: i % 3 === 2 ? EntryType.EntryConfChange : EntryType.EntryNormal,
    data: new TextEncoder().encode(`${start + i}@${term}`),
  }));
}

function labels(es: readonly Entry[]): string[] {
  return es.map(e => `${new TextDecoder().decode(e.data)}/${e.type}`);
}

describe('MemoryStorage packing old entries', () => {
  it('keeps the newest entries as appended and packs older ones, which read back the same', () => {
    const ms = new MemoryStorage(undefined, {unpackedEntries: 2, packEntries: 2});
    const appended = labelled([1, 1, 1, 2, 2], 1);
    ms.append(appended);
    const got = ms.entries(1, 6, Infinity);
    expect(labels(got)).toEqual(labels(appended));
    // 1..2 were packed: new objects; 3..5 are still the objects appended.
    expect(got.map((e, i) => e === appended[i])).toEqual([false, false, true, true, true]);
    expect([1, 2, 3, 4, 5].map(i => ms.term(i))).toEqual([1, 1, 1, 2, 2]);
  });

  it('limits a read across packed and unpacked entries by size, letting the first through', () => {
    const ms = new MemoryStorage(undefined, {unpackedEntries: 2, packEntries: 2});
    const all = labelled([1, 1, 1, 1, 1, 1], 1);
    ms.append(all);
    const sizeOf = (lo: number, hi: number) =>
      all.slice(lo - 1, hi - 1).reduce((n, e) => n + entrySize(e), 0);
    expect(ms.entries(1, 7, 0).map(e => e.index)).toEqual([1]);
    expect(ms.entries(1, 7, sizeOf(1, 4)).map(e => e.index)).toEqual([1, 2, 3]);
    expect(ms.entries(2, 7, sizeOf(2, 5)).map(e => e.index)).toEqual([2, 3, 4]);
    expect(ms.entries(2, 7, sizeOf(2, 5) - 1).map(e => e.index)).toEqual([2, 3]);
  });

  it('compacts into the middle of a packed run and releases what is before it', () => {
    const ms = new MemoryStorage(undefined, {unpackedEntries: 2, packEntries: 4});
    ms.append(labelled([1, 1, 1, 1, 2, 2, 2, 2, 3], 1));
    ms.createSnapshot(6, undefined, new Uint8Array());
    ms.compact(6);
    expect([ms.firstIndex(), ms.lastIndex(), ms.term(6)]).toEqual([7, 9, 2]);
    expect(() => ms.entries(6, 8, Infinity)).toThrow(CompactedError);
    expect(labels(ms.entries(7, 10, Infinity))).toEqual(['7@2/0', '8@2/0', '9@3/1']);
  });

  it('a follower replacing a suffix that reaches into packed entries', () => {
    const ms = new MemoryStorage(undefined, {unpackedEntries: 1, packEntries: 3});
    ms.append(labelled([1, 1, 1, 1, 1, 1, 1], 1));
    ms.append(labelled([4, 4], 2));
    expect(ms.lastIndex()).toBe(3);
    expect(labels(ms.entries(1, 4, Infinity))).toEqual(['1@1/0', '2@4/0', '3@4/0']);
  });

  it('a run stops at the byte limit, but holds at least one entry', () => {
    const ms = new MemoryStorage(undefined, {unpackedEntries: 0, packEntries: 10, packBytes: 1});
    const big = labelled([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1);
    ms.append(big);
    expect(labels(ms.entries(1, 11, Infinity))).toEqual(labels(big));
  });

  // Appends, conflicting rewrites, compactions and snapshots in random order, checked after
  // every step against a plain array of the entries the storage should hold.
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`reads what a plain array holds, under random operations (seed ${seed})`, () => {
      const rng = new SeededRng(seed);
      const ms = new MemoryStorage(undefined, {
        unpackedEntries: rng.nextInt(4),
        packEntries: 1 + rng.nextInt(5),
        packBytes: 4 + rng.nextInt(40),
      });
      let base = 0;
      let baseTerm = 0;
      let model: Entry[] = [];
      let term = 1;
      for (let step = 0; step < 400; step++) {
        const last = base + model.length;
        const op = rng.nextInt(10);
        if (op < 6) {
          // Append at the end, or rewrite a suffix with a higher term.
          const start =
            op < 4 || model.length === 0 ? last + 1 : last + 1 - rng.nextInt(model.length);
          if (start <= last) term++;
          const batch = labelled(
            Array.from({length: 1 + rng.nextInt(6)}, () => term),
            start,
          );
          ms.append(batch);
          model = [...model.slice(0, start - base - 1), ...batch];
        } else if (op < 8 && model.length > 0) {
          const at = base + 1 + rng.nextInt(model.length);
          ms.createSnapshot(at, undefined, new Uint8Array());
          ms.compact(at);
          baseTerm = (model[at - base - 1] as Entry).term;
          model = model.slice(at - base);
          base = at;
        } else if (op === 8) {
          base = last + 1 + rng.nextInt(3);
          baseTerm = ++term;
          ms.applySnapshot({
            data: new Uint8Array(),
            metadata: {index: base, term: baseTerm, confState: {voters: [1], learners: []}},
          });
          model = [];
        }
        expect([ms.firstIndex(), ms.lastIndex()]).toEqual([base + 1, base + model.length]);
        expect(ms.term(base)).toBe(baseTerm);
        if (model.length === 0) continue;
        const lo = base + 1 + rng.nextInt(model.length);
        const hi = lo + 1 + rng.nextInt(base + model.length - lo + 1);
        const want = model.slice(lo - base - 1, hi - base - 1);
        expect(labels(ms.entries(lo, hi, Infinity))).toEqual(labels(want));
        expect(want.map(e => ms.term(e.index))).toEqual(want.map(e => e.term));
      }
    });
  }
});
