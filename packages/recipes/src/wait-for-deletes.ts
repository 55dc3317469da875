import type {Etcd, KeySelector, WatchBatch, WatchFilter} from '@synod/client';
import {filter, take} from 'rxjs';

import {isClientClosed, isTransient} from './retry-transient.js';

/**
 * Settles as `work` does, unless `signal` aborts first: then rejects with its reason. The
 * listener it puts on `signal` is removed once it settles, so a long-lived signal passed to
 * many calls does not collect one per call.
 */
export async function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) throw abortReason(signal);
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortReason(signal));
    };
  });
  signal.addEventListener('abort', onAbort, {once: true});
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException(
    typeof reason === 'string' ? reason : 'This operation was aborted',
    'AbortError',
  );
}

/** Throws the signal's reason if it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortReason(signal);
}

/**
 * @internal Waits for the first watch batch from `fromRevision` on `selector` that
 * `matches`. A compacted start, a transient failure or the client closing end the wait
 * early without an error: callers re-read and wait again when needed. Aborting `signal`
 * rejects with its reason and cancels the watch.
 */
export async function waitForEvent(
  client: Etcd,
  selector: KeySelector,
  fromRevision: bigint,
  matches: (batch: WatchBatch) => boolean,
  signal: AbortSignal | undefined,
  filters: readonly WatchFilter[] = [],
): Promise<void> {
  throwIfAborted(signal);
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      subscription.unsubscribe();
      reject(abortReason(signal as AbortSignal));
    };
    const finish = (error?: unknown): void => {
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined || isTransient(error) || isClientClosed(error)) resolve();
      else reject(error instanceof Error ? error : new Error('watch failed', {cause: error}));
    };
    const subscription = client.watch
      .watch$(selector, {startRevision: fromRevision, filters})
      .pipe(filter(matches), take(1))
      .subscribe({
        complete: () => {
          finish();
        },
        error: (error: unknown) => {
          finish(error);
        },
      });
    signal?.addEventListener('abort', onAbort, {once: true});
  });
}

/** @internal Waits until `key` is deleted; see {@link waitForEvent}. */
export function waitForDelete(
  client: Etcd,
  key: Buffer,
  fromRevision: bigint,
  signal: AbortSignal | undefined,
): Promise<void> {
  return waitForEvent(
    client,
    key,
    fromRevision,
    batch => batch.events.some(e => e.type === 'delete'),
    signal,
    ['noPut'],
  );
}

/**
 * @internal Waits until no key under `prefix` has a create revision below `myRevision`
 * (etcd's `waitDeletes`): repeatedly finds the newest such key and waits for its
 * deletion. Those keys belong to the waiters queued ahead of the caller.
 */
export async function waitForDeletesBelow(
  client: Etcd,
  prefix: Buffer,
  myRevision: bigint,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (;;) {
    throwIfAborted(signal);
    const ahead = await retryWhileTransient(
      () =>
        client.kv.range(
          {prefix},
          {
            sort: {target: 'create', order: 'descend'},
            limit: 1,
            maxCreateRevision: myRevision - 1n,
            keysOnly: true,
            signal,
          },
        ),
      signal,
    );
    const last = ahead.kvs[0];
    if (last === undefined) return;
    await waitForDelete(client, last.key, ahead.header.revision, signal);
  }
}

/**
 * @internal Runs an idempotent call until it succeeds or fails with a non-transient error,
 * waiting a growing delay (up to 1 s) between attempts; aborting `signal` stops it.
 */
export async function retryWhileTransient<T>(
  call: () => Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal);
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error) || signal?.aborted === true) throw error;
      const delayMs = Math.min(1_000, 50 * 2 ** Math.min(attempt, 10));
      await raceAbort(new Promise(resolve => setTimeout(resolve, delayMs)), signal);
    }
  }
}
