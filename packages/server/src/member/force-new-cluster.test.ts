import {ConfChange, ConfChangeType, EntryType} from '@synod/proto/raftpb';
import type {Entry} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';

import {forceNewClusterLog} from './force-new-cluster.js';

const self = {
  id: 1,
  name: 'm1',
  peerUrls: ['http://127.0.0.1:2380'],
  clientUrls: [],
  isLearner: false,
};

function normal(index: number): Entry {
  return {term: 2, index, type: EntryType.EntryNormal, data: new Uint8Array([index])};
}

function confChange(index: number, type: ConfChangeType, nodeId: number): Entry {
  const data = ConfChange.encode({type, nodeId, id: 0, context: new Uint8Array()}).finish();
  return {term: 2, index, type: EntryType.EntryConfChange, data};
}

function changesOf(entries: readonly Entry[]): [ConfChangeType, number][] {
  return entries.map(e => {
    const cc = ConfChange.decode(e.data);
    return [cc.type, cc.nodeId];
  });
}

describe('forceNewClusterLog', () => {
  it('drops the entries past the commit index and removes every other voter after it', () => {
    const forced = forceNewClusterLog(
      self,
      {voters: [1, 2, 3], learners: []},
      10,
      [normal(11), normal(12), normal(13), normal(14)],
      {term: 3, vote: 1, commit: 13},
    );
    expect(forced.entries.map(e => e.index)).toEqual([11, 12, 13, 14, 15]);
    expect(forced.appended.map(e => [e.index, e.term])).toEqual([
      [14, 3],
      [15, 3],
    ]);
    expect(changesOf(forced.appended)).toEqual([
      [ConfChangeType.ConfChangeRemoveNode, 2],
      [ConfChangeType.ConfChangeRemoveNode, 3],
    ]);
    expect(forced.hardState).toEqual({term: 3, vote: 1, commit: 15});
    expect(forced.removed).toEqual([2, 3]);
  });

  it('counts the committed conf changes after the snapshot, learners included', () => {
    const forced = forceNewClusterLog(
      self,
      {voters: [1, 2], learners: [4]},
      5,
      [
        confChange(6, ConfChangeType.ConfChangeAddNode, 3),
        confChange(7, ConfChangeType.ConfChangeRemoveNode, 2),
        // Past the commit index: never applied, so member 5 is no member.
        confChange(8, ConfChangeType.ConfChangeAddLearnerNode, 5),
      ],
      {term: 2, vote: 0, commit: 7},
    );
    expect(forced.removed).toEqual([3, 4]);
    expect(forced.appended.map(e => e.index)).toEqual([8, 9]);
  });

  it('adds this member when the configuration lacks it', () => {
    const forced = forceNewClusterLog(self, {voters: [2], learners: []}, 4, [], {
      term: 2,
      vote: 0,
      commit: 4,
    });
    expect(changesOf(forced.appended)).toEqual([
      [ConfChangeType.ConfChangeRemoveNode, 2],
      [ConfChangeType.ConfChangeAddNode, 1],
    ]);
  });
});
