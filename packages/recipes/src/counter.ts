import {compare, op} from '@synod/client';
import type {Etcd} from '@synod/client';
import {distinctUntilChanged, map, ReplaySubject, share} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';

/**
 * An atomic integer counter in one key (decimal text; missing means 0). Every change is a
 * compare-and-swap on the key's mod revision, retried on conflict, so concurrent adds
 * from any number of processes are never lost.
 */
export class Counter {
  constructor(
    private readonly client: Etcd,
    /** The key holding the value. */
    readonly key: string,
  ) {
    this.value$ = keySnapshot$(client, key).pipe(
      map(s => parseCounter(key, s.kvs.get(key)?.valueString)),
      distinctUntilChanged(),
      share({
        connector: () => new ReplaySubject(1),
        resetOnError: true,
        resetOnComplete: true,
        resetOnRefCountZero: true,
      }),
    );
  }

  /**
   * The value on subscribe, then each new value. Cold, one shared watch, latest value
   * replayed, cancelled when the last subscriber leaves; transient faults retried inside;
   * errors when the stored value is not an integer or the watch is refused; completes
   * when the client closes.
   */
  readonly value$: Observable<bigint>;

  /** The current value. */
  async get(): Promise<bigint> {
    return parseCounter(this.key, await this.client.kv.getString(this.key));
  }

  /** Adds `delta` (negative to subtract) and resolves with the new value. */
  async add(delta: bigint | number = 1n): Promise<bigint> {
    const step = BigInt(delta);
    for (;;) {
      const kv = await this.client.kv.get(this.key);
      const next = parseCounter(this.key, kv?.valueString) + step;
      const result = await this.client.kv
        .txn()
        .if(compare.modRevision(this.key, '=', kv?.modRevision ?? 0n))
        .then(op.put(this.key, next.toString()))
        .commit();
      if (result.succeeded) return next;
    }
  }
}

function parseCounter(key: string, text: string | undefined): bigint {
  if (text === undefined) return 0n;
  if (!/^-?\d+$/.test(text)) {
    throw new RangeError(`counter ${key} holds ${JSON.stringify(text)}, not an integer`);
  }
  return BigInt(text);
}
