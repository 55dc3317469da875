import type {Entry} from '@synod/proto/raftpb';
import {EntryType, Message, MessageType} from '@synod/proto/raftpb';
import {MemoryStorage, RawNode, silentLogger} from '@synod/raft';
import {describe, expect, it} from 'vitest';
import {Prng} from '../prng.js';
import type {CheckedNode} from './invariant-checker.js';
import {InvariantChecker} from './invariant-checker.js';
import type {InvariantName} from './invariant-violation.js';
import {InvariantViolation} from './invariant-violation.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function entry(index: number, term: number, data = `e${index}.${term}`): Entry {
  return {index, term, type: EntryType.EntryNormal, data: enc(data)};
}

/** A one-member cluster whose node campaigns and wins at once, at `startTerm + 1`. */
function soloLeader(id: number, startTerm = 0): CheckedNode & {raw: RawNode} {
  const storage = new MemoryStorage({voters: [id], learners: []});
  storage.setHardState({term: startTerm, vote: 0, commit: 0});
  const raw = new RawNode({
    id,
    storage,
    electionTick: 10,
    heartbeatTick: 1,
    rng: new Prng(id),
    logger: silentLogger,
  });
  raw.campaign();
  drain(raw, storage);
  return {id, raw, storage};
}

/** drain handles every Ready: persist, then advance (a solo node has no one to send to). */
function drain(raw: RawNode, storage: MemoryStorage): void {
  while (raw.hasReady()) {
    const rd = raw.ready();
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    raw.advance();
  }
}

function violation(fn: () => void): InvariantName | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvariantViolation) return err.invariant;
    throw err;
  }
  return undefined;
}

function disk(id: number, entries: Entry[]): CheckedNode {
  const storage = new MemoryStorage({voters: [1, 2, 3], learners: []});
  storage.append(entries);
  return {id, raw: undefined, storage};
}

