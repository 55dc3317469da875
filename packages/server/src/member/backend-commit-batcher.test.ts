import {describe, expect, it} from 'vitest';

import {BackendCommitBatcher} from './backend-commit-batcher.js';
import type {Clock, TimerHandle} from './clock.js';

/** A clock whose timeouts run only when the test fires them. */
function manualClock() {
  const due: (() => void)[] = [];
  const clock: Clock = {
    nowMs: () => 0,
    monotonicMs: () => 0,
    setTimeout: fn => {
      due.push(fn);
      return {};
    },
    setInterval: () => ({}),
    clearTimer: (_handle: TimerHandle | undefined) => undefined,
    soon: fn => {
      fn();
    },
  };
  const fire = (): void => {
    for (const fn of due.splice(0)) fn();
  };
  return {clock, fire};
}

describe('backend commit batcher', () => {
  it('hands a commit that fails on its timer to onFailure instead of leaving it unhandled', async () => {
    const {clock, fire} = manualClock();
    const failures: unknown[] = [];
    const broken = new Error('disk gone');
    const batcher = new BackendCommitBatcher(
      () => ({pendingWrites: () => 1, commit: () => Promise.reject(broken)}),
      clock,
      10,
      1000,
      error => failures.push(error),
    );
    batcher.commitSoon();
    expect(failures).toEqual([]);
    fire();
    await new Promise(resolve => setImmediate(resolve));
    expect(failures).toEqual([broken]);
  });

  it('reports a failed commit once, and still rejects for the caller that waits on it', async () => {
    const {clock} = manualClock();
    const failures: unknown[] = [];
    const broken = new Error('disk gone');
    const batcher = new BackendCommitBatcher(
      () => ({pendingWrites: () => 0, commit: () => Promise.reject(broken)}),
      clock,
      10,
      1000,
      error => failures.push(error),
    );
    await expect(batcher.commitNow()).rejects.toBe(broken);
    expect(failures).toEqual([broken]);
  });

  it('commits at once when the batch is full, and tells nobody of a commit that lands', async () => {
    const {clock} = manualClock();
    const failures: unknown[] = [];
    let commits = 0;
    const batcher = new BackendCommitBatcher(
      () => ({
        pendingWrites: () => 5,
        commit: () => {
          commits++;
          return Promise.resolve();
        },
      }),
      clock,
      10,
      5,
      error => failures.push(error),
    );
    batcher.commitSoon();
    await new Promise(resolve => setImmediate(resolve));
    expect(commits).toBe(1);
    expect(failures).toEqual([]);
  });
});
