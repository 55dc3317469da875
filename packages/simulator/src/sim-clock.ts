import {EventQueue} from './event-queue.js';

/** A handle to a scheduled callback, for {@link SimClock.cancel}. */
export interface TimerHandle {
  cancelled: boolean;
  readonly label: string;
}

interface Timer extends TimerHandle {
  readonly fn: () => void;
}

/**
 * SimClock is virtual time: an event queue and a clock that jumps to the next event. Nothing
 * happens between events, so a simulated second costs only the work done in it.
 *
 * @example
 * const clock = new SimClock();
 * clock.schedule(10, () => console.log(clock.nowMs)); // prints 10
 * clock.runUntil(100);
 */
export class SimClock {
  private readonly queue = new EventQueue<Timer>();
  private now = 0;
  private executed = 0;

  /** The current virtual time in milliseconds since the start of the run. */
  get nowMs(): number {
    return this.now;
  }

  /** How many events have run so far. */
  get eventsRun(): number {
    return this.executed;
  }

  /** How many events are scheduled (including cancelled ones not yet reached). */
  get pending(): number {
    return this.queue.size;
  }

  /** schedule runs `fn` after `delayMs` (>= 0) of virtual time. */
  schedule(delayMs: number, fn: () => void, label = ''): TimerHandle {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
      throw new RangeError(`delay must be a finite number >= 0, got ${delayMs}`);
    }
    const timer: Timer = {fn, label, cancelled: false};
    this.queue.push(this.now + delayMs, timer);
    return timer;
  }

  /** cancel stops a scheduled callback from running; cancelling twice is harmless. */
  cancel(handle: TimerHandle): void {
    handle.cancelled = true;
  }

  /** nextEventMs returns the time of the next event, or undefined when the queue is empty. */
  nextEventMs(): number | undefined {
    return this.queue.peek()?.timeMs;
  }

  /**
   * step runs the earliest event, advancing the clock to its time. Returns the timer that ran,
   * or undefined when nothing is scheduled.
   */
  step(): TimerHandle | undefined {
    for (;;) {
      const event = this.queue.pop();
      if (event === undefined) return undefined;
      if (event.value.cancelled) continue;
      this.now = event.timeMs;
      this.executed++;
      event.value.fn();
      return event.value;
    }
  }

  /**
   * runUntil runs every event scheduled at or before `timeMs` (including ones scheduled while
   * running), then sets the clock to `timeMs`. `afterEach` runs after each event.
   */
  runUntil(timeMs: number, afterEach?: (ran: TimerHandle) => void): void {
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.timeMs > timeMs) break;
      const ran = this.step();
      if (ran !== undefined) afterEach?.(ran);
    }
    if (timeMs > this.now) this.now = timeMs;
  }
}
