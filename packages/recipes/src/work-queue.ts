import {compare, op} from '@synod/client';
import type {Etcd, SortTarget} from '@synod/client';

import {retryWhileTransient, throwIfAborted, waitForEvent} from './wait-for-deletes.js';

/**
 * @internal Takes the first item under `prefix` in `order` and deletes it (the claim is a
 * transaction on its mod revision, so one item goes to one consumer); waits for a put
 * when the queue is empty.
 */
export async function dequeueFirst(
  client: Etcd,
  prefix: string,
  order: SortTarget,
  signal: AbortSignal | undefined,
): Promise<string> {
  for (;;) {
    throwIfAborted(signal);
    const read = await retryWhileTransient(
      () => client.kv.range({prefix}, {sort: {target: order, order: 'ascend'}, limit: 1, signal}),
      signal,
    );
    const first = read.kvs[0];
    if (first === undefined) {
      await waitForEvent(
        client,
        {prefix},
        read.header.revision + 1n,
        batch => batch.events.length > 0,
        signal,
        ['noDelete'],
      );
      continue;
    }
    const claim = await client.kv
      .txn()
      .if(compare.modRevision(first.key, '=', first.modRevision))
      .then(op.delete(first.key))
      .commit();
    if (claim.succeeded) return first.valueString;
  }
}

/** @internal A zero-padded decimal, so that keys sort like numbers. */
export function padded(value: bigint, digits: number): string {
  return value.toString().padStart(digits, '0');
}
