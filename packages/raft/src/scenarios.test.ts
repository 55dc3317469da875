/**
 * Scenario tests: each one a short story of a cluster, told through the test Network.
 */
import {ConfChangeType, MessageType} from '@synod/proto/raftpb';
import type {ConfChange} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {ProposalDroppedError} from './errors.js';
import {entries, msg, newTestNode} from './testing/fixtures.js';
import {Network} from './testing/network.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const cc = (type: ConfChangeType, nodeId: number): ConfChange => ({
  type,
  nodeId,
  context: new Uint8Array(0),
  id: 0,
});

describe('pre-vote and check-quorum', () => {
  it('a leader that loses its quorum steps down after an election timeout', () => {
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true}});
    net.campaign(1);
    net.isolate(1);
    net.tick(1, 10);
    expect(net.node(1).raft.state).toBe('leader');
    net.tick(1, 10);
    expect(net.node(1).raft.state).toBe('follower');
    expect(net.node(1).raft.term).toBe(1);
  });

  it('a leader with its quorum stays leader', () => {
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true}});
    net.campaign(1);
    net.isolate(3);
    net.tickAll(50);
    expect(net.leader()).toBe(1);
  });

  it('a partitioned node rejoining with pre-vote and check-quorum does not disrupt the leader', () => {
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true, preVote: true}});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.isolate(3);
    net.tick(3, 200);
    net.propose(1, enc('b'));
    net.recover();
    net.tickAll(30);
    expect(net.leader()).toBe(1);
    for (const id of [1, 2, 3]) expect(net.node(id).raft.term).toBe(1);
    expect(net.appliedData(3)).toEqual(['a', 'b']);
  });

  it('without pre-vote, the same rejoining node forces a new election at a higher term', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(3);
    net.tick(3, 50);
    const term3 = net.node(3).raft.term;
    expect(term3).toBeGreaterThan(1);
    net.recover();
    net.tickAll(25);
    expect(net.node(1).raft.term).toBeGreaterThanOrEqual(term3);
  });

  it('pre-vote: a node with a stale log cannot win the pre-vote, and terms stay put', () => {
    const net = new Network({voters: [1, 2, 3], config: {preVote: true}});
    net.campaign(1);
    net.isolate(3);
    net.propose(1, enc('x'));
    net.recover();
    // Node 3 missed 'x'; an election it starts fails at the pre-vote stage.
    net.isolate(1);
    net.campaign(3);
    expect(net.node(3).raft.state).toBe('pre-candidate');
    expect(net.node(3).raft.term).toBe(1);
    expect(net.node(2).raft.term).toBe(1);
    net.campaign(2);
    expect(net.node(2).raft.state).toBe('leader');
    expect(net.node(2).raft.term).toBe(2);
  });
});

describe('leadership transfer', () => {
  it('transfers to an up-to-date follower at once', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.node(1).transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
    expect(net.node(1).raft.state).toBe('follower');
    expect(net.node(1).raft.term).toBe(2);
  });

  it('catches a lagging target up before sending MsgTimeoutNow, refusing proposals meanwhile', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(3);
    for (const s of ['a', 'b', 'c']) net.propose(1, enc(s));
    net.node(1).transferLeader(3);
    net.stabilize();
    expect(net.node(1).raft.leadTransferee).toBe(3);
    expect(() => {
      net.node(1).propose(enc('refused'));
    }).toThrow(ProposalDroppedError);
    net.recover();
    net.tickAll(1);
    expect(net.leader()).toBe(3);
    expect(net.appliedData(3)).toEqual(['a', 'b', 'c']);
    net.propose(3, enc('d'));
    expect(net.appliedData(1)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is abandoned after an election timeout if the target never catches up', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(3);
    net.node(1).transferLeader(3);
    net.stabilize();
    expect(net.node(1).raft.leadTransferee).toBe(3);
    net.tick(1, 10);
    expect(net.node(1).raft.leadTransferee).toBe(0);
    expect(net.leader()).toBe(1);
    net.propose(1, enc('accepted again'));
    expect(net.appliedData(2)).toEqual(['accepted again']);
  });

  it('a follower forwards the request to the leader; transfer to self or a learner is ignored', () => {
    const net = new Network({voters: [1, 2, 3], learners: [4]});
    net.campaign(1);
    net.node(1).transferLeader(1);
    net.node(1).transferLeader(4);
    net.stabilize();
    expect(net.leader()).toBe(1);
    net.node(2).transferLeader(3);
    net.stabilize();
    expect(net.leader()).toBe(3);
  });

  it('a transfer election passes voters that hold a leader lease (check-quorum)', () => {
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true, preVote: true}});
    net.campaign(1);
    net.tickAll(1);
    net.node(1).transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
  });
});

