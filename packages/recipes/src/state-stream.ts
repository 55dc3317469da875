import {ReplaySubject, concat, defer, map, of, share, startWith, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

/**
 * @internal The `state$` of a recipe: `snapshot()` on subscribe, again after every
 * `changes` emission, and once more when `closed$` emits, then completion. A subscriber
 * that comes after `closed$` gets the final snapshot and completion.
 *
 * Shared with a replay of the latest snapshot, and let go of when the last subscriber
 * leaves: a later subscriber starts over from a fresh snapshot. Errors when `changes` does.
 */
export function stateStream<S>(
  snapshot: () => S,
  changes: Observable<unknown>,
  closed$: Observable<unknown>,
): Observable<S> {
  return concat(
    defer(() => changes.pipe(startWith(undefined), takeUntil(closed$))),
    // The final snapshot, once the owner is closed.
    of(undefined),
  ).pipe(
    map(snapshot),
    share({
      connector: () => new ReplaySubject(1),
      resetOnError: true,
      resetOnComplete: true,
      resetOnRefCountZero: true,
    }),
  );
}
