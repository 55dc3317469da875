import {describe, expect, it} from 'vitest';
import {MajorityConfig} from './majority-config.js';

describe('MajorityConfig.committedIndex', () => {
  const table: {voters: number[]; acked: Record<number, number>; want: number}[] = [
    {voters: [], acked: {}, want: 0},
    {voters: [1], acked: {}, want: 0},
    {voters: [1], acked: {1: 12}, want: 12},
    {voters: [1, 2], acked: {1: 12}, want: 0},
    {voters: [1, 2], acked: {1: 12, 2: 5}, want: 5},
    {voters: [1, 2, 3], acked: {1: 12, 2: 10, 3: 5}, want: 10},
    {voters: [1, 2, 3], acked: {1: 12}, want: 0},
    {voters: [1, 2, 3], acked: {1: 12, 3: 12}, want: 12},
    {voters: [1, 2, 3, 4], acked: {1: 9, 2: 8, 3: 7, 4: 6}, want: 7},
    {voters: [1, 2, 3, 4, 5], acked: {1: 9, 2: 8, 3: 7, 4: 6, 5: 5}, want: 7},
    {voters: [1, 2, 3, 4, 5], acked: {1: 100, 2: 100}, want: 0},
    {voters: [5, 3, 1], acked: {1: 2, 3: 4, 5: 6}, want: 4},
  ];
  for (const {voters, acked, want} of table) {
    it(`voters (${voters.join(' ')}) acked ${JSON.stringify(acked)} commits ${want}`, () => {
      const c = new MajorityConfig(voters);
      expect(c.committedIndex(id => acked[id])).toBe(want);
    });
  }
});

describe('MajorityConfig.voteResult', () => {
  const table: {voters: number[]; votes: [number, boolean][]; want: string}[] = [
    {voters: [], votes: [], want: 'won'},
    {voters: [1], votes: [], want: 'pending'},
    {voters: [1], votes: [[1, true]], want: 'won'},
    {voters: [1], votes: [[1, false]], want: 'lost'},
    {voters: [1, 2], votes: [[1, true]], want: 'pending'},
    {
      voters: [1, 2],
      votes: [
        [1, true],
        [2, false],
      ],
      want: 'lost',
    },
    {
      voters: [1, 2, 3],
      votes: [
        [1, true],
        [2, false],
      ],
      want: 'pending',
    },
    {
      voters: [1, 2, 3],
      votes: [
        [1, true],
        [2, true],
      ],
      want: 'won',
    },
    {
      voters: [1, 2, 3],
      votes: [
        [1, false],
        [2, false],
      ],
      want: 'lost',
    },
    // Votes of non-voters (learners, removed nodes) do not count.
    {
      voters: [1, 2, 3],
      votes: [
        [1, true],
        [4, true],
        [5, true],
      ],
      want: 'pending',
    },
    {
      voters: [1, 2, 3, 4, 5],
      votes: [
        [1, true],
        [2, true],
        [3, false],
        [4, false],
      ],
      want: 'pending',
    },
    {
      voters: [1, 2, 3, 4, 5],
      votes: [
        [1, false],
        [2, false],
        [3, false],
      ],
      want: 'lost',
    },
  ];
  for (const {voters, votes, want} of table) {
    it(`voters (${voters.join(' ')}) votes ${JSON.stringify(votes)} is ${want}`, () => {
      expect(new MajorityConfig(voters).voteResult(new Map(votes))).toBe(want);
    });
  }
});