describe('log replication', () => {
  it('fast backtracking: a follower with a long divergent tail is repaired in a few round trips', () => {
    // Node 2 holds 50 entries of term 2 that nobody else has; node 1 leads term 5 with a log of
    // terms (1 3 3 ... 3).
    const t1 = newTestNode({
      id: 1,
      voters: [1, 2, 3],
      log: entries([1, ...new Array<number>(30).fill(3)]),
      term: 4,
    });
    const t2 = newTestNode({
      id: 2,
      voters: [1, 2, 3],
      log: entries([1, ...new Array<number>(50).fill(2)]),
      term: 4,
    });
    const t3 = newTestNode({
      id: 3,
      voters: [1, 2, 3],
      log: entries([1, ...new Array<number>(30).fill(3)]),
      term: 4,
    });
    const net = new Network({voters: [1, 2, 3], nodes: []});
    for (const [id, t] of [
      [1, t1],
      [2, t2],
      [3, t3],
    ] as const) {
      net.peers.set(id, {
        node: t.node,
        storage: t.storage,
        applied: [],
        readStates: [],
        confState: undefined,
        readies: [],
      });
    }
    let rejections = 0;
    net.msgHook = m => {
      if (m.type === MessageType.MsgAppResp && m.from === 2 && m.reject) rejections++;
      return true;
    };
    net.campaign(1);
    expect(net.leader()).toBe(1);
    expect(t2.storage.entries(1, 33, Infinity).map(e => e.term)).toEqual(
      t1.storage.entries(1, 33, Infinity).map(e => e.term),
    );
    expect(t2.node.raft.raftLog.lastIndex()).toBe(32);
    expect(rejections).toBeLessThanOrEqual(2);
  });
});

describe('commit notices', () => {
  it('followers holding every entry learn the commit without answering, and apply', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    const seen: {type: MessageType; from: number; commitOnly: boolean; entries: number}[] = [];
    net.msgHook = m => {
      seen.push({type: m.type, from: m.from, commitOnly: m.commitOnly, entries: m.entries.length});
      return true;
    };
    net.propose(1, enc('a'));
    net.propose(1, enc('b'));
    // Every ordinary append is answered; a commit notice (no entries) is not.
    const appends = seen.filter(m => m.type === MessageType.MsgApp);
    const notices = appends.filter(m => m.commitOnly);
    expect(notices.length).toBeGreaterThan(0);
    expect(notices.every(m => m.entries === 0)).toBe(true);
    const answers = seen.filter(m => m.type === MessageType.MsgAppResp);
    expect(answers).toHaveLength(appends.length - notices.length);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(['a', 'b']);
  });

  it('a follower still catching up gets ordinary appends, and answers them', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(3);
    net.propose(1, enc('a'));
    net.propose(1, enc('b'));
    net.recover();
    const toThree: boolean[] = [];
    let answers = 0;
    net.msgHook = m => {
      if (m.type === MessageType.MsgApp && m.to === 3) toThree.push(m.commitOnly);
      if (m.type === MessageType.MsgAppResp && m.from === 3) answers++;
      return true;
    };
    net.propose(1, enc('c'));
    net.tickAll(5);
    expect(toThree[0]).toBe(false);
    expect(answers).toBeGreaterThan(0);
    expect(net.appliedData(3)).toEqual(['a', 'b', 'c']);
  });
});

