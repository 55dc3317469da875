import {compare, op} from '@synod/client';
import type {Etcd} from '@synod/client';

import {dequeueFirst, padded} from './work-queue.js';

/**
 * A priority queue (etcd's `recipe.PriorityQueue` layout: `prefix/<%05d priority>/<%016d
 * sequence>`): the item with the lowest priority number goes first, and items of one
 * priority in the order they were added.
 */
export class PriorityQueue {
  private readonly prefix: string;

  constructor(
    private readonly client: Etcd,
    prefix: string,
  ) {
    this.prefix = `${prefix}/`;
  }

  /** Adds an item with a priority in [0, 99999], lower first. */
  async enqueue(value: string, priority: number): Promise<void> {
    if (!Number.isInteger(priority) || priority < 0 || priority > 99_999) {
      throw new RangeError(`priority must be an integer in [0, 99999], got ${priority}`);
    }
    const bucket = `${this.prefix}${padded(BigInt(priority), 5)}/`;
    for (;;) {
      const last = await this.client.kv.range(
        {prefix: bucket},
        {sort: {target: 'key', order: 'descend'}, limit: 1, keysOnly: true},
      );
      const lastKey = last.kvs[0]?.keyString;
      const next = lastKey === undefined ? 0n : BigInt(lastKey.slice(bucket.length)) + 1n;
      const key = bucket + padded(next, 16);
      const result = await this.client.kv
        .txn()
        .if(compare.version(key, '=', 0))
        .then(op.put(key, value))
        .commit();
      if (result.succeeded) return;
    }
  }

  /** Takes the first item by priority, waiting for one if the queue is empty. */
  dequeue(options: {readonly signal?: AbortSignal} = {}): Promise<string> {
    return dequeueFirst(this.client, this.prefix, 'key', options.signal);
  }
}
