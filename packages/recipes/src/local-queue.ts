import type {Session} from './session.js';
import {raceAbort, throwIfAborted} from './wait-for-deletes.js';

const queues = new WeakMap<Session, Map<string, LocalQueue>>();

/**
 * @internal A first-come first-served turnstile inside one process: `enter()` resolves
 * with a `leave` function when every earlier caller has left. Recipes use it so that the
 * callers of one session, which share one key, take turns in arrival order.
 */
export class LocalQueue {
  private tail: Promise<void> = Promise.resolve();

  /**
   * The queue of a session's key: every recipe object of one session and key shares the
   * key, so they must share the queue too.
   */
  static of(session: Session, key: string): LocalQueue {
    let byKey = queues.get(session);
    if (byKey === undefined) {
      byKey = new Map();
      queues.set(session, byKey);
    }
    let queue = byKey.get(key);
    if (queue === undefined) {
      queue = new LocalQueue();
      byKey.set(key, queue);
    }
    return queue;
  }
  private waiting = 0;

  /** Whether someone is inside or waiting. */
  get busy(): boolean {
    return this.waiting > 0;
  }

  async enter(signal?: AbortSignal): Promise<() => void> {
    throwIfAborted(signal);
    let leave = (): void => {};
    const left = new Promise<void>(resolve => {
      leave = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => left);
    this.waiting++;
    let once = false;
    const leaveOnce = (): void => {
      if (once) return;
      once = true;
      this.waiting--;
      leave();
    };
    try {
      await raceAbort(previous, signal);
    } catch (error) {
      // Our turn passes straight to the next caller once the one ahead leaves.
      leaveOnce();
      throw error;
    }
    return leaveOnce;
  }
}
