/**
 * A scheduled callback, as {@link Clock.setTimeout} and {@link Clock.setInterval} return it.
 * Opaque: only the clock that made it can cancel it.
 */
export type TimerHandle = object;

/**
 * Time and timers, as the member and everything it owns see them. Production passes Node's
 * (`nodeClock`); the simulator passes virtual time, where nothing happens between events and
 * a run replays exactly from its seed. Nothing under `member/` reads a clock or starts a timer
 * any other way (lint enforces it), so the simulator can run the member as it ships.
 */
export interface Clock {
  /** Wall-clock time in ms since the epoch: what is written down or compared across restarts. */
  nowMs(): number;
  /** A clock that never goes back, in ms from an arbitrary origin: for deadlines and periods. */
  monotonicMs(): number;
  /** Runs `fn` once after `delayMs`. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  /** Runs `fn` every `intervalMs` until cleared. */
  setInterval(fn: () => void, intervalMs: number): TimerHandle;
  /** Cancels a timeout or an interval; `undefined` and a handle already run are no-ops. */
  clearTimer(handle: TimerHandle | undefined): void;
  /**
   * Runs `fn` once the work already queued for this turn is done (Node's `setImmediate`): what
   * arrives in one event-loop turn is batched into one pass.
   */
  soon(fn: () => void): void;
}

/** Randomness the member draws on, such as raft's election timeout seed. */
export interface RandomSource {
  /** A uniformly random integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** Resolves after `delayMs` on `clock`. */
export function sleepMs(clock: Clock, delayMs: number): Promise<void> {
  return new Promise(resolve => {
    clock.setTimeout(resolve, delayMs);
  });
}
