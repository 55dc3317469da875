import {randomInt} from 'node:crypto';
import {performance} from 'node:perf_hooks';

import type {Clock, RandomSource, TimerHandle} from '../member/clock.js';

/** Node's time and timers: what a member runs on outside the simulator. */
export const nodeClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  setInterval: (fn, intervalMs) => setInterval(fn, intervalMs),
  clearTimer: (handle: TimerHandle | undefined) => {
    // Node's clearTimeout clears intervals too.
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
  soon: fn => {
    setImmediate(fn);
  },
};

/** Node's cryptographic randomness. */
export const nodeRandom: RandomSource = {
  int: maxExclusive => randomInt(maxExclusive),
};
