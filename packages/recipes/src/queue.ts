import {compare, op} from '@synod/client';
import type {Etcd} from '@synod/client';

import {dequeueFirst, padded} from './work-queue.js';

/**
 * A FIFO work queue (etcd's `recipe.Queue`): items are keys under `prefix/`, consumed in
 * the order they were enqueued (by create revision), each by exactly one consumer.
 */
export class Queue {
  private readonly prefix: string;

  constructor(
    private readonly client: Etcd,
    prefix: string,
  ) {
    this.prefix = `${prefix}/`;
  }

  /** Adds an item. */
  async enqueue(value: string): Promise<void> {
    for (;;) {
      // The time orders keys for people reading them; the create revision orders the queue.
      const key = `${this.prefix}${padded(process.hrtime.bigint(), 20)}`;
      const result = await this.client.kv
        .txn()
        .if(compare.version(key, '=', 0))
        .then(op.put(key, value))
        .commit();
      if (result.succeeded) return;
    }
  }

  /** Takes the oldest item, waiting for one if the queue is empty. */
  dequeue(options: {readonly signal?: AbortSignal} = {}): Promise<string> {
    return dequeueFirst(this.client, this.prefix, 'create', options.signal);
  }

  /** How many items are waiting. */
  async size(): Promise<number> {
    return (await this.client.kv.range({prefix: this.prefix}, {countOnly: true})).count;
  }
}
