import {EtcdErrors} from '@synod/proto';
import {describe, expect, it} from 'vitest';

import type {MemberInfo} from '../member/membership.js';
import type {ClusterView} from './reconfig-checks.js';
import {
  learnerIsReady,
  refusalToAddVoter,
  refusalToPromote,
  refusalToRemove,
} from './reconfig-checks.js';

function member(id: number, opts: {started?: boolean; learner?: boolean} = {}): MemberInfo {
  return {
    id,
    name: opts.started === false ? '' : `m${id}`,
    peerUrls: [`http://127.0.0.1:${2380 + id}`],
    clientUrls: [],
    isLearner: opts.learner ?? false,
  };
}

function view(members: MemberInfo[], connected: number[]): ClusterView {
  return {selfId: 1, members, isConnected: id => connected.includes(id)};
}

const three = [member(1), member(2), member(3)];

describe('strict reconfiguration checks', () => {
  it.each([
    ['3 voters, all connected', view(three, [2, 3]), undefined],
    ['3 voters, one unreachable', view(three, [2]), EtcdErrors.unhealthyCluster],
    [
      '3 voters, two never started',
      view([member(1), member(2, {started: false}), member(3, {started: false})], [2, 3]),
      EtcdErrors.memberNotEnoughStarted,
    ],
    ['a single voter', view([member(1)], []), undefined],
  ])('adding a voter: %s', (_name, v, expected) => {
    expect(refusalToAddVoter(v)).toBe(expected);
  });

  it.each([
    ['a connected voter of 3, all up', view(three, [2, 3]), 3, undefined],
    ['a voter that is already down', view(three, [2]), 3, undefined],
    ['a live voter when another is down', view(three, [2]), 2, EtcdErrors.memberNotEnoughStarted],
    ['itself, with both peers up', view(three, [2, 3]), 1, undefined],
    ['a learner, whatever is down', view([...three, member(4, {learner: true})], []), 4, undefined],
    [
      'a voter of 2 when the other never started',
      view([member(1), member(2, {started: false})], [2]),
      1,
      EtcdErrors.memberNotEnoughStarted,
    ],
  ])('removing %s', (_name, v, id, expected) => {
    expect(refusalToRemove(v, id)).toBe(expected);
  });

  it('promotes only when the started voters are a quorum of the grown set', () => {
    expect(refusalToPromote(view([...three, member(4, {learner: true})], [2, 3]))).toBeUndefined();
    expect(refusalToPromote(view([member(1), member(4, {learner: true})], []))).toBeUndefined();
    expect(
      refusalToPromote(
        view(
          [
            member(1),
            member(2, {started: false}),
            member(3, {started: false}),
            member(4, {learner: true}),
          ],
          [],
        ),
      ),
    ).toBe(EtcdErrors.memberNotEnoughStarted);
  });

  it('calls a learner ready within 10% of the leader', () => {
    expect(learnerIsReady(90, 100)).toBe(true);
    expect(learnerIsReady(89, 100)).toBe(false);
    expect(learnerIsReady(0, 0)).toBe(true);
  });
});
