import {compare, op} from '@synod/client';

import {LocalQueue} from './local-queue.js';
import {LockHandle} from './lock-handle.js';
import {SessionExpiredError, leaseHex} from './mutex.js';
import type {AcquireOptions} from './mutex.js';
import type {Session} from './session.js';
import {retryWhileTransient, waitForEvent} from './wait-for-deletes.js';

/**
 * A counting semaphore: at most `permits` holders at once, served in arrival order. Each
 * contender queues as `name/<lease in hex>` on its session's lease (like a {@link Mutex});
 * the `permits` oldest keys hold a permit. Every contender must use the same `permits`.
 */
export class Semaphore {
  private readonly prefix: string;
  private readonly local: LocalQueue;

  constructor(
    private readonly session: Session,
    /** The semaphore's name; keys live under `name + '/'`. */
    readonly name: string,
    /** How many holders may hold a permit at once. */
    readonly permits: number,
  ) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`permits must be a positive integer, got ${permits}`);
    }
    this.prefix = `${name}/`;
    this.local = LocalQueue.of(session, this.prefix);
  }

  private get key(): string {
    return this.prefix + leaseHex(this.session.lease);
  }

  /**
   * Waits for a permit. The handle's fencing token is the queue key's create revision;
   * `release()` gives the permit back.
   */
  async acquire(options: AcquireOptions = {}): Promise<LockHandle> {
    const {signal} = options;
    const leave = await this.local.enter(signal);
    const client = this.session.client;
    let myRevision: bigint | undefined;
    try {
      const created = await client.kv
        .txn()
        .if(compare.createRevision(this.key, '=', 0))
        .then(op.put(this.key, '', {lease: this.session.lease}))
        .else(op.get(this.key))
        .commit();
      const existing = created.responses[0];
      myRevision = created.succeeded
        ? created.header.revision
        : existing?.type === 'range'
          ? existing.kvs[0]?.createRevision
          : undefined;
      if (myRevision === undefined) throw new SessionExpiredError(`semaphore ${this.name}`);
      const mine = myRevision;
      for (;;) {
        const ahead = await retryWhileTransient(
          () =>
            client.kv.range(
              {prefix: this.prefix},
              {maxCreateRevision: mine, keysOnly: true, countOnly: true, signal},
            ),
          signal,
        );
        const me = await client.kv.get(this.key, {signal});
        if (me?.createRevision !== mine) throw new SessionExpiredError(`semaphore ${this.name}`);
        // `ahead.count` counts this key and every older one.
        if (ahead.count <= this.permits) break;
        await waitForEvent(
          client,
          {prefix: this.prefix},
          ahead.header.revision + 1n,
          batch => batch.events.some(e => e.type === 'delete'),
          signal,
          ['noPut'],
        );
      }
      return new LockHandle(this.session, this.key, mine, leave);
    } catch (error) {
      if (myRevision !== undefined) {
        await client.kv
          .txn()
          .if(compare.createRevision(this.key, '=', myRevision))
          .then(op.delete(this.key))
          .commit()
          .catch(() => undefined);
      }
      leave();
      throw error;
    }
  }
}
