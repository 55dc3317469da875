import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {RawNode, SeededRng} from '@synod/raft';
import {RaftLoop} from '@synod/server';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {Prng} from '../src/prng.js';
import {SimClock} from '../src/sim-clock.js';
import {SimDisk} from '../src/sim-disk.js';
import {SimMemberClock} from '../src/sim-member-clock.js';
import {simRandomSource} from '../src/sim-random-source.js';

const tickIntervalMs = 100;
/** Virtual time an fsync takes on the simulated disk. */
const fsyncMs = 2;

/**
 * One voter run by the shipped RaftLoop over a real RawNode, on virtual time: the disk is a
 * SimDisk whose fsync resolves after `fsyncMs` of virtual time.
 */
function singleVoter(seed: number) {
  const sim = new SimClock();
  const clock = new SimMemberClock(sim);
  const random = simRandomSource(new Prng(seed));
  const disk = new SimDisk();
  const node = new RawNode({
    id: 1,
    electionTick: 10,
    heartbeatTick: 1,
    storage: disk.storage,
    checkQuorum: true,
    preVote: true,
    rng: new SeededRng(random.int(2 ** 31)),
  });
  node.bootstrap([{id: 1}]);
  let ticks = 0;
  const tick = node.tick.bind(node);
  node.tick = () => {
    ticks++;
    tick();
  };
  /** What happened, with the virtual time it happened at. */
  const trace: string[] = [];
  const applied: Entry[] = [];
  const loop = new RaftLoop(
    node,
    {
      persist: rd =>
        new Promise<void>(resolve => {
          clock.setTimeout(() => {
            disk.write(rd);
            resolve();
          }, fsyncMs);
        }),
      send: () => undefined,
      apply: (_snapshot, entries) => {
        for (const e of entries) {
          if (e.type !== EntryType.EntryNormal || e.data.length === 0) continue;
          applied.push(e);
          trace.push(`${sim.nowMs}: applied ${e.index}`);
        }
      },
      onSoftState: state => {
        trace.push(`${sim.nowMs}: ${state.raftState}`);
      },
      onFatal: error => {
        throw error;
      },
    },
    tickIntervalMs,
    clock,
  );
  return {sim, clock, loop, applied, trace, ticks: () => ticks};
}

async function story(seed: number): Promise<string[]> {
  const m = singleVoter(seed);
  m.loop.start();
  try {
    await m.clock.runUntil(3000);
    for (const v of ['a', 'b', 'c']) m.loop.propose(Buffer.from(v));
    await m.clock.runUntil(3100);
    return m.trace;
  } finally {
    m.loop.stop();
  }
}

describe('the shipped RaftLoop on virtual time', () => {
  beforeEach(() => {
    // Every Node timer is faked: one the loop started would be counted, and would never run.
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks by virtual time, elects itself, and applies proposals, starting no real timer', async () => {
    const m = singleVoter(1);
    m.loop.start();
    try {
      await m.clock.runUntil(2000);
      expect(m.ticks()).toBe(2000 / tickIntervalMs);
      expect(m.loop.isLeader).toBe(true);

      for (const v of ['a', 'b', 'c']) m.loop.propose(Buffer.from(v));
      expect(m.applied).toHaveLength(0);
      await m.clock.runUntil(2000 + 10 * fsyncMs);
      expect(m.applied.map(e => Buffer.from(e.data).toString())).toEqual(['a', 'b', 'c']);
      // One Ready for the three proposals: one fsync, then all three applied at once.
      const appliedAt = new Set(
        m.trace.filter(t => t.includes('applied')).map(t => t.split(':')[0]),
      );
      expect(appliedAt.size).toBe(1);
      expect(m.sim.nowMs).toBe(2000 + 10 * fsyncMs);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      m.loop.stop();
    }
    // Stopped: the tick interval is gone from the virtual clock too.
    const ticks = m.ticks();
    await m.clock.runUntil(10_000);
    expect(m.ticks()).toBe(ticks);
  });

  it('replays the same story from the same seed', async () => {
    const first = await story(7);
    expect(first.length).toBeGreaterThan(3);
    expect(await story(7)).toEqual(first);
  });
});