describe('learners', () => {
  it('a learner receives the log but never votes in quorum nor campaigns', () => {
    const net = new Network({voters: [1, 2, 3], learners: [4]});
    net.campaign(1);
    net.propose(1, enc('a'));
    expect(net.appliedData(4)).toEqual(['a']);
    // The learner alone with the leader cannot commit.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, enc('b'));
    expect(net.appliedData(1)).toEqual(['a']);
    expect(net.node(4).raft.raftLog.lastIndex()).toBe(3);
    // Learners never start elections, however long they wait.
    net.recover();
    net.isolate(1);
    net.tick(4, 100);
    expect(net.node(4).raft.state).toBe('follower');
    expect(net.node(4).raft.term).toBe(1);
  });

  it('a learner promoted by AddNode becomes a voter that counts toward the quorum', () => {
    const net = new Network({voters: [1, 2, 3], learners: [4]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeAddNode, 4));
    net.stabilize();
    for (const id of [1, 2, 3, 4]) {
      expect(net.peer(id).confState).toEqual({voters: [1, 2, 3, 4], learners: []});
    }
    expect(net.node(4).raft.isLearner).toBe(false);
    // Four voters: leader + 4 alone are not a quorum, leader + 2 + 4 are.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, enc('x'));
    expect(net.appliedData(1)).toEqual([]);
    net.recover();
    net.isolate(3);
    net.tickAll(1);
    expect(net.appliedData(1)).toEqual(['x']);
    net.recover();
    net.isolate(1);
    net.campaign(4);
    expect(net.node(4).raft.state).toBe('leader');
  });

  it('a learner answers vote requests (it may have been promoted without knowing)', () => {
    const net = new Network({voters: [1, 2, 3], learners: [4]});
    net.send(msg(MessageType.MsgVote, {from: 1, to: 4, term: 1}));
    expect(net.node(4).raft.vote).toBe(1);
  });
});

describe('membership changes', () => {
  it('a node added with AddNode catches up through the log and joins the quorum', () => {
    const net = new Network({voters: [1, 2, 3], bootstrap: true});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.addNode(4);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeAddNode, 4));
    net.stabilize();
    net.propose(1, enc('b'));
    expect(net.appliedData(4)).toEqual(['a', 'b']);
    expect(net.node(4).raft.trk.voters.ids).toEqual([1, 2, 3, 4]);
  });

  it('removing a node changes the quorum as soon as the change is applied', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 3));
    net.stabilize();
    expect(net.node(1).raft.trk.voters.ids).toEqual([1, 2]);
    // Two voters: both are needed now, and enough.
    net.isolate(3);
    net.propose(1, enc('x'));
    expect(net.appliedData(2)).toEqual(['x']);
    net.isolate(2);
    net.propose(1, enc('y'));
    expect(net.appliedData(1)).toEqual(['x']);
  });

  it('removing a node that held commit back lets the leader commit at once', () => {
    const net = new Network({voters: [1, 2, 3, 4]});
    net.campaign(1);
    net.isolate(4);
    net.propose(1, enc('x')); // 1, 2, 3 of 4: commits
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 4));
    net.stabilize();
    net.isolate(3);
    // Voters (1 2 3): leader + 2 commit without 3 and 4.
    net.propose(1, enc('y'));
    expect(net.appliedData(1)).toEqual(['x', 'y']);
  });

  it('a removed leader steps down once the change applies and the rest elect a new leader', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 1));
    net.stabilize();
    expect(net.node(1).raft.state).toBe('follower');
    expect(net.node(2).raft.trk.voters.ids).toEqual([2, 3]);
    expect(() => {
      net.node(1).campaign();
    }).not.toThrow();
    expect(net.node(1).raft.state).toBe('follower'); // not promotable
    net.tickAll(25);
    const lead = net.leader();
    expect([2, 3]).toContain(lead);
    net.propose(lead, enc('after'));
    expect(net.appliedData(2)).toEqual(['after']);
  });

  it('a change that would leave no voter is refused', () => {
    const net = new Network({voters: [1], learners: [2]});
    net.campaign(1);
    expect(() => {
      net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 1));
    }).toThrow(/raft conf change refused: removing the last voter/);
    expect(net.node(1).raft.trk.voters.ids).toEqual([1]);
  });

  it('UpdateNode leaves the configuration as it is', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeUpdateNode, 2));
    net.stabilize();
    expect(net.peer(1).confState).toEqual({voters: [1, 2, 3], learners: []});
  });

  it('a node with an unapplied committed conf change does not campaign', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeAddLearnerNode, 4));
    // Commit the change everywhere but have node 2 hold it unapplied.
    const r2 = net.node(2).raft;
    net.stabilize();
    r2.raftLog.applied = r2.raftLog.committed - 1;
    net.node(2).campaign();
    expect(r2.state).toBe('follower');
  });
});

