import {compare, op} from '@synod/client';
import type {Etcd} from '@synod/client';

import {retryWhileTransient, waitForDelete} from './wait-for-deletes.js';

/**
 * A barrier (etcd's `recipe.Barrier`): while the key exists, {@link wait} blocks; deleting
 * it releases every waiter at once.
 */
export class Barrier {
  constructor(
    private readonly client: Etcd,
    /** The barrier's key. */
    readonly key: string,
  ) {}

  /** Raises the barrier; resolves false if it was already up. */
  async hold(): Promise<boolean> {
    const result = await this.client.kv
      .txn()
      .if(compare.version(this.key, '=', 0))
      .then(op.put(this.key, ''))
      .commit();
    return result.succeeded;
  }

  /** Lowers the barrier, releasing every waiter. */
  async release(): Promise<void> {
    await this.client.kv.delete(this.key, {retry: true});
  }

  /** Resolves once the barrier is down (at once if it is not up). */
  async wait(options: {readonly signal?: AbortSignal} = {}): Promise<void> {
    const {signal} = options;
    for (;;) {
      const read = await retryWhileTransient(
        () => this.client.kv.range(this.key, {keysOnly: true, signal}),
        signal,
      );
      if (read.kvs.length === 0) return;
      await waitForDelete(this.client, Buffer.from(this.key), read.header.revision + 1n, signal);
    }
  }
}
