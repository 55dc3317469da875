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
  /** Real I/O the members await, in the order they started it (see {@link awaitIo}). */
  private readonly io: {readonly settled: Promise<void>; readonly release: () => void}[] = [];

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
   * Hands `io`, real work a member awaits (an LMDB commit, copy or close), back to the member
   * only once virtual time has stopped for it: {@link runUntil} runs no further event until
   * it settled, and hands results back in the order the work was started, whatever order the
   * operating system finished it in. So a run replays exactly, even with a real backend.
   */
  awaitIo<T>(io: Promise<T>): Promise<T> {
    let release: () => void = () => undefined;
    const gate = new Promise<void>(resolve => {
      release = resolve;
    });
    this.io.push({
      settled: io.then(
        () => undefined,
        () => undefined,
      ),
      release,
    });
    return gate.then(() => io);
  }

  /** Whether a member awaits real I/O that {@link drainIo} has not handed back yet. */
  get ioInFlight(): number {
    return this.io.length;
  }

  /** Waits for every real I/O in flight, handing each back in order and letting its chain run. */
  async drainIo(): Promise<void> {
    await settle();
    for (let first = this.io.shift(); first !== undefined; first = this.io.shift()) {
      await first.settled;
      first.release();
      await settle();
    }
  }

  /**
   * Runs every event due at or before `timeMs`, letting the promise chains each one starts
   * settle before the next, as Node drains microtasks after each callback, and any real I/O
   * they await complete (see {@link awaitIo}); then sets the clock to `timeMs`.
   */
  async runUntil(timeMs: number): Promise<void> {
    for (;;) {
      await this.drainIo();
      const next = this.sim.nextEventMs();
      if (next === undefined || next > timeMs) break;
      this.sim.step();
    }
    this.sim.runUntil(timeMs);
    await this.drainIo();
  }
}

function isInterval(handle: object): handle is Interval {
  return 'current' in handle;
}

async function settle(): Promise<void> {
  for (let i = 0; i < settleHops; i++) await Promise.resolve();
}
