/**
 * Seeded random runs of a 3- or 5-voter cluster under message loss, duplication, reordering,
 * partitions, restarts and log compaction, checking Raft's safety properties after every
 * action and liveness after the faults heal. A failure names its seed; rerun it alone with
 * `it.only` on that seed.
 */
import type {Message} from '@synod/proto/raftpb';
import type {ConfChange, ConfState} from '@synod/proto/raftpb';
import {ConfChangeType, MessageType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {ConfChangeRefusedError, ProposalDroppedError} from './errors.js';
import {SeededRng} from './seeded-rng.js';
import {Network} from './testing/network.js';

interface Checker {
  leaders: Map<number, number>;
  /**
   * Applied entries by index, with a bound on the term in which they were committed: the
   * highest term any node had when the entry was first seen applied.
   */
  applied: Map<number, {key: string; termBound: number}>;
}

function entryKey(term: number, data: Uint8Array): string {
  return `${term}:${data.join(',')}`;
}

function checkSafety(net: Network, c: Checker, seed: number): void {
  let maxTerm = 0;
  for (const p of net.peers.values()) maxTerm = Math.max(maxTerm, p.node.raft.term);
  for (const [id, p] of net.peers) {
    const r = p.node.raft;
    // Election safety: at most one leader per term.
    if (r.state === 'leader') {
      const prev = c.leaders.get(r.term);
      if (prev !== undefined && prev !== id) {
        throw new Error(`seed ${seed}: two leaders in term ${r.term}: ${prev} and ${id}`);
      }
      c.leaders.set(r.term, id);
      // Leader completeness: a leader of a later term than an entry's commit holds it (unless
      // it compacted it away behind its own snapshot).
      const log = r.raftLog;
      for (const [index, {key, termBound}] of c.applied) {
        if (index < log.firstIndex() || r.term <= termBound) continue;
        const e = index <= log.lastIndex() ? log.slice(index, index + 1, Infinity)[0] : undefined;
        if (e === undefined || entryKey(e.term, e.data) !== key) {
          throw new Error(
            `seed ${seed}: leader ${id} (term ${r.term}) lacks applied entry ${index}`,
          );
        }
      }
    }
    const log = r.raftLog;
    if (!(log.applied <= log.committed && log.committed <= log.lastIndex())) {
      throw new Error(
        `seed ${seed}: node ${id} applied ${log.applied} commit ${log.committed} last ${log.lastIndex()}`,
      );
    }
    // State machine safety: every node applies the same entry at each index.
    for (const e of p.applied) {
      const k = entryKey(e.term, e.data);
      const prev = c.applied.get(e.index);
      if (prev === undefined) {
        c.applied.set(e.index, {key: k, termBound: maxTerm});
      } else if (prev.key !== k) {
        throw new Error(`seed ${seed}: node ${id} applied ${k} at ${e.index}, another ${prev.key}`);
      }
    }
    // Applied indexes are contiguous (a snapshot may skip ahead).
    for (let i = 1; i < p.applied.length; i++) {
      const a = p.applied[i - 1]!;
      const b = p.applied[i]!;
      if (b.index !== a.index + 1 && b.index <= a.index) {
        throw new Error(`seed ${seed}: node ${id} applied ${b.index} after ${a.index}`);
      }
    }
  }
}

/** The leader of the highest term, or 0 (a deposed leader may not know it yet). */
function newestLeader(net: Network): number {
  let lead = 0;
  let term = -1;
  for (const [id, p] of net.peers) {
    if (p.node.raft.state === 'leader' && p.node.raft.term > term) {
      lead = id;
      term = p.node.raft.term;
    }
  }
  return lead;
}

/** A random single-member change of the configuration `cs`, or undefined if none fits. */
function randomConfChange(
  rng: SeededRng,
  cs: ConfState,
  spares: readonly number[],
): ConfChange | undefined {
  const change = (type: ConfChangeType, nodeId: number): ConfChange => ({
    type,
    nodeId,
    context: new Uint8Array(0),
    id: 0,
  });
  const outside = spares.filter(id => !cs.voters.includes(id) && !cs.learners.includes(id));
  switch (rng.nextInt(4)) {
    case 0:
      return outside.length > 0
        ? change(ConfChangeType.ConfChangeAddLearnerNode, outside[rng.nextInt(outside.length)]!)
        : undefined;
    case 1:
      return cs.learners.length > 0
        ? change(ConfChangeType.ConfChangeAddNode, cs.learners[rng.nextInt(cs.learners.length)]!)
        : undefined;
    case 2:
      // Keep at least three voters so that the cluster stays live with one node down.
      return cs.voters.length > 3
        ? change(ConfChangeType.ConfChangeRemoveNode, cs.voters[rng.nextInt(cs.voters.length)]!)
        : undefined;
    default:
      return cs.learners.length > 0
        ? change(ConfChangeType.ConfChangeRemoveNode, cs.learners[rng.nextInt(cs.learners.length)]!)
        : undefined;
  }
}

function runSeed(seed: number, voters: number[], steps: number): void {
  const rng = new SeededRng(seed);
  const spares = [voters.length + 1, voters.length + 2];
  const net = new Network({
    voters,
    nodes: [...voters, ...spares],
    seed,
    // Swarm-style: each seed picks its own options.
    config: {
      preVote: rng.nextInt(2) === 0,
      checkQuorum: rng.nextInt(2) === 0,
      maxInflightMsgs: 1 + rng.nextInt(8),
      maxSizePerMsg: rng.nextInt(2) === 0 ? 40 : Infinity,
      maxUncommittedEntriesSize: rng.nextInt(2) === 0 ? 64 : 0,
    },
  });
  const checker: Checker = {leaders: new Map(), applied: new Map()};
  let pool: Message[] = [];
  let proposals = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rng.nextInt(xs.length)]!;
  const ids = [...voters, ...spares];
  const enc = new TextEncoder();

  for (let step = 0; step < steps; step++) {
    const roll = rng.nextInt(100);
    if (roll < 35 && pool.length > 0) {
      // Deliver a random message: reordering. Sometimes keep a copy: duplication.
      const i = rng.nextInt(pool.length);
      const m = pool[i]!;
      if (rng.nextInt(10) !== 0) pool.splice(i, 1);
      net.deliver(m);
    } else if (roll < 40 && pool.length > 0) {
      // Loss. The transport contract: a lost snapshot is reported to the leader.
      const [lost] = pool.splice(rng.nextInt(pool.length), 1);
      if (lost?.type === MessageType.MsgSnap) net.node(lost.from).reportSnapshot(lost.to, false);
    } else if (roll < 60) {
      net.processReady(pick(ids));
    } else if (roll < 80) {
      net.node(pick(ids)).tick();
    } else if (roll < 88) {
      try {
        net.node(pick(ids)).propose(enc.encode(`p${proposals++}`));
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
      }
    } else if (roll < 90) {
      net.recover();
      if (rng.nextInt(2) === 0) net.isolate(pick(ids));
    } else if (roll < 91) {
      net.restart(pick(ids));
    } else if (roll < 93) {
      // Compact some node's log behind its applied index.
      const p = net.peer(pick(ids));
      const applied = p.applied.at(-1)?.index ?? 0;
      const snapIndex = p.storage.snapshot().metadata?.index ?? 0;
      if (applied > snapIndex + 2 && applied <= p.storage.lastIndex()) {
        p.storage.createSnapshot(applied, p.node.raft.trk.confState(), enc.encode(`s${applied}`));
        p.storage.compact(applied);
      }
    } else if (roll < 94) {
      const lead = newestLeader(net);
      const cc =
        lead === 0 ? undefined : randomConfChange(rng, net.node(lead).raft.trk.confState(), spares);
      if (cc !== undefined) {
        try {
          net.node(pick(ids)).proposeConfChange(cc);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError || err instanceof ConfChangeRefusedError)) {
            throw err;
          }
        }
      }
    } else if (roll < 96) {
      try {
        net.node(pick(ids)).readIndex(enc.encode(`r${step}`));
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
      }
    }
    pool = pool.concat(net.takeMessages());
    checkSafety(net, checker, seed);
  }

  // Liveness: heal everything; a leader emerges and a new proposal reaches every node.
  net.recover();
  for (const m of pool) net.deliver(m);
  net.stabilize();
  let lead = 0;
  for (let i = 0; i < 200 && lead === 0; i++) {
    net.tickAll(1);
    lead = newestLeader(net);
  }
  expect(lead, `seed ${seed}: no leader after healing`).not.toBe(0);
  // A transport stops talking to removed members; they could otherwise disrupt elections.
  const members = net.node(lead).raft.trk.ids();
  for (const id of ids) {
    if (!members.includes(id)) net.isolate(id);
  }
  // A snapshot may predate a member's addition and be unusable for it: take a fresh one.
  const lp = net.peer(lead);
  const lastApplied = lp.applied.at(-1)?.index ?? 0;
  if (lastApplied > (lp.storage.snapshot().metadata?.index ?? 0)) {
    lp.storage.createSnapshot(lastApplied, lp.node.raft.trk.confState(), enc.encode('fresh'));
  }
  // A proposal accepted by a leader that is already deposed is lost, as Raft allows: retry.
  const hasFinal = (id: number) => net.appliedData(id).includes('final');
  for (let attempt = 0; attempt < 30 && !members.every(hasFinal); attempt++) {
    lead = newestLeader(net);
    try {
      if (lead !== 0) net.propose(lead, enc.encode('final'));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    for (let i = 0; i < 20 && !members.every(hasFinal); i++) net.tickAll(1);
  }
  checkSafety(net, checker, seed);
  for (const id of members) {
    expect(hasFinal(id), `seed ${seed}: node ${id} did not apply the final entry`).toBe(true);
  }
}

describe('random faults', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const voters = seed % 2 === 0 ? [1, 2, 3] : [1, 2, 3, 4, 5];
    it(`seed ${seed}: ${voters.length} voters with membership changes stay safe and recover`, () => {
      runSeed(seed, voters, 3000);
    });
  }
});
