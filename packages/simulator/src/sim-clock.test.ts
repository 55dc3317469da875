import {describe, expect, it} from 'vitest';
import {EventQueue} from './event-queue.js';
import {Prng} from './prng.js';
import {SimClock} from './sim-clock.js';

describe('EventQueue', () => {
  it('pops by time, and by insertion order among equal times', () => {
    const q = new EventQueue<string>();
    const prng = new Prng(5);
    const pushed: {t: number; v: string}[] = [];
    for (let i = 0; i < 200; i++) {
      const t = prng.nextInt(20);
      pushed.push({t, v: `e${i}`});
      q.push(t, `e${i}`);
    }
    const expected = [...pushed].sort((a, b) => a.t - b.t).map(e => e.v);
    const popped: string[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.value);
    expect(popped).toEqual(expected);
  });
});

describe('SimClock', () => {
  it('runs events in time order and advances virtual time to each', () => {
    const clock = new SimClock();
    const log: string[] = [];
    clock.schedule(10, () => log.push(`b@${clock.nowMs}`));
    clock.schedule(5, () => {
      log.push(`a@${clock.nowMs}`);
      clock.schedule(0, () => log.push(`a2@${clock.nowMs}`));
    });
    clock.schedule(10, () => log.push(`c@${clock.nowMs}`));
    clock.runUntil(100);
    expect(log).toEqual(['a@5', 'a2@5', 'b@10', 'c@10']);
    expect(clock.nowMs).toBe(100);
    expect(clock.eventsRun).toBe(4);
  });

  it('skips cancelled timers and stops at the requested time', () => {
    const clock = new SimClock();
    const log: number[] = [];
    const t = clock.schedule(3, () => log.push(3));
    clock.schedule(4, () => log.push(4));
    clock.schedule(50, () => log.push(50));
    clock.cancel(t);
    clock.runUntil(10);
    expect(log).toEqual([4]);
    expect(clock.nextEventMs()).toBe(50);
    expect(() => clock.schedule(-1, () => undefined)).toThrow(RangeError);
  });
});
