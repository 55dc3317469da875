import {describe, expect, it} from 'vitest';
import {CompactedError, SnapshotOutOfDateError, UnavailableError} from './errors.js';
import {MemoryStorage} from './memory-storage.js';
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
