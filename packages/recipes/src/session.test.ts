import {describe, expect, it} from 'vitest';

import {statusOnLease} from './session.js';
import type {LeaseState} from './session.js';

const kept: LeaseState = {
  id: 1n,
  ttlSec: 5,
  expiresAtMs: 10_000,
  remainingTtlMs: 4_000,
  active: true,
  inactiveSinceMs: undefined,
};

function notKept(inactiveSinceMs: number | undefined): LeaseState {
  return {...kept, remainingTtlMs: 0, active: false, inactiveSinceMs};
}

/** Status and since when, as one line of a story. */
function step(state: {readonly status: string; readonly sinceMs: number}): string {
  return `${state.status}@${state.sinceMs}`;
}

describe('statusOnLease: what a lock reports when its lease goes', () => {
  it.each([
    ['held on a kept lease: held', 'held', 100, kept, 'held@100'],
    ['waiting when the lease is lost: still waiting', 'waiting', 100, notKept(50), 'waiting@100'],
    ['held, lease lost later: lost since the loss', 'held', 100, notKept(150), 'lost@150'],
    ['held after the lease was lost: lost since the hold', 'held', 200, notKept(150), 'lost@200'],
    ['held, loss time unknown: lost since the hold', 'held', 100, notKept(undefined), 'lost@100'],
  ] as const)('%s', (_scenario, status, sinceMs, lease, expected) => {
    expect(step(statusOnLease(status, sinceMs, lease, ['held']))).toBe(expected);
  });
});
