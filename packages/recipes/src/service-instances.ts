import {distinctUntilChanged, map, pipe} from 'rxjs';
import type {OperatorFunction} from 'rxjs';

import type {KeySnapshot} from './key-snapshot.js';

/** One registered instance of a service. */
export interface ServiceInstance<M = unknown> {
  readonly service: string;
  readonly id: string;
  /** The metadata the instance registered, parsed from JSON. */
  readonly metadata: M;
  /** Revision of the instance's last (re-)registration or update. */
  readonly modRevision: bigint;
  /** The lease the registration lives on. */
  readonly lease: bigint;
}

function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.id === b.at(i)?.id && x.modRevision === b.at(i)?.modRevision)
  );
}

/**
 * Turns snapshots of `servicePrefix` (`prefix/service/`) into the live instance list:
 * sorted by id, frozen, emitted only when an instance joined, left or changed. Values
 * that are not JSON are left out (they were not written by a registry). Pure.
 */
export function toServiceInstances<M>(
  service: string,
  servicePrefix: string,
): OperatorFunction<KeySnapshot, readonly ServiceInstance<M>[]> {
  return pipe(
    map((snapshot: KeySnapshot): readonly ServiceInstance<M>[] => {
      const list: ServiceInstance<M>[] = [];
      for (const [key, kv] of snapshot.kvs) {
        if (!key.startsWith(servicePrefix)) continue;
        const id = key.slice(servicePrefix.length);
        if (id === '' || id.includes('/')) continue;
        let metadata: M;
        try {
          metadata = JSON.parse(kv.valueString) as M;
        } catch {
          continue;
        }
        list.push(
          Object.freeze({service, id, metadata, modRevision: kv.modRevision, lease: kv.lease}),
        );
      }
      list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return Object.freeze(list);
    }),
    distinctUntilChanged<readonly ServiceInstance<M>[]>(sameInstances),
  );
}
