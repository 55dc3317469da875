/**
 * One test per claim of the Raft paper, §5 (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm"). Each test sets a node up, steps the messages of the
 * scenario, and checks the sentence it is named after.
 */
import {MessageType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {drain, entries, msg, newTestNode, summarize, tickN} from './testing/fixtures.js';
import {Network} from './testing/network.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('§5.1 terms', () => {
  it('a node rejects a request with a stale term', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], term: 2});
    drain(t);
    t.node.step(
      msg(MessageType.MsgApp, {from: 2, to: 1, term: 1, index: 0, entries: entries([1])}),
    );
    expect(drain(t)).toEqual([]);
    expect(t.node.raft.raftLog.lastIndex()).toBe(0);
    expect(t.node.raft.term).toBe(2);
    expect(t.node.raft.lead).toBe(0);
  });

  for (const role of ['follower', 'candidate', 'pre-candidate', 'leader'] as const) {
    it(`a ${role} that sees a higher term updates its term and reverts to follower`, () => {
      const t = newTestNode({
        id: 1,
        voters: [1, 2, 3],
        config: {preVote: role === 'pre-candidate'},
      });
      const r = t.node.raft;
      if (role === 'candidate' || role === 'pre-candidate') {
        t.node.campaign();
      } else if (role === 'leader') {
        t.node.campaign();
        t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 1}));
      }
      expect(r.state).toBe(role);
      t.node.step(msg(MessageType.MsgApp, {from: 2, to: 1, term: 5}));
      expect(r.state).toBe('follower');
      expect(r.term).toBe(5);
      expect(r.lead).toBe(2);
    });
  }
});

describe('§5.2 leader election', () => {
  it('a follower that hears nothing for an election timeout starts an election', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], term: 1});
    drain(t);
    tickN(t, 2 * 10);
    const r = t.node.raft;
    expect(r.state).toBe('candidate');
    expect(r.term).toBe(2);
    expect(r.vote).toBe(1);
    const sent = drain(t);
    expect(summarize(sent)).toEqual(['MsgVote->2', 'MsgVote->3']);
    expect(sent.every(m => m.term === 2)).toBe(true);
  });

  it('a follower that hears from its leader does not start an election', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], term: 1});
    for (let i = 0; i < 50; i++) {
      t.node.tick();
      t.node.step(msg(MessageType.MsgHeartbeat, {from: 2, to: 1, term: 1}));
    }
    expect(t.node.raft.state).toBe('follower');
    expect(t.node.raft.term).toBe(1);
  });

  const winTable: {size: number; grants: number[]; rejects: number[]; want: string}[] = [
    {size: 1, grants: [], rejects: [], want: 'leader'},
    {size: 3, grants: [2], rejects: [], want: 'leader'},
    {size: 3, grants: [], rejects: [], want: 'candidate'},
    {size: 3, grants: [], rejects: [2, 3], want: 'follower'},
    {size: 5, grants: [2], rejects: [], want: 'candidate'},
    {size: 5, grants: [2, 3], rejects: [], want: 'leader'},
    {size: 5, grants: [2], rejects: [3, 4], want: 'candidate'},
    {size: 5, grants: [], rejects: [2, 3, 4], want: 'follower'},
  ];
  for (const {size, grants, rejects, want} of winTable) {
    it(`a candidate of ${size} with grants [${grants.join(',')}] rejects [${rejects.join(',')}] ends ${want}`, () => {
      const voters = Array.from({length: size}, (_, i) => i + 1);
      const t = newTestNode({id: 1, voters});
      t.node.campaign();
      for (const id of grants)
        t.node.step(msg(MessageType.MsgVoteResp, {from: id, to: 1, term: 1}));
      for (const id of rejects)
        t.node.step(msg(MessageType.MsgVoteResp, {from: id, to: 1, term: 1, reject: true}));
      expect(t.node.raft.state).toBe(want);
    });
  }

  it('a node votes for at most one candidate per term, first come first served', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3]});
    t.node.step(msg(MessageType.MsgVote, {from: 2, to: 1, term: 1}));
    t.node.step(msg(MessageType.MsgVote, {from: 3, to: 1, term: 1}));
    // A retransmitted request from the candidate it voted for is granted again.
    t.node.step(msg(MessageType.MsgVote, {from: 2, to: 1, term: 1}));
    const resps = drain(t);
    expect(resps.map(m => [m.to, m.reject])).toEqual([
      [2, false],
      [3, true],
      [2, false],
    ]);
    expect(t.node.raft.vote).toBe(2);
  });

  it('a candidate that receives AppendEntries from a leader of its term steps down', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3]});
    t.node.campaign();
    expect(t.node.raft.state).toBe('candidate');
    t.node.step(msg(MessageType.MsgApp, {from: 2, to: 1, term: 1}));
    expect(t.node.raft.state).toBe('follower');
    expect(t.node.raft.lead).toBe(2);
    expect(t.node.raft.term).toBe(1);
  });

  it('a candidate that neither wins nor loses starts a new election after a timeout', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3]});
    t.node.campaign();
    expect(t.node.raft.term).toBe(1);
    tickN(t, 2 * 10);
    expect(t.node.raft.state).toBe('candidate');
    expect(t.node.raft.term).toBe(2);
  });

  it('election timeouts are randomized so that candidates rarely collide', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const t = newTestNode({id: 1, voters: [1, 2, 3], seed});
      const timeout = t.node.raft.randomizedElectionTimeout;
      expect(timeout).toBeGreaterThanOrEqual(10);
      expect(timeout).toBeLessThan(20);
      seen.add(timeout);
    }
    expect(seen.size).toBeGreaterThan(5);
  });
});