describe('snapshots and compaction', () => {
  it('a follower that needs compacted entries catches up with the leader’s snapshot', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 10; i++) net.propose(1, enc(`v${i}`));
    // The leader snapshots its state and compacts its log.
    const leader = net.peer(1);
    const applied = leader.applied.at(-1)!.index;
    leader.storage.createSnapshot(
      applied,
      leader.confState ?? {voters: [1, 2, 3], learners: []},
      enc('state'),
    );
    leader.storage.compact(applied);
    net.recover();
    net.recordReadies = true;
    net.tickAll(1);
    const rd3 = net.peer(3).readies.find(rd => rd.snapshot !== undefined);
    expect(rd3?.snapshot?.metadata?.index).toBe(applied);
    expect(dec(rd3!.snapshot!.data)).toBe('state');
    expect(net.node(3).raft.raftLog.committed).toBe(applied);
    expect(net.node(1).status().progress.get(3)?.state).toBe('replicate');
    net.propose(1, enc('after'));
    expect(net.appliedData(3)).toEqual(['after']);
  });

  it('a failed snapshot send moves the follower back to probe and is retried', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.isolate(3);
    net.campaign(1);
    net.propose(1, enc('a'));
    const leader = net.peer(1);
    const applied = leader.applied.at(-1)!.index;
    leader.storage.createSnapshot(applied, {voters: [1, 2, 3], learners: []}, enc('s'));
    leader.storage.compact(applied);
    net.recover();
    let dropSnapshots = 1;
    net.msgHook = m => !(m.type === MessageType.MsgSnap && dropSnapshots-- > 0);
    net.tickAll(1); // MsgSnap to 3 is dropped: reported as failed
    expect(dropSnapshots).toBe(0);
    expect(net.node(1).status().progress.get(3)?.state).toBe('probe');
    expect(net.node(3).raft.raftLog.committed).toBe(0);
    net.tickAll(3);
    expect(net.node(3).raft.raftLog.committed).toBe(applied);
    expect(net.node(1).status().progress.get(3)?.state).toBe('replicate');
  });

  it('a snapshot installs the configuration it carries', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.node(1).proposeConfChange(cc(ConfChangeType.ConfChangeAddLearnerNode, 4));
    net.stabilize();
    const leader = net.peer(1);
    const applied = leader.applied.at(-1)!.index;
    leader.storage.createSnapshot(applied, leader.confState, enc('s'));
    leader.storage.compact(applied);
    const n4 = net.addNode(4);
    net.tickAll(2);
    expect(n4.node.raft.trk.confState()).toEqual({voters: [1, 2, 3], learners: [4]});
    expect(n4.node.raft.isLearner).toBe(true);
    expect(n4.storage.snapshot().metadata?.index).toBe(applied);
  });

  it('a restarted node recovers its log, term and vote from storage', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.propose(1, enc('b'));
    const before = net.node(2).status();
    net.restart(2);
    const after = net.node(2).status();
    expect(after.hardState).toEqual(before.hardState);
    expect(after.lastIndex).toBe(before.lastIndex);
    expect(after.applied).toBe(before.applied);
    net.propose(1, enc('c'));
    expect(net.appliedData(2)).toEqual(['a', 'b', 'c']);
  });
});

