/**
 * One test per known Raft implementation pitfall (the checklist of bugs real implementations
 * shipped), named after the pitfall.
 */
import {ConfChangeType, EntryType, MessageType} from '@synod/proto/raftpb';
import type {ConfChange} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {ConfChangeRefusedError, ConfigError} from './errors.js';
import {MemoryStorage} from './memory-storage.js';
import {RawNode} from './raw-node.js';
import {SeededRng} from './seeded-rng.js';
import {drain, entries, msg, newTestNode} from './testing/fixtures.js';
import {Network} from './testing/network.js';

const enc = (s: string) => new TextEncoder().encode(s);
const addNode = (nodeId: number): ConfChange => ({
  type: ConfChangeType.ConfChangeAddNode,
  nodeId,
  context: new Uint8Array(0),
  id: 0,
});

/** Makes node 1 leader of term 1 in a 3-voter cluster, with followers not yet acknowledging. */
function freshLeader() {
  const t = newTestNode({id: 1, voters: [1, 2, 3]});
  t.node.campaign();
  t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 1}));
  drain(t);
  return t;
}

describe('Raft implementation pitfalls', () => {
  it('pitfall 1 (single-server change bug): no conf change before the leader commits an entry of its term', () => {
    const t = freshLeader();
    expect(t.node.raft.state).toBe('leader');
    expect(() => {
      t.node.proposeConfChange(addNode(4));
    }).toThrow(ConfChangeRefusedError);
    expect(() => {
      t.node.proposeConfChange(addNode(4));
    }).toThrow(/not yet committed an entry in its term/);
    // The empty entry of term 1 commits and is applied: now the change is accepted.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 1, index: 1}));
    drain(t);
    t.node.proposeConfChange(addNode(4));
    const last = t.node.raft.raftLog.allEntries().at(-1);
    expect(last?.type).toBe(EntryType.EntryConfChange);
  });

  it('pitfall 2 (Figure 8): previous-term entries are never committed by counting replicas', () => {
    const t = newTestNode({
      id: 1,
      voters: [1, 2, 3, 4, 5],
      log: entries([1, 1, 2]),
      term: 2,
      commit: 1,
    });
    t.node.campaign();
    for (const id of [2, 3]) t.node.step(msg(MessageType.MsgVoteResp, {from: id, to: 1, term: 3}));
    drain(t);
    for (const id of [2, 3, 4, 5]) {
      t.node.step(msg(MessageType.MsgAppResp, {from: id, to: 1, term: 3, index: 3}));
    }
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(1);
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 3, index: 4}));
    t.node.step(msg(MessageType.MsgAppResp, {from: 3, to: 1, term: 3, index: 4}));
    drain(t);
    expect(t.node.raft.raftLog.committed).toBe(4);
  });

  it('pitfall 3 (stale ReadIndex): a read is held until the new leader commits an entry of its term', () => {
    const t = freshLeader();
    t.node.readIndex(enc('r1'));
    const held = drain(t);
    expect(held.filter(m => m.type === MessageType.MsgHeartbeat)).toEqual([]);
    expect(t.node.raft.pendingReadIndexMessages).toHaveLength(1);
    // The empty entry commits: the read is released with a heartbeat round carrying its ctx.
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 1, index: 1}));
    const sent = drain(t);
    const hbs = sent.filter(m => m.type === MessageType.MsgHeartbeat);
    expect(hbs.map(m => new TextDecoder().decode(m.context))).toEqual(['r1', 'r1']);
    t.node.step(msg(MessageType.MsgHeartbeatResp, {from: 3, to: 1, term: 1, context: enc('r1')}));
    const rd = t.node.ready();
    expect(rd.readStates.map(rs => rs.index)).toEqual([1]);
    t.node.advance();
  });

  it('pitfall 4 (lease reads under pauses): only safe ReadIndex; a cut-off leader never answers', () => {
    expect(
      () =>
        new RawNode({
          id: 1,
          electionTick: 10,
          heartbeatTick: 1,
          storage: new MemoryStorage(),
          rng: new SeededRng(1),
          readOnlyOption: 'lease' as 'safe',
        }),
    ).toThrow(ConfigError);
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true, preVote: true}});
    net.campaign(1);
    net.isolate(1);
    // Paused leader: the others elect a new leader and commit a write meanwhile.
    net.tick(2, 30);
    net.tick(3, 30);
    const newLeader = [2, 3].find(id => net.node(id).raft.state === 'leader') ?? 0;
    expect(newLeader).not.toBe(0);
    expect(net.node(1).raft.state).toBe('leader'); // it has not noticed yet
    net.propose(newLeader, enc('w'));
    net.node(1).readIndex(enc('stale?'));
    net.tick(1, 5);
    expect(net.peer(1).readStates).toEqual([]);
  });

  it('pitfall 5 (acking before persistence): votes and acks travel in the Ready that carries what they promise', () => {
    const f = newTestNode({id: 2, voters: [1, 2, 3]});
    f.node.step(msg(MessageType.MsgVote, {from: 1, to: 2, term: 1}));
    let rd = f.node.ready();
    expect(rd.messages.map(m => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
    expect(rd.hardState).toEqual({term: 1, vote: 1, commit: 0});
    expect(rd.mustSync).toBe(true);
    f.node.advance();
    f.node.step(
      msg(MessageType.MsgApp, {from: 1, to: 2, term: 1, index: 0, entries: entries([1])}),
    );
    rd = f.node.ready();
    expect(rd.entries.map(e => e.index)).toEqual([1]);
    expect(rd.messages.map(m => [m.type, m.index])).toEqual([[MessageType.MsgAppResp, 1]]);
    expect(rd.mustSync).toBe(true);
    f.node.advance();

    // Single voter: an entry is never handed out as committed before it is handed out to persist.
    const net = new Network({voters: [1]});
    net.recordReadies = true;
    net.campaign(1);
    for (let i = 0; i < 5; i++) net.propose(1, enc(`e${i}`));
    const persisted = new Set<number>();
    for (const r of net.peer(1).readies) {
      for (const e of r.entries) persisted.add(e.index);
      for (const e of r.committedEntries) expect(persisted.has(e.index)).toBe(true);
      if (r.hardState !== undefined) {
        expect(persisted.has(r.hardState.commit) || r.hardState.commit === 0).toBe(true);
      }
    }
    expect(net.appliedData(1)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });

  it('pitfall 6 (truncation by stale append): a delayed or duplicated MsgApp never truncates matching entries', () => {
    const t = newTestNode({id: 2, voters: [1, 2, 3], log: entries([1, 1, 1]), term: 1, commit: 1});
    // Duplicate of the message that carried entries 1..2.
    t.node.step(
      msg(MessageType.MsgApp, {
        from: 1,
        to: 2,
        term: 1,
        index: 0,
        logTerm: 0,
        entries: entries([1, 1]),
      }),
    );
    let [resp] = drain(t);
    expect(resp?.index).toBe(1); // below commit: answered with commit, nothing touched
    t.node.step(
      msg(MessageType.MsgApp, {
        from: 1,
        to: 2,
        term: 1,
        index: 1,
        logTerm: 1,
        entries: entries([1], 2),
      }),
    );
    [resp] = drain(t);
    expect([resp?.reject, resp?.index]).toEqual([false, 2]);
    expect(t.node.raft.raftLog.lastIndex()).toBe(3);
    expect(t.storage.lastIndex()).toBe(3);
  });

  it('pitfall 7 (two conf changes in flight): a second change is refused until the first is applied', () => {
    const net = new Network({voters: [1, 2, 3, 4, 5]});
    net.campaign(1);
    // Only node 2 still hears the leader: nothing can commit.
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    net.node(1).proposeConfChange(addNode(6));
    net.stabilize();
    expect(() => {
      net.node(1).proposeConfChange(addNode(7));
    }).toThrow(/possible unapplied conf change/);
    // Forwarded from a follower, the refused change becomes an empty entry at the leader.
    net.node(2).proposeConfChange(addNode(7));
    net.stabilize();
    const tail = net.node(1).raft.raftLog.allEntries().at(-1);
    expect([tail?.type, tail?.data.length]).toEqual([EntryType.EntryNormal, 0]);
    net.recover();
    net.tickAll(1);
    expect(net.node(1).raft.trk.voters.ids).toEqual([1, 2, 3, 4, 5, 6]);
    // Applied: the next change is accepted.
    net.node(1).proposeConfChange(addNode(7));
    net.stabilize();
    expect(net.node(1).raft.trk.voters.ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('pitfall 8 (disruptive rejoin): a partitioned node with pre-vote does not bump terms when it returns', () => {
    const net = new Network({voters: [1, 2, 3], config: {preVote: true, checkQuorum: true}});
    net.campaign(1);
    net.isolate(3);
    net.tick(3, 100);
    expect(net.node(3).raft.term).toBe(1);
    expect(net.node(3).raft.state).toBe('pre-candidate');
    net.recover();
    net.tickAll(3);
    expect(net.leader()).toBe(1);
    expect(net.node(1).raft.term).toBe(1);
    expect(net.node(3).raft.state).toBe('follower');
  });

  it('pitfall 8 (disruptive removed server): inside the leader lease a higher-term vote request is ignored', () => {
    const net = new Network({voters: [1, 2, 3], config: {checkQuorum: true}});
    net.campaign(1);
    net.tickAll(1);
    net.send(msg(MessageType.MsgVote, {from: 3, to: 2, term: 9, index: 100, logTerm: 9}));
    expect(net.node(2).raft.term).toBe(1);
    expect(net.node(2).raft.vote).toBe(1);
    expect(net.leader()).toBe(1);
  });

  it('pitfall 9 (timeout edge): every randomized election timeout is in [T, 2T) and not always T', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3], seed: 7});
    const r = t.node.raft;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      r.becomeFollower(r.term + 1, 0);
      expect(r.randomizedElectionTimeout).toBeGreaterThanOrEqual(r.electionTimeout);
      expect(r.randomizedElectionTimeout).toBeLessThan(2 * r.electionTimeout);
      seen.add(r.randomizedElectionTimeout);
    }
    expect(seen.size).toBe(r.electionTimeout);
  });

  it('pitfall 10 (ack ABA): an append ack names exactly the index the message proved, and old-term acks are ignored', () => {
    // The follower holds a stale tail (2, 2) the leader never sent it.
    const f = newTestNode({id: 2, voters: [1, 2, 3], log: entries([1, 2, 2]), term: 2});
    f.node.step(msg(MessageType.MsgApp, {from: 1, to: 2, term: 3, index: 1, logTerm: 1}));
    const [resp] = drain(f);
    expect([resp?.reject, resp?.index]).toEqual([false, 1]);

    const t = newTestNode({id: 1, voters: [1, 2, 3], log: entries([1]), term: 1});
    t.node.campaign();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 2}));
    drain(t);
    t.node.step(msg(MessageType.MsgAppResp, {from: 3, to: 1, term: 1, index: 2}));
    expect(t.node.status().progress.get(3)?.match).toBe(0);
  });

  it('pitfall 11 (lease TTL across leader change): every leader change surfaces in softState', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.recordReadies = true;
    net.campaign(1);
    net.campaign(2);
    for (const id of [1, 2, 3]) {
      const leads = net
        .peer(id)
        .readies.flatMap(rd => (rd.softState === undefined ? [] : [rd.softState.lead]))
        .filter(l => l !== 0);
      expect(leads).toEqual([1, 2]);
    }
  });

  it('pitfall 12 (snapshot install races): an older snapshot after a newer one is ignored; a matching one keeps the log', () => {
    const snap = (index: number, term: number) => ({
      data: enc(`state@${index}`),
      metadata: {index, term, confState: {voters: [1, 2, 3], learners: []}},
    });
    const t = newTestNode({id: 2, voters: [1, 2, 3], term: 1});
    t.node.step(msg(MessageType.MsgSnap, {from: 1, to: 2, term: 2, snapshot: snap(10, 2)}));
    let rd = t.node.ready();
    expect(rd.snapshot?.metadata?.index).toBe(10);
    expect(rd.messages[0]?.index).toBe(10);
    t.storage.applySnapshot(rd.snapshot!);
    t.node.advance();
    t.node.step(msg(MessageType.MsgSnap, {from: 1, to: 2, term: 2, snapshot: snap(5, 2)}));
    rd = t.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages[0]?.index).toBe(10);
    t.node.advance();

    // A follower that already has the snapshot's last entry keeps its suffix.
    const g = newTestNode({id: 3, voters: [1, 2, 3], log: entries([1, 1, 1, 1]), term: 1});
    g.node.step(msg(MessageType.MsgSnap, {from: 1, to: 3, term: 1, snapshot: snap(2, 1)}));
    rd = g.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(g.node.raft.raftLog.lastIndex()).toBe(4);
    expect(g.node.raft.raftLog.committed).toBe(2);
    g.node.advance();
  });

  it('pitfall 13 (transfer while holding a read lease): the old leader cannot answer reads after handing over', () => {
    const net = new Network({voters: [1, 2, 3]});
    net.campaign(1);
    net.propose(1, enc('a'));
    net.node(1).transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
    // Node 1 never heard of it (its links are cut right after the TimeoutNow) and reads.
    const net2 = new Network({voters: [1, 2, 3]});
    net2.campaign(1);
    net2.node(1).transferLeader(2);
    for (const id of [1, 2, 3]) net2.processReady(id);
    const timeoutNow = net2.takeMessages();
    expect(timeoutNow.map(m => m.type)).toEqual([MessageType.MsgTimeoutNow]);
    net2.isolate(1);
    // The TimeoutNow itself gets through; everything after it from or to node 1 is lost.
    for (const m of timeoutNow) net2.node(m.to).step(m);
    net2.stabilize();
    expect(net2.node(2).raft.state).toBe('leader');
    expect(net2.node(1).raft.state).toBe('leader'); // stale, does not know yet
    net2.node(1).readIndex(enc('read'));
    net2.stabilize();
    net2.tick(1, 3);
    expect(net2.peer(1).readStates).toEqual([]);
    net2.recover();
    net2.tickAll(2);
    expect(net2.node(1).raft.state).toBe('follower');
    expect(net2.peer(1).readStates).toEqual([]);
  });
});