describe('§5.3 log replication', () => {
  it('a leader appends a proposal to its log and sends it to every follower', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3]});
    t.node.campaign();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 1}));
    drain(t);
    // Both followers accept the leader's empty entry, so the leader streams to them.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 1, index: 1}));
    t.node.step(msg(MessageType.MsgAppResp, {from: 3, to: 1, term: 1, index: 1}));
    drain(t);
    t.node.propose(enc('x'));
    const sent = drain(t);
    expect(summarize(sent)).toEqual(['MsgApp->2', 'MsgApp->3']);
    for (const m of sent) {
      expect(m.entries.map(e => [e.index, e.term])).toEqual([[2, 1]]);
      expect(m.index).toBe(1);
    }
    expect(t.node.raft.raftLog.lastIndex()).toBe(2);
    expect(t.node.raft.raftLog.committed).toBe(1);
  });

  it('a leader commits an entry once a majority stored it, and followers learn the commit', () => {
    const net = new Network({voters: [1, 2, 3, 4, 5]});
    net.campaign(1);
    net.isolate(4);
    net.isolate(5);
    net.propose(1, enc('x'));
    expect(net.node(1).raft.raftLog.committed).toBe(2);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(['x']);
    expect(net.appliedData(4)).toEqual([]);
  });

  it('a leader does not commit without a majority', () => {
    const net = new Network({voters: [1, 2, 3, 4, 5]});
    net.campaign(1);
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    net.propose(1, enc('x'));
    expect(net.node(1).raft.raftLog.committed).toBe(1);
    expect(net.appliedData(1)).toEqual([]);
  });

  it('committing an entry also commits all preceding entries', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], log: entries([1, 1]), term: 1});
    t.node.campaign();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 2}));
    drain(t);
    // Follower 2 stores up to the new leader's empty entry at index 3.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 2, index: 3}));
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(3);
    expect(t.applied.map(e => e.index)).toEqual([1, 2, 3]);
  });

  it('the follower consistency check rejects an append whose previous entry does not match', () => {
    const t = newTestNode({id: 2, voters: [1, 2, 3], log: entries([1, 2]), term: 2});
    t.node.step(
      msg(MessageType.MsgApp, {
        from: 1,
        to: 2,
        term: 3,
        index: 2,
        logTerm: 3,
        entries: entries([3], 3),
      }),
    );
    const [resp] = drain(t);
    expect(resp?.type).toBe(MessageType.MsgAppResp);
    expect(resp?.reject).toBe(true);
    expect(t.node.raft.raftLog.lastIndex()).toBe(2);
    // The hint points at the last index whose term is not above the leader's prev term.
    expect([resp?.rejectHint, resp?.logTerm]).toEqual([2, 2]);
  });

  it('a follower deletes conflicting entries and appends the leader’s', () => {
    const t = newTestNode({id: 2, voters: [1, 2, 3], log: entries([1, 2, 2]), term: 2});
    t.node.step(
      msg(MessageType.MsgApp, {
        from: 1,
        to: 2,
        term: 3,
        index: 1,
        logTerm: 1,
        entries: entries([3, 3], 2),
      }),
    );
    const [resp] = drain(t);
    expect(resp?.reject).toBe(false);
    expect(resp?.index).toBe(3);
    expect(t.storage.entries(1, 4, Infinity).map(e => e.term)).toEqual([1, 3, 3]);
  });

  it('the leader forces divergent follower logs to duplicate its own (Figure 7)', () => {
    // Figure 7's leader log (terms by index) and some of its followers' logs.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followerLogs = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one entry
      [1, 1, 1, 4], // (b) missing many
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra uncommitted entry
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
      [1, 1, 1, 4, 4, 4, 4], // (e) conflicting term-4 entries
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) many conflicting entries
    ];
    for (const followerLog of followerLogs) {
      const net = new Network({voters: [1, 2, 3], nodes: []});
      // Node 1 leads term 8; node 3 is a voter holding the leader's log so it can win.
      const leader = newTestNode({id: 1, voters: [1, 2, 3], log: entries(leaderLog), term: 7});
      const follower = newTestNode({id: 2, voters: [1, 2, 3], log: entries(followerLog), term: 7});
      const third = newTestNode({id: 3, voters: [1, 2, 3], log: entries(leaderLog), term: 7});
      for (const [id, t] of [
        [1, leader],
        [2, follower],
        [3, third],
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
      net.campaign(1);
      expect(net.leader()).toBe(1);
      const want = net
        .peer(1)
        .storage.entries(1, 12, Infinity)
        .map(e => e.term);
      expect(
        net
          .peer(2)
          .storage.entries(1, 12, Infinity)
          .map(e => e.term),
      ).toEqual(want);
      expect(net.node(2).raft.raftLog.committed).toBe(11);
    }
  });
});

