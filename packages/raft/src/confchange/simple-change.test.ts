import {ConfChangeType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {simpleChange} from './simple-change.js';

const T = ConfChangeType;

describe('simpleChange', () => {
  const table: {
    name: string;
    voters: number[];
    learners: number[];
    type: ConfChangeType;
    id: number;
    want: [number[], number[]] | RegExp;
  }[] = [
    {
      name: 'add a voter',
      voters: [1, 2, 3],
      learners: [],
      type: T.ConfChangeAddNode,
      id: 4,
      want: [[1, 2, 3, 4], []],
    },
    {
      name: 'add an existing voter',
      voters: [1, 2],
      learners: [],
      type: T.ConfChangeAddNode,
      id: 2,
      want: [[1, 2], []],
    },
    {
      name: 'promote a learner',
      voters: [1, 2, 3],
      learners: [4],
      type: T.ConfChangeAddNode,
      id: 4,
      want: [[1, 2, 3, 4], []],
    },
    {
      name: 'add a learner',
      voters: [1],
      learners: [],
      type: T.ConfChangeAddLearnerNode,
      id: 5,
      want: [[1], [5]],
    },
    {
      name: 'demote a voter',
      voters: [1, 2, 3],
      learners: [],
      type: T.ConfChangeAddLearnerNode,
      id: 3,
      want: [[1, 2], [3]],
    },
    {
      name: 'remove a voter',
      voters: [1, 2, 3],
      learners: [4],
      type: T.ConfChangeRemoveNode,
      id: 2,
      want: [[1, 3], [4]],
    },
    {
      name: 'remove a learner',
      voters: [1, 2, 3],
      learners: [4],
      type: T.ConfChangeRemoveNode,
      id: 4,
      want: [[1, 2, 3], []],
    },
    {
      name: 'remove an absent node',
      voters: [1, 2],
      learners: [],
      type: T.ConfChangeRemoveNode,
      id: 9,
      want: [[1, 2], []],
    },
    {
      name: 'update a node',
      voters: [1, 2],
      learners: [3],
      type: T.ConfChangeUpdateNode,
      id: 2,
      want: [[1, 2], [3]],
    },
    {
      name: 'change node 0',
      voters: [1, 2],
      learners: [],
      type: T.ConfChangeRemoveNode,
      id: 0,
      want: [[1, 2], []],
    },
    {
      name: 'remove the last voter',
      voters: [1],
      learners: [2],
      type: T.ConfChangeRemoveNode,
      id: 1,
      want: /last voter/,
    },
    {
      name: 'demote the last voter',
      voters: [1],
      learners: [],
      type: T.ConfChangeAddLearnerNode,
      id: 1,
      want: /last voter/,
    },
    {name: 'unknown type', voters: [1], learners: [], type: T.UNRECOGNIZED, id: 1, want: /unknown/},
  ];
  for (const c of table) {
    it(c.name, () => {
      const cs = {voters: c.voters, learners: c.learners};
      const got = simpleChange(cs, {type: c.type, nodeId: c.id, context: new Uint8Array(), id: 0});
      if (c.want instanceof RegExp) {
        expect(got).toMatch(c.want);
      } else {
        expect(got).toEqual({voters: c.want[0], learners: c.want[1]});
      }
      // The input is never mutated.
      expect(cs).toEqual({voters: c.voters, learners: c.learners});
    });
  }
});
