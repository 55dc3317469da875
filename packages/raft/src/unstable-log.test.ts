import {describe, expect, it} from 'vitest';
import {entries} from './testing/fixtures.js';
import {UnstableLog} from './unstable-log.js';

const snap = (index: number, term: number) => ({
  data: new Uint8Array(),
  metadata: {index, term, confState: {voters: [1], learners: []}},
});

describe('UnstableLog', () => {
  const appendTable: {
    name: string;
    offset: number;
    held: number[];
    ents: [number, number[]];
    want: [number, number[]];
  }[] = [
    {name: 'appends after the tail', offset: 5, held: [1], ents: [6, [1, 1]], want: [5, [1, 1, 1]]},
    {
      name: 'replaces everything from before the offset',
      offset: 5,
      held: [1],
      ents: [4, [2, 2]],
      want: [4, [2, 2]],
    },
    {name: 'replaces from the offset', offset: 5, held: [1, 1], ents: [5, [2]], want: [5, [2]]},
    {
      name: 'truncates a conflicting suffix',
      offset: 5,
      held: [1, 1, 1],
      ents: [6, [2, 2]],
      want: [5, [1, 2, 2]],
    },
  ];
  for (const c of appendTable) {
    it(`truncateAndAppend ${c.name}`, () => {
      const u = new UnstableLog(c.offset);
      u.entries = entries(c.held, c.offset);
      const handedOut = u.entries;
      const handedOutTerms = handedOut.map(e => e.term);
      u.truncateAndAppend(entries(c.ents[1], c.ents[0]));
      expect([u.offset, u.entries.map(e => e.term)]).toEqual(c.want);
      expect(u.entries.map((e, i) => e.index - i)).toEqual(u.entries.map(() => u.offset));
      if (c.ents[0] !== c.offset + c.held.length) {
        // A truncation never mutates an array handed out earlier (a Ready may hold it).
        expect(handedOut.map(e => e.term)).toEqual(handedOutTerms);
      }
    });
  }

  it('answers terms from the snapshot and the entries', () => {
    const u = new UnstableLog(0);
    u.restore(snap(5, 2));
    u.truncateAndAppend(entries([3, 3], 6));
    expect([
      u.maybeTerm(4),
      u.maybeTerm(5),
      u.maybeTerm(6),
      u.maybeTerm(7),
      u.maybeTerm(8),
    ]).toEqual([undefined, 2, 3, 3, undefined]);
    expect([u.maybeFirstIndex(), u.maybeLastIndex()]).toEqual([6, 7]);
    u.stableSnapTo(4);
    expect(u.snapshot).toBeDefined();
    u.stableSnapTo(5);
    expect(u.snapshot).toBeUndefined();
    expect(u.maybeFirstIndex()).toBeUndefined();
  });

  it('stableTo drops persisted entries only when the term still matches', () => {
    const u = new UnstableLog(5);
    u.truncateAndAppend(entries([1, 1, 1], 5));
    u.stableTo(6, 2);
    expect(u.offset).toBe(5);
    u.stableTo(6, 1);
    expect([u.offset, u.entries.length]).toEqual([7, 1]);
    u.stableTo(4, 1); // below offset: ignored
    expect(u.offset).toBe(7);
  });
});
