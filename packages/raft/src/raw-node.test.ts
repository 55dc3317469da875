import {ConfChange, ConfChangeType, EntryType, Message, MessageType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {ConfigError, RaftError, StepLocalMessageError, StepPeerNotFoundError} from './errors.js';
import {MemoryStorage} from './memory-storage.js';
import {RawNode} from './raw-node.js';
import {SeededRng} from './seeded-rng.js';
import {drain, msg, newTestNode} from './testing/fixtures.js';
import {Network} from './testing/network.js';

const base = () => ({
  id: 1,
  electionTick: 10,
  heartbeatTick: 1,
  storage: new MemoryStorage({voters: [1], learners: []}),
  rng: new SeededRng(1),
});

describe('RawNode config validation', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['id 0', {id: 0}, /id must be a positive integer/],
    ['heartbeatTick 0', {heartbeatTick: 0}, /heartbeatTick/],
    [
      'electionTick <= heartbeatTick',
      {electionTick: 1, heartbeatTick: 1},
      /must be greater than heartbeatTick/,
    ],
    ['maxInflightMsgs 0', {maxInflightMsgs: 0}, /maxInflightMsgs/],
    ['negative applied', {applied: -1}, /applied/],
    [
      'maxInflightBytes below maxSizePerMsg',
      {maxInflightBytes: 10, maxSizePerMsg: 100},
      /maxInflightBytes/,
    ],
  ];
  for (const [name, override, re] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => new RawNode({...base(), ...override})).toThrow(ConfigError);
      expect(() => new RawNode({...base(), ...override})).toThrow(re);
    });
  }
});

