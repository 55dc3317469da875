import type {Clock, TimerHandle as MemberTimer} from '@synod/server';

import type {SimClock, TimerHandle} from './sim-clock.js';

/** A repeating timer: the handle stays the same while each period is scheduled anew. */
interface Interval {
  current: TimerHandle | undefined;
  cancelled: boolean;
}

/**
 * How many promise hops {@link SimMemberClock.runUntil} lets settle after each event. The
 * member's Ready pass awaits a few promises (persist, apply) per event; a chain longer than
 * this would be cut short and show up as work that never finishes, not as wrong results.
 */
const settleHops = 64;

/**
 * The member's {@link Clock} on the simulator's virtual time: timers are events on a
 * {@link SimClock}, "soon" is an event at the current time, and wall time is a fixed epoch
 * plus virtual time. The member's code runs unchanged on it; no Node timer is ever started.
 *
 * @example
 * const clock = new SimMemberClock(new SimClock());
 * loop = new RaftLoop(node, handlers, 100, clock);
 * loop.start();
 * await clock.runUntil(2000); // twenty ticks, and every Ready they caused, in virtual time
 */
export class SimMemberClock implements Clock {
  constructor(
    private readonly sim: SimClock,
    /** What {@link nowMs} reads at virtual time 0. */
    private readonly epochMs = Date.UTC(2020, 0, 1),
  ) {}

  nowMs(): number {
    return this.epochMs + this.sim.nowMs;
  }

  monotonicMs(): number {
    return this.sim.nowMs;
  }

  setTimeout(fn: () => void, delayMs: number): MemberTimer {
    return this.sim.schedule(Math.max(0, delayMs), fn, 'member timeout');
  }

  setInterval(fn: () => void, intervalMs: number): MemberTimer {
    const period = Math.max(1, intervalMs);
    const interval: Interval = {current: undefined, cancelled: false};
    const arm = () => {
      interval.current = this.sim.schedule(
        period,
        () => {
          if (interval.cancelled) return;
          arm();
          fn();
        },
        'member interval',
      );
    };
    arm();
    return interval;
  }

  clearTimer(handle: MemberTimer | undefined): void {
    if (handle === undefined) return;
    if (isInterval(handle)) {
      handle.cancelled = true;
      if (handle.current !== undefined) this.sim.cancel(handle.current);
      return;
    }
    this.sim.cancel(handle as TimerHandle);
  }

  soon(fn: () => void): void {
    this.sim.schedule(0, fn, 'member soon');
  }

  /**
   * Runs every event due at or before `timeMs`, letting the promise chains each one starts
   * settle before the next, as Node drains microtasks after each callback; then sets the
   * clock to `timeMs`.
   */
  async runUntil(timeMs: number): Promise<void> {
    for (;;) {
      await settle();
      const next = this.sim.nextEventMs();
      if (next === undefined || next > timeMs) break;
      this.sim.step();
    }
    this.sim.runUntil(timeMs);
    await settle();
  }
}

function isInterval(handle: object): handle is Interval {
  return 'current' in handle;
}

async function settle(): Promise<void> {
  for (let i = 0; i < settleHops; i++) await Promise.resolve();
}
