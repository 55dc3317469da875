import {EntryType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {CompactedError} from './errors.js';
import {silentLogger} from './logger.js';
import {MemoryStorage} from './memory-storage.js';
import {RaftLog} from './raft-log.js';
import {entries} from './testing/fixtures.js';

function logWith(stable: number[], unstable: number[] = []): RaftLog {
  const ms = new MemoryStorage();
  ms.append(entries(stable));
  const log = new RaftLog(ms, silentLogger);
  if (unstable.length > 0) log.append(entries(unstable, stable.length + 1));
  return log;
}

describe('RaftLog', () => {
  const conflictTable: {ents: [number, number][]; want: number}[] = [
    {ents: [], want: 0},
    {
      ents: [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      want: 0,
    }, // all match
    {
      ents: [
        [2, 2],
        [3, 3],
      ],
      want: 0,
    },
    {ents: [[3, 3]], want: 0},
    {
      ents: [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 4],
      ],
      want: 4,
    }, // new entries
    {
      ents: [
        [3, 3],
        [4, 4],
      ],
      want: 4,
    },
    {
      ents: [
        [1, 4],
        [2, 4],
      ],
      want: 1,
    }, // conflicts
    {
      ents: [
        [2, 1],
        [3, 4],
        [4, 4],
      ],
      want: 2,
    },
    {
      ents: [
        [3, 1],
        [4, 2],
        [5, 4],
      ],
      want: 3,
    },
  ];
  for (const {ents, want} of conflictTable) {
    it(`findConflict(${JSON.stringify(ents)}) against [1 2 3] is ${want}`, () => {
      const log = logWith([1, 2, 3]);
      const es = ents.map(([index, term]) => ({
        index,
        term,
        type: EntryType.EntryNormal,
        data: new Uint8Array(),
      }));
      expect(log.findConflict(es)).toBe(want);
    });
  }

  const byTermTable: {index: number; term: number; want: [number, number]}[] = [
    {index: 10, term: 3, want: [10, 3]}, // out of range: answered as is
    {index: 7, term: 3, want: [4, 3]},
    {index: 7, term: 2, want: [2, 2]},
    {index: 7, term: 1, want: [1, 1]},
    {index: 7, term: 0, want: [0, 0]},
    {index: 5, term: 5, want: [5, 4]},
  ];
  for (const {index, term, want} of byTermTable) {
    it(`findConflictByTerm(${index}, ${term}) on terms [1 2 3 3 4 4 4] is ${want.join('/')}`, () => {
      const log = logWith([1, 2, 3, 3, 4, 4, 4]);
      const r = log.findConflictByTerm(index, term);
      if (index > log.lastIndex()) expect(r).toEqual({index, term: 0});
      else expect([r.index, r.term]).toEqual(want);
    });
  }

  it('isUpToDate compares last term first, then length', () => {
    const log = logWith([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('maybeAppend commits only up to the last entry the message proves', () => {
    const log = logWith([1, 1, 1, 1]);
    expect(log.maybeAppend(1, 1, 4, [])).toBe(1);
    expect(log.committed).toBe(1);
    expect(log.maybeAppend(2, 2, 4, [])).toBeUndefined();
  });

  it('maybeAppend refuses to overwrite a committed entry', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 3, entries([2, 2], 2))).toThrow(/conflicts with committed/);
  });

  it('slice stitches stable and unstable entries and enforces bounds', () => {
    const log = logWith([1, 1, 2], [2, 3]);
    expect(log.slice(2, 6, Infinity).map(e => e.index)).toEqual([2, 3, 4, 5]);
    expect(log.slice(4, 5, Infinity).map(e => e.index)).toEqual([4]);
    expect(() => log.slice(0, 2, Infinity)).toThrow(CompactedError);
    expect(() => log.slice(1, 7, Infinity)).toThrow(/out of bound/);
  });

  it('stableTo ignores an acknowledgement for entries that were replaced', () => {
    const log = logWith([1], [1, 1]);
    log.append(entries([2], 3)); // replaces index 3
    log.stableTo(3, 1);
    expect(log.unstable.offset).toBe(2);
    log.stableTo(3, 2);
    expect(log.unstable.offset).toBe(4);
    expect(log.unstable.entries).toEqual([]);
  });

  it('nextCommittedEnts hands out (applied, committed] and nothing while a snapshot is pending', () => {
    const log = logWith([1, 1, 1, 1]);
    log.commitTo(3);
    log.appliedTo(1);
    expect(log.nextCommittedEnts(Infinity).map(e => e.index)).toEqual([2, 3]);
    log.restore({
      data: new Uint8Array(),
      metadata: {index: 10, term: 2, confState: {voters: [1], learners: []}},
    });
    expect(log.hasNextCommittedEnts()).toBe(false);
    expect(log.nextCommittedEnts(Infinity)).toEqual([]);
    expect([log.firstIndex(), log.lastIndex(), log.committed]).toEqual([11, 10, 10]);
  });

  it('commitTo never moves past the last index', () => {
    const log = logWith([1, 1]);
    expect(() => {
      log.commitTo(3);
    }).toThrow(/out of range/);
  });
});
