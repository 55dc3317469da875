import {describe, expect, it} from 'vitest';

import {AutoCompactor} from './auto-compactor.js';
import type {CompactionTarget} from './auto-compactor.js';

/** A clock that reads `now()` and starts no timers: the tests call tick() themselves. */
function clockAt(now: () => number) {
  return {
    monotonicMs: now,
    setInterval: () => ({}),
    clearTimer: () => undefined,
  };
}

/** A member reduced to what the compactor reads, recording the compactions it is asked for. */
function fakeMember(state: {rev: number; firstRev: number; leader: boolean}) {
  const proposed: bigint[] = [];
  const member = {
    store: {rev: () => state.rev, firstRev: () => state.firstRev},
    get isLeader() {
      return state.leader;
    },
    propose(body: {$case: string; value: {revision: bigint}}) {
      proposed.push(body.value.revision);
      state.firstRev = Number(body.value.revision);
      return Promise.resolve({ok: true});
    },
  };
  return {member: member as unknown as CompactionTarget, proposed};
}

describe('auto-compaction', () => {
  it('periodic: checks every tenth of the retention and keeps one retention of history', () => {
    const state = {rev: 1, firstRev: -1, leader: true};
    const {member, proposed} = fakeMember(state);
    let now = 0;
    const c = new AutoCompactor(
      member,
      'periodic',
      10_000,
      clockAt(() => now),
    );
    expect(c.intervalMs).toBe(1000);
    for (let t = 0; t <= 12_000; t += 1000) {
      now = t;
      state.rev = 100 + t / 100; // ten revisions a second
      c.tick();
    }
    // At 10 s the sample from 0 s (revision 100) became due; at 12 s the one from 2 s (120).
    expect(proposed).toEqual([100n, 110n, 120n]);
  });

  it('periodic: checks hourly once the retention is an hour or more', () => {
    const {member} = fakeMember({rev: 1, firstRev: -1, leader: true});
    expect(
      new AutoCompactor(
        member,
        'periodic',
        3 * 3_600_000,
        clockAt(() => 0),
      ).intervalMs,
    ).toBe(3_600_000);
  });

  it('revision: compacts to the current revision minus the retention', () => {
    const state = {rev: 1050, firstRev: -1, leader: true};
    const {member, proposed} = fakeMember(state);
    const c = new AutoCompactor(
      member,
      'revision',
      1000,
      clockAt(() => 0),
    );
    expect(c.intervalMs).toBe(300_000);
    c.tick();
    c.tick();
    state.rev = 1400;
    c.tick();
    expect(proposed).toEqual([50n, 400n]);
  });

  it('leaves compaction to the leader', () => {
    const {member, proposed} = fakeMember({rev: 5000, firstRev: -1, leader: false});
    new AutoCompactor(
      member,
      'revision',
      10,
      clockAt(() => 0),
    ).tick();
    expect(proposed).toEqual([]);
  });
});