describe('RawNode', () => {
  it('bootstrap writes one committed AddNode entry per peer, handed out to persist and apply', () => {
    const storage = new MemoryStorage();
    const node = new RawNode({...base(), storage});
    node.bootstrap([{id: 1}, {id: 2}, {id: 3, context: new Uint8Array([7])}]);
    const rd = node.ready();
    expect(rd.hardState).toEqual({term: 1, vote: 0, commit: 3});
    expect(rd.entries.map(e => [e.index, e.term, e.type])).toEqual([
      [1, 1, EntryType.EntryConfChange],
      [2, 1, EntryType.EntryConfChange],
      [3, 1, EntryType.EntryConfChange],
    ]);
    expect(rd.committedEntries).toEqual(rd.entries);
    const ccs = rd.committedEntries.map(e => ConfChange.decode(e.data));
    expect(ccs.map(c => [c.type, c.nodeId])).toEqual([
      [ConfChangeType.ConfChangeAddNode, 1],
      [ConfChangeType.ConfChangeAddNode, 2],
      [ConfChangeType.ConfChangeAddNode, 3],
    ]);
    expect(ccs[2]?.context).toEqual(new Uint8Array([7]));
    storage.append(rd.entries);
    storage.setHardState(rd.hardState!);
    for (const c of ccs) expect(node.applyConfChange(c)).toEqual({voters: [1, 2, 3], learners: []});
    node.advance();
    expect(node.hasReady()).toBe(false);
    expect(() => {
      node.bootstrap([{id: 1}]);
    }).toThrow(/nonempty Storage/);
  });

  it('enforces the ready/advance handshake', () => {
    const node = new RawNode(base());
    expect(() => {
      node.advance();
    }).toThrow(RaftError);
    node.campaign();
    node.ready();
    expect(() => node.ready()).toThrow(/before advance/);
    node.advance();
  });

  it('refuses local message types and responses from unknown peers', () => {
    const node = new RawNode(base());
    expect(() => {
      node.step(msg(MessageType.MsgHup));
    }).toThrow(StepLocalMessageError);
    expect(() => {
      node.step(msg(MessageType.MsgAppResp, {from: 9, term: 1}));
    }).toThrow(StepPeerNotFoundError);
  });

  it('reports soft state and must-sync only when they change', () => {
    const t = newTestNode({id: 1, voters: [1, 2, 3]});
    t.node.campaign();
    let rd = t.node.ready();
    expect(rd.softState).toEqual({lead: 0, raftState: 'candidate'});
    expect(rd.mustSync).toBe(true);
    t.node.advance();
    t.node.step(msg(MessageType.MsgVoteResp, {from: 2, to: 1, term: 1}));
    rd = t.node.ready();
    expect(rd.softState).toEqual({lead: 1, raftState: 'leader'});
    t.storage.append(rd.entries);
    t.node.advance();
    t.node.step(msg(MessageType.MsgAppResp, {from: 2, to: 1, term: 1, index: 1}));
    rd = t.node.ready();
    // Only the commit index moved: persisting it needs no fsync.
    expect(rd.softState).toBeUndefined();
    expect(rd.hardState).toEqual({term: 1, vote: 1, commit: 1});
    expect(rd.mustSync).toBe(false);
    t.node.advance();
  });

  it('status shows the leader’s progress for every member', () => {
    const net = new Network({voters: [1, 2, 3], learners: [4]});
    net.campaign(1);
    net.propose(1, new Uint8Array([1]));
    const st = net.node(1).status();
    expect(st.softState).toEqual({lead: 1, raftState: 'leader'});
    expect(st.hardState).toEqual({term: 1, vote: 1, commit: 2});
    expect([...st.progress.keys()]).toEqual([1, 2, 3, 4]);
    expect(st.progress.get(4)).toMatchObject({
      match: 2,
      next: 3,
      state: 'replicate',
      isLearner: true,
    });
    expect(net.node(2).status().progress.size).toBe(0);
    expect(st.config).toEqual({voters: [1, 2, 3], learners: [4]});
  });

  it('a restarted node does not hand out entries it already applied', () => {
    const t = newTestNode({id: 1, voters: [1]});
    t.node.campaign();
    drain(t);
    t.node.propose(new Uint8Array([1]));
    t.node.propose(new Uint8Array([2]));
    drain(t);
    expect(t.applied.map(e => e.index)).toEqual([1, 2, 3]);
    const restarted = new RawNode({...base(), storage: t.storage, applied: 2});
    const rd = restarted.ready();
    expect(rd.committedEntries.map(e => e.index)).toEqual([3]);
    expect(rd.entries).toEqual([]);
    restarted.advance();
  });

  it('maxCommittedSizePerReady spreads committed entries over several Readies, in order', () => {
    const t = newTestNode({id: 1, voters: [1], config: {maxCommittedSizePerReady: 250}});
    t.node.campaign();
    drain(t);
    for (let i = 0; i < 10; i++) t.node.propose(new Uint8Array(100).fill(i));
    const batches: number[][] = [];
    while (t.node.hasReady()) {
      const rd = t.node.ready();
      t.storage.append(rd.entries);
      batches.push(rd.committedEntries.map(e => e.index));
      t.node.advance();
    }
    expect(batches.flat()).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(Math.max(...batches.map(b => b.length))).toBeLessThanOrEqual(2);
  });

  it('readIndex needs a non-empty context', () => {
    const node = new RawNode(base());
    expect(() => {
      node.readIndex(new Uint8Array());
    }).toThrow(/non-empty/);
  });

  it('is deterministic: the same inputs and seed give the same Ready sequence', () => {
    const run = () => {
      const net = new Network({
        voters: [1, 2, 3],
        seed: 99,
        config: {preVote: true, checkQuorum: true},
      });
      const trace: string[] = [];
      net.msgHook = (m: Message) => {
        trace.push(Message.encode(m).finish().join(','));
        return true;
      };
      net.tickAll(30);
      const lead = net.leader();
      for (let i = 0; i < 5; i++) net.propose(lead, new Uint8Array([i]));
      net.isolate(lead);
      net.tickAll(40);
      return trace;
    };
    const a = run();
    expect(a.length).toBeGreaterThan(50);
    expect(run()).toEqual(a);
  });
});
