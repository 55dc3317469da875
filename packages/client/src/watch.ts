import {Observable, share} from 'rxjs';

import type {KeySelector, KeySpace} from './key-space.js';
import {toAsyncIterable} from './to-async-iterable.js';
import type {WatchBatch, WatchManager, WatchOptions} from './watch-manager.js';

/**
 * Watches keys (etcd's Watch service). Every watch of a client shares one gRPC stream;
 * after a disconnect or the loss of the member's leader each watch resumes on another
 * member from the revision after the last one it delivered, so no event is skipped or
 * repeated.
 */
export class Watch {
  /** @internal */
  constructor(
    private readonly manager: WatchManager,
    private readonly space: KeySpace,
  ) {}

  /**
   * Changes of a key, prefix or range, as batches of events in revision order.
   *
   * Cold: the server-side watch is created on the first subscription and shared by the
   * subscribers that follow (who see only later batches: batches are changes, not state,
   * so none is replayed); it is cancelled when the last subscriber leaves.
   *
   * Emits a batch per server response (all events of one revision are in one batch).
   * Errors with `CompactedError` (carrying `compactRevision`) when the start revision,
   * or the resume point after a long disconnect, has been compacted; with another
   * `EtcdError` when the server refuses the watch (permission denied, say). Transient
   * faults are retried inside and never surface. Completes when the client is closed.
   */
  watch$(selector: KeySelector, options: WatchOptions = {}): Observable<WatchBatch> {
    return new Observable<WatchBatch>(subscriber => {
      const state = this.manager.add(this.space, selector, options, {
        next: batch => {
          subscriber.next(batch);
        },
        error: error => {
          subscriber.error(error);
        },
        complete: () => {
          subscriber.complete();
        },
      });
      return () => {
        this.manager.remove(state);
      };
    }).pipe(share());
  }

  /**
   * The same changes as {@link watch$}, read with `for await`. Leaving the loop, or
   * aborting `signal`, cancels the watch.
   */
  watch(
    selector: KeySelector,
    options: WatchOptions & {readonly signal?: AbortSignal} = {},
  ): AsyncIterableIterator<WatchBatch> {
    return toAsyncIterable(this.watch$(selector, options), options.signal);
  }

  /**
   * Asks the member for a progress notification on every watch of this client: each
   * watch then emits a batch with `progressNotify: true` once all its events up to that
   * batch's `header.revision` have been delivered.
   */
  requestProgress(): void {
    this.manager.requestProgress();
  }
}
