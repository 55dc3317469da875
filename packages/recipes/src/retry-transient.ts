import {CompactedError, DeadlineExceededError, EtcdError, UnavailableError} from '@synod/client';
import {EMPTY, catchError, pipe, retry, throwError, timer} from 'rxjs';
import type {MonoTypeOperatorFunction} from 'rxjs';

/**
 * Whether a failure may go away by itself: the cluster was unreachable, had no leader or
 * was too slow, or a watch fell behind compaction (the caller re-reads and starts over).
 * Permission, authentication and argument errors are not: retrying cannot fix them.
 */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof CompactedError ||
    (error instanceof EtcdError && error.unavailable)
  );
}

/**
 * Whether a call failed because the client was closed. The client throws a plain `Error`
 * for that (it has no error class for it), so this recognises its message.
 */
export function isClientClosed(error: unknown): boolean {
  return error instanceof Error && /the client is closed/.test(error.message);
}

/** Backoff of the retries inside recipe streams, in milliseconds. */
export interface RetryBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

const defaultBackoff: RetryBackoff = {initialMs: 50, maxMs: 1_000};

/**
 * @internal Completes when the client is closed, and resubscribes to the source after a transient failure (see {@link isTransient}),
 * with exponential backoff and jitter reset by every value that gets through; any other
 * error passes on to the subscriber.
 */
export function retryTransient<T>(
  backoff: RetryBackoff = defaultBackoff,
): MonoTypeOperatorFunction<T> {
  return pipe(
    retry({
      resetOnSuccess: true,
      delay: (error: unknown, attempt: number) => {
        if (!isTransient(error)) return throwError(() => error);
        const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 20));
        return timer(ceiling / 2 + Math.random() * (ceiling / 2));
      },
    }),
    // The owner closed the client: that ends the stream, it is not a failure.
    catchError((error: unknown) => (isClientClosed(error) ? EMPTY : throwError(() => error))),
  );
}