describe('§5.4 safety', () => {
  const voteTable: {voterLog: number[]; candIndex: number; candTerm: number; grant: boolean}[] = [
    {voterLog: [1, 2], candIndex: 2, candTerm: 2, grant: true}, // identical
    {voterLog: [1, 2], candIndex: 3, candTerm: 2, grant: true}, // longer, same last term
    {voterLog: [1, 2], candIndex: 1, candTerm: 2, grant: false}, // shorter, same last term
    {voterLog: [1, 2], candIndex: 1, candTerm: 3, grant: true}, // later last term wins
    {voterLog: [1, 2], candIndex: 5, candTerm: 1, grant: false}, // earlier last term loses
  ];
  for (const {voterLog, candIndex, candTerm, grant} of voteTable) {
    it(`§5.4.1 election restriction: a voter with log [${voterLog.join(',')}] ${grant ? 'grants' : 'rejects'} a candidate ending at ${candIndex}/${candTerm}`, () => {
      const t = newTestNode({id: 1, voters: [1, 2, 3], log: entries(voterLog), term: 3});
      t.node.step(
        msg(MessageType.MsgVote, {from: 2, to: 1, term: 4, index: candIndex, logTerm: candTerm}),
      );
      const [resp] = drain(t);
      expect(resp?.type).toBe(MessageType.MsgVoteResp);
      expect(resp?.reject).toBe(!grant);
    });
  }

  it('§5.4.2 Figure 8: a leader does not commit a previous-term entry by counting replicas', () => {
    // Node 1 holds index 2 from term 2 (uncommitted); it becomes leader of term 3.
    const t = newTestNode({id: 1, voters: [1, 2, 3], log: entries([1, 2]), term: 2, commit: 1});
    t.node.campaign();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 3}));
    expect(t.node.raft.state).toBe('leader');
    drain(t);
    // Follower 2 reports it stores index 2: a majority (1, 2) holds the term-2 entry.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 3, index: 2}));
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(1);
    // Once the leader's term-3 entry is on a majority, index 2 commits with it.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 3, index: 3}));
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(3);
  });

  it('§5.4.2 Figure 8: even unanimous replication of a previous-term entry does not commit it', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], log: entries([1, 2]), term: 2, commit: 1});
    t.node.campaign();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 3}));
    drain(t);
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 3, index: 2}));
    t.node.step(msg(MessageType.MsgAppResp, {from: 3, to: 1, term: 3, index: 2}));
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(1);
    expect(t.applied.map(e => e.index)).toEqual([1]);
  });
});
