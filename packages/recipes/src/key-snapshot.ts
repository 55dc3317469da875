import type {Etcd, KeySelector, KeyValue, WatchBatch} from '@synod/client';
import {defer, scan, startWith, switchMap} from 'rxjs';
import type {Observable} from 'rxjs';

import {retryTransient} from './retry-transient.js';

/**
 * The keys of a range at one revision, by key (decoded as UTF-8). Immutable: every change
 * makes a new snapshot.
 */
export interface KeySnapshot {
  /** The store revision this snapshot reflects. */
  readonly revision: bigint;
  readonly kvs: ReadonlyMap<string, KeyValue>;
}

/**
 * Applies one watch batch to a snapshot, returning a new snapshot (or the same one when
 * the batch changes nothing, e.g. a progress notification). Pure.
 */
export function applyBatch(snapshot: KeySnapshot, batch: WatchBatch): KeySnapshot {
  if (batch.events.length === 0) return snapshot;
  const kvs = new Map(snapshot.kvs);
  for (const event of batch.events) {
    if (event.type === 'put') kvs.set(event.kv.keyString, event.kv);
    else kvs.delete(event.kv.keyString);
  }
  return {revision: batch.header.revision, kvs};
}

/**
 * @internal The state of a key or range: a full snapshot read at revision R, then a new
 * snapshot for every watch batch from R+1 (etcd's "get, then watch from the next
 * revision" loop). Transient faults and compaction restart the loop from a fresh read.
 *
 * Cold and unshared: each subscription reads and watches on its own; callers share it.
 * Errors only for failures that are not transient (permission denied, say). Completes
 * when the client is closed.
 */
export function keySnapshot$(client: Etcd, selector: KeySelector): Observable<KeySnapshot> {
  return defer(() => client.kv.range(selector)).pipe(
    switchMap(read => {
      const initial: KeySnapshot = {
        revision: read.header.revision,
        kvs: new Map(read.kvs.map(kv => [kv.keyString, kv])),
      };
      return client.watch
        .watch$(selector, {startRevision: read.header.revision + 1n})
        .pipe(scan(applyBatch, initial), startWith(initial));
    }),
    retryTransient(),
  );
}
