import {AbortError} from 'abort-controller-x';
import type {Observable} from 'rxjs';

/**
 * Reads an Observable as an async iterable. Values are buffered until read; an error is
 * thrown from the next read after the buffered values; ending the iteration (`break`,
 * `return()`) or aborting `signal` unsubscribes.
 */
export function toAsyncIterable<T>(
  source$: Observable<T>,
  signal?: AbortSignal,
): AsyncIterableIterator<T> {
  const buffer: T[] = [];
  let failure: {readonly error: unknown} | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const subscription = source$.subscribe({
    next: value => {
      buffer.push(value);
      notify();
    },
    error: (error: unknown) => {
      failure = {error};
      notify();
    },
    complete: () => {
      done = true;
      notify();
    },
  });
  const onAbort = (): void => {
    subscription.unsubscribe();
    failure ??= {error: new AbortError()};
    notify();
  };
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort);
  const finish = (): void => {
    done = true;
    subscription.unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  };

  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (buffer.length > 0) return {done: false, value: buffer.shift() as T};
        if (failure !== undefined) {
          const {error} = failure;
          finish();
          throw error;
        }
        if (done) {
          finish();
          return {done: true, value: undefined};
        }
        await new Promise<void>(resolve => {
          wake = resolve;
        });
      }
    },
    return(): Promise<IteratorResult<T>> {
      finish();
      buffer.length = 0;
      return Promise.resolve({done: true, value: undefined});
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
