import {getEventListeners} from 'node:events';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';

import {startSynod} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {Election, Mutex, Session} from '../src/index.js';
import {clusterForSuite, uniqueName} from './servers.js';

/** Heap in use after a full garbage collection, in MiB. */
function heapAfterGcMiB(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/**
 * An application passes one long-lived signal (its shutdown signal) to every acquisition.
 * Each acquisition used to leave listeners on it for ever; none may stay once a call settles.
 */
describe('one long-lived AbortSignal across many acquisitions', () => {
  const suite = clusterForSuite(startSynod);
  let session: Session;

  beforeAll(async () => {
    session = await Session.create(suite.client, {ttlSec: 30});
  });
  // Runs before the suite's cluster and client are closed: after-hooks run last-in first-out.
  afterAll(async () => {
    await session.close();
  });

  // Any listener left behind shows in the count after the first round; the heap check needs
  // enough rounds for a leak of a closure per acquisition (a few hundred bytes) to stand
  // out of the collector's noise: 3,000 such closures are about 1 MiB.
  it('leaves no listener on the signal and a flat heap over 3,000 mutex acquisitions', async () => {
    const shutdown = new AbortController();
    const mutex = new Mutex(session, uniqueName('leak-lock'));
    const round = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const handle = await mutex.acquire({signal: shutdown.signal});
        await handle.release();
      }
    };
    await round(500);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    const heapBefore = heapAfterGcMiB();
    await round(2_500);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    // Measured: 0.1 to 0.2 MiB of growth.
    expect(heapAfterGcMiB() - heapBefore).toBeLessThan(3);
  }, 120_000);

  it('leaves no listener on the signal after campaigns and a refused acquisition', async () => {
    const shutdown = new AbortController();
    const election = new Election(session, uniqueName('leak-election'));
    for (let i = 0; i < 200; i++) {
      await election.campaign(`v${i}`, {signal: shutdown.signal});
      await election.resign();
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    const other = await Session.create(suite.client, {ttlSec: 30});
    try {
      const name = uniqueName('leak-wait');
      const held = await new Mutex(session, name).acquire();
      const waiting = new AbortController();
      const refused = new Mutex(other, name).acquire({signal: waiting.signal});
      setTimeout(() => {
        waiting.abort(new Error('gave up'));
      }, 50);
      await expect(refused).rejects.toThrow('gave up');
      expect(getEventListeners(waiting.signal, 'abort')).toHaveLength(0);
      await held.release();
    } finally {
      await other.close();
    }
  });
});