describe('InvariantChecker', () => {
  it('accepts one leader per term and rejects a second leader in the same term', () => {
    const checker = new InvariantChecker();
    const a = soloLeader(1);
    const b = soloLeader(2);
    expect(a.raw.raft.term).toBe(b.raw.raft.term);
    expect(
      violation(() => {
        checker.afterEvent(a);
      }),
    ).toBeUndefined();
    expect(
      violation(() => {
        checker.afterEvent(a);
      }),
    ).toBeUndefined();
    expect(
      violation(() => {
        checker.afterEvent(b);
      }),
    ).toBe('election-safety');
  });

  it('rejects a new leader that lacks an entry committed in an earlier term', () => {
    const checker = new InvariantChecker();
    const old = soloLeader(1);
    old.raw.propose(enc('x'));
    drain(old.raw, old.storage);
    expect(old.raw.raft.raftLog.committed).toBe(2);
    checker.afterEvent(old);
    // A member of a later term whose log never received the committed entries.
    const usurper = soloLeader(2, 5);
    expect(
      violation(() => {
        checker.afterEvent(usurper);
      }),
    ).toBe('leader-completeness');
  });

  it('does not require a stale leader to hold entries committed in later terms', () => {
    const checker = new InvariantChecker();
    const later = soloLeader(1, 5);
    checker.afterEvent(later);
    const stale = soloLeader(2, 2);
    expect(
      violation(() => {
        checker.afterEvent(stale);
      }),
    ).toBeUndefined();
  });

  it('rejects a conf change appended before the leader committed an entry of its term', () => {
    const checker = new InvariantChecker();
    const storage = new MemoryStorage({voters: [1, 2, 3], learners: []});
    const raw = new RawNode({id: 1, storage, electionTick: 10, heartbeatTick: 1, rng: new Prng(1)});
    raw.campaign();
    drain(raw, storage);
    raw.step(Message.fromPartial({type: MessageType.MsgVoteResp, from: 2, to: 1, term: 1}));
    drain(raw, storage);
    // Won, but no follower has acknowledged its empty entry: nothing of term 1 is committed.
    expect(raw.raft.state).toBe('leader');
    const node = {id: 1, raw, storage};
    expect(
      violation(() => {
        checker.onConfChangeAppended(node);
      }),
    ).toBe('single-conf-change');
    const last = raw.raft.raftLog.lastIndex();
    raw.step(
      Message.fromPartial({type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: last}),
    );
    expect(raw.raft.raftLog.committed).toBe(last);
    expect(
      violation(() => {
        checker.onConfChangeAppended(node);
      }),
    ).toBeUndefined();
  });

  it('rejects two members applying different entries at one index', () => {
    const checker = new InvariantChecker();
    checker.onApply(1, entry(1, 1, 'a'), undefined);
    checker.onApply(2, entry(1, 1, 'a'), undefined);
    expect(
      violation(() => {
        checker.onApply(3, entry(1, 1, 'b'), undefined);
      }),
    ).toBe('state-machine-safety');
  });

  it('rejects applying out of order and one operation at two indexes', () => {
    const checker = new InvariantChecker();
    checker.onApply(1, entry(1, 1), 7);
    expect(
      violation(() => {
        checker.onApply(1, entry(3, 1), undefined);
      }),
    ).toBe('applied-order');
    expect(
      violation(() => {
        checker.onApply(2, entry(1, 1), 7);
      }),
    ).toBeUndefined();
    checker.onApply(2, entry(2, 1, 'other'), undefined);
    expect(
      violation(() => {
        checker.onApply(2, entry(3, 1, 'dup'), 7);
      }),
    ).toBe('state-machine-safety');
  });

  it('rejects equal (index, term) with different content or different predecessor', () => {
    const checker = new InvariantChecker();
    const a = disk(1, [entry(1, 1), entry(2, 2, 'x')]);
    checker.afterPersist(a, [entry(1, 1), entry(2, 2, 'x')]);
    const b = disk(2, [entry(1, 1), entry(2, 2, 'y')]);
    expect(
      violation(() => {
        checker.afterPersist(b, [entry(2, 2, 'y')]);
      }),
    ).toBe('log-matching');
    const c = disk(3, [entry(1, 2, 'z'), entry(2, 2, 'x')]);
    expect(
      violation(() => {
        checker.afterPersist(c, [entry(2, 2, 'x')]);
      }),
    ).toBe('log-matching');
  });

  it('rejects a durable vote that changes within a term and a durable term that goes back', () => {
    const checker = new InvariantChecker();
    const node = disk(1, []);
    node.storage.setHardState({term: 3, vote: 2, commit: 0});
    expect(
      violation(() => {
        checker.beforePersist(node, [], {term: 3, vote: 2, commit: 1});
      }),
    ).toBe(undefined);
    expect(
      violation(() => {
        checker.beforePersist(node, [], {term: 3, vote: 1, commit: 0});
      }),
    ).toBe('persisted-state');
    expect(
      violation(() => {
        checker.beforePersist(node, [], {term: 2, vote: 0, commit: 0});
      }),
    ).toBe('persisted-state');
    expect(
      violation(() => {
        checker.beforePersist(node, [], {term: 4, vote: 1, commit: 0});
      }),
    ).toBe(undefined);
  });

  it('rejects overwriting a committed entry on disk', () => {
    const checker = new InvariantChecker();
    const node = disk(1, [entry(1, 1)]);
    checker.onApply(1, entry(1, 1), undefined);
    expect(
      violation(() => {
        checker.beforePersist(node, [entry(1, 2)], undefined);
      }),
    ).toBe('durability');
  });

  it('requires an acknowledged write on enough disks that every quorum holds it', () => {
    const checker = new InvariantChecker();
    checker.recordAck(1, 2, 1);
    const config = {voters: [1, 2, 3], learners: []};
    const nodes = new Map<number, CheckedNode>([
      [1, disk(1, [entry(1, 1), entry(2, 1)])],
      [2, disk(2, [entry(1, 1), entry(2, 1)])],
      [3, disk(3, [entry(1, 1)])],
    ]);
    expect(
      violation(() => {
        checker.checkDurability(nodes, config);
      }),
    ).toBeUndefined();
    nodes.set(2, disk(2, [entry(1, 1)]));
    expect(
      violation(() => {
        checker.checkDurability(nodes, config);
      }),
    ).toBe('durability');
    // With a fourth voter, any quorum of three meets the two holders.
    nodes.set(2, disk(2, [entry(1, 1), entry(2, 1)]));
    nodes.set(4, disk(4, []));
    const four = {voters: [1, 2, 3, 4], learners: []};
    expect(
      violation(() => {
        checker.checkDurability(nodes, four);
      }),
    ).toBeUndefined();
  });

  it('counts an entry compacted into a snapshot as held', () => {
    const checker = new InvariantChecker();
    checker.recordAck(1, 2, 1);
    const compacted = disk(1, [entry(1, 1), entry(2, 1), entry(3, 1)]);
    compacted.storage.createSnapshot(3, undefined, enc('state'));
    compacted.storage.compact(3);
    const nodes = new Map<number, CheckedNode>([
      [1, compacted],
      [2, disk(2, [entry(1, 1), entry(2, 1)])],
      [3, disk(3, [])],
    ]);
    expect(
      violation(() => {
        checker.checkDurability(nodes, {voters: [1, 2, 3], learners: []});
      }),
    ).toBe(undefined);
  });
});
