import type {Lessor} from '@synod/storage';
import {describe, expect, it} from 'vitest';

import type {Clock} from './clock.js';
import type {LeaseTimerRequest} from './lease-timers.js';
import {LeaseTimers} from './lease-timers.js';

/** A clock whose intervals the test fires by hand: `advance(ms)` runs what falls due. */
function manualClock() {
  let now = 0;
  const intervals: {fn: () => void; everyMs: number; nextMs: number; live: boolean}[] = [];
  const clock: Clock = {
    nowMs: () => now,
    monotonicMs: () => now,
    setTimeout: () => ({}),
    setInterval: (fn, everyMs) => {
      const t = {fn, everyMs, nextMs: now + everyMs, live: true};
      intervals.push(t);
      return t;
    },
    clearTimer: handle => {
      if (handle !== undefined) (handle as {live: boolean}).live = false;
    },
    soon: () => undefined,
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = intervals
        .filter(t => t.live && t.nextMs <= until)
        .sort((a, b) => a.nextMs - b.nextMs)[0];
      if (due === undefined) break;
      now = due.nextMs;
      due.nextMs += due.everyMs;
      due.fn();
    }
    now = until;
  };
  return {clock, advance};
}

/** A member reduced to what the timers use, recording what they propose. */
function host(state: {leader: boolean; expired: bigint[]; due: number; checkpointed: bigint[]}) {
  const proposed: LeaseTimerRequest[] = [];
  const pending: (() => void)[] = [];
  const lessor = {
    expired: () => state.expired,
    checkpointsDue: () =>
      Array.from({length: state.due}, (_, i) => ({id: BigInt(i), remainingTtlSeconds: 5})),
    renew: () => 60,
    hasCheckpoint: (id: bigint) => state.checkpointed.includes(id),
  } as unknown as Lessor;
  return {
    proposed,
    /** Lets every proposal made so far succeed. */
    applyAll: () => {
      for (const done of pending.splice(0)) done();
    },
    host: {
      isLeader: () => state.leader,
      lessor: () => lessor,
      propose: (body: LeaseTimerRequest) => {
        proposed.push(body);
        return new Promise<void>(resolve => pending.push(resolve));
      },
      warn: () => undefined,
    },
  };
}

describe('lease timers', () => {
  it('revokes expired leases on the leader only, once while the revocation is in flight', async () => {
    const state = {leader: false, expired: [7n, 8n], due: 0, checkpointed: []};
    const h = host(state);
    const {clock, advance} = manualClock();
    const timers = new LeaseTimers(h.host, clock, 300_000);
    timers.start();
    advance(1000);
    expect(h.proposed).toEqual([]);

    state.leader = true;
    advance(1000);
    expect(h.proposed.map(p => p.$case)).toEqual(['leaseRevoke', 'leaseRevoke']);
    h.applyAll();
    await new Promise(resolve => setImmediate(resolve));
    state.expired = [8n];
    advance(500);
    expect(h.proposed).toHaveLength(3);

    timers.stop();
    advance(5000);
    expect(h.proposed).toHaveLength(3);
  });

  it('checkpoints remaining TTLs every interval, at most 1000 leases a proposal', () => {
    const state = {leader: true, expired: [], due: 2500, checkpointed: []};
    const h = host(state);
    const {clock, advance} = manualClock();
    new LeaseTimers(h.host, clock, 300_000).start();
    advance(299_999);
    expect(h.proposed.filter(p => p.$case === 'leaseCheckpoint')).toHaveLength(0);
    advance(1);
    const sizes = h.proposed.flatMap(p =>
      p.$case === 'leaseCheckpoint' ? [p.value.checkpoints.length] : [],
    );
    expect(sizes).toEqual([1000, 1000, 500]);
  });

  it('clears the checkpoint of a renewed lease through the log, once', () => {
    const state = {leader: true, expired: [], due: 0, checkpointed: [3n]};
    const h = host(state);
    const {clock} = manualClock();
    const timers = new LeaseTimers(h.host, clock, 300_000);
    expect(timers.renew(3n)).toBe(60);
    expect(timers.renew(3n)).toBe(60);
    expect(timers.renew(4n)).toBe(60);
    expect(h.proposed).toEqual([
      {$case: 'leaseCheckpoint', value: {checkpoints: [{ID: 3n, remainingTTL: 0n}]}},
    ]);
  });
});
