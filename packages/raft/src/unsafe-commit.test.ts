import {MessageType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {drain, entries, msg, newTestNode} from './testing/fixtures.js';

/**
 * `unsafeCommitEarlierTermByCount` is a bug simulations inject on purpose; this shows it is
 * the bug it claims to be, on the scenario of pitfall 2 (Figure 8) in pitfalls.test.ts.
 */
describe('the injected bug unsafeCommitEarlierTermByCount', () => {
  for (const unsafe of [false, true]) {
    it(`a leader of term 3 ${unsafe ? 'commits' : 'holds back'} a term-2 entry a quorum holds, ${unsafe ? 'with' : 'without'} the bug`, () => {
      const t = newTestNode({
        id: 1,
        voters: [1, 2, 3, 4, 5],
        log: entries([1, 1, 2]),
        term: 2,
        commit: 1,
        config: {unsafeCommitEarlierTermByCount: unsafe},
      });
      t.node.campaign();
      for (const id of [2, 3])
        t.node.step(msg(MessageType.MsgVoteResp, {from: id, to: 1, term: 3}));
      drain(t);
      // Followers 2 and 3 hold index 3, of term 2; the leader's own term-3 entry is index 4.
      for (const id of [2, 3]) {
        t.node.step(msg(MessageType.MsgAppResp, {from: id, to: 1, term: 3, index: 3}));
      }
      drain(t);
      expect(t.node.raft.raftLog.committed).toBe(unsafe ? 3 : 1);
    });
  }
});