describe('ReadIndex', () => {
  it('on the leader: answered after a heartbeat quorum, at the commit index', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.node(1).readIndex(enc('req-1'));
    net.stabilize();
    const [rs] = net.peer(1).readStates;
    expect(dec(rs!.requestCtx)).toBe('req-1');
    expect(rs!.index).toBe(2);
  });

  it('on the leader: not answered without a quorum of heartbeat acks', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.isolate(2);
    net.isolate(3);
    net.node(1).readIndex(enc('req'));
    net.stabilize();
    expect(net.peer(1).readStates).toEqual([]);
    net.recover();
    net.tick(1, 1); // the next heartbeat carries the pending request's context
    expect(net.peer(1).readStates.map(r => dec(r.requestCtx))).toEqual(['req']);
  });

  it('on a follower: forwarded to the leader and answered with MsgReadIndexResp', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.propose(1, enc('a'));
    const seen: MessageType[] = [];
    net.msgHook = m => {
      seen.push(m.type);
      return true;
    };
    net.node(2).readIndex(enc('f'));
    net.stabilize();
    expect(seen).toContain(MessageType.MsgReadIndex);
    expect(seen).toContain(MessageType.MsgReadIndexResp);
    expect(net.peer(2).readStates.map(r => [dec(r.requestCtx), r.index])).toEqual([['f', 2]]);
  });

  it('on a single voter: answered at once from the commit index', () => {
    const net = new Network({voters: [1]});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.node(1).readIndex(enc('solo'));
    net.stabilize();
    expect(net.peer(1).readStates.map(r => [dec(r.requestCtx), r.index])).toEqual([['solo', 2]]);
  });

  it('many reads are confirmed by one heartbeat round, in order', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.cut(1, 2);
    net.cut(1, 3);
    net.node(1).readIndex(enc('r1'));
    net.node(1).readIndex(enc('r2'));
    net.node(1).readIndex(enc('r3'));
    net.stabilize();
    net.recover();
    net.tick(1, 1);
    expect(net.peer(1).readStates.map(r => dec(r.requestCtx))).toEqual(['r1', 'r2', 'r3']);
  });

  it('without a known leader a read is refused', () => {
    const net = new Network({voters: [1, 2, 3]});
    expect(() => {
      net.node(2).readIndex(enc('x'));
    }).toThrow(ProposalDroppedError);
  });
});

describe('proposals', () => {
  it('without a known leader a proposal is dropped with a clear error', () => {
    const net = new Network({voters: [1, 2, 3]});
    expect(() => {
      net.node(1).propose(enc('x'));
    }).toThrow('raft proposal dropped: no leader at term 0');
  });

  it('a follower forwards proposals unless forwarding is disabled', () => {
    const net = new Network({voters: [1, 2, 3], config: {disableProposalForwarding: true}});
    net.campaign(1);
    expect(() => {
      net.node(2).propose(enc('x'));
    }).toThrow(/forwarding disabled/);
  });

  it('the uncommitted size limit drops proposals beyond it', () => {
    const net = new Network({voters: [1, 2, 3], config: {maxUncommittedEntriesSize: 100}});
    net.campaign(1);
    net.isolate(2);
    net.isolate(3);
    net.node(1).propose(new Uint8Array(60));
    net.node(1).propose(new Uint8Array(40));
    expect(() => {
      net.node(1).propose(new Uint8Array(1));
    }).toThrow(/too many uncommitted entries/);
    net.recover();
    net.tickAll(1);
    net.node(1).propose(new Uint8Array(50));
  });

  it('a large backlog is sent in messages bounded by maxSizePerMsg and the inflight window', () => {
    const net = new Network({voters: [1, 2, 3], config: {maxSizePerMsg: 1000, maxInflightMsgs: 4}});
    net.campaign(1);
    const sizes: number[] = [];
    net.msgHook = m => {
      if (m.type === MessageType.MsgApp && m.entries.length > 0) sizes.push(m.entries.length);
      return true;
    };
    for (let i = 0; i < 100; i++) net.node(1).propose(new Uint8Array(100));
    net.stabilize();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(9);
    expect(net.node(2).raft.raftLog.committed).toBe(101);
    expect(net.peer(3).applied.length).toBe(101);
  });
});
