import type {ConfChange, ConfState} from '@synod/proto/raftpb';
import {ConfChangeType} from '@synod/proto/raftpb';

/**
 * simpleChange returns the configuration after one single-member change, or a string saying
 * why the change is invalid. It never mutates `cs`. Ids come out sorted.
 *
 * Notation in the examples: voters (1 2 3), learners [4].
 * - AddNode 4 on (1 2 3) [4] gives (1 2 3 4) []: a learner is promoted.
 * - AddLearnerNode 3 on (1 2 3) [] gives (1 2) [3]: a voter is demoted.
 * - RemoveNode 2 on (1 2 3) [4] gives (1 3) [4]; removing an absent id changes nothing.
 * - UpdateNode and a change of node 0 change nothing.
 * - Any change that leaves no voter, e.g. RemoveNode 1 on (1) [], is invalid.
 */
export function simpleChange(cs: ConfState, cc: ConfChange): ConfState | string {
  if (cc.nodeId === 0 || cc.type === ConfChangeType.ConfChangeUpdateNode) {
    return {voters: [...cs.voters], learners: [...cs.learners]};
  }
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case ConfChangeType.ConfChangeAddLearnerNode:
      voters.delete(cc.nodeId);
      learners.add(cc.nodeId);
      break;
    case ConfChangeType.ConfChangeRemoveNode:
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
    default:
      return `unknown conf change type ${String(cc.type)}`;
  }
  if (voters.size === 0) {
    return `removing the last voter (conf change of node ${cc.nodeId})`;
  }
  const byId = (a: number, b: number) => a - b;
  return {voters: [...voters].sort(byId), learners: [...learners].sort(byId)};
}
