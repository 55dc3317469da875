import type {Etcd} from '@synod/client';
import {ReplaySubject, Subject, map, share, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {decodeConfig} from './decode-config.js';
import type {ConfigInvalidError} from './decode-config.js';
import {keySnapshot$} from './key-snapshot.js';

/** A decoder given as a schema object with a `parse` method (zod, valibot's wrappers, ...). */
export interface ConfigSchema<R, T> {
  parse(raw: R): T;
}

/** Options of {@link ConfigWatcher.key} and {@link ConfigWatcher.prefix}. */
export interface ConfigWatcherOptions<R, T> {
  /** Turns the raw value into the config; throws when invalid. Or give `schema`. */
  readonly decode?: (raw: R) => T;
  /** A schema whose `parse` decodes (used when `decode` is not given). */
  readonly schema?: ConfigSchema<R, T>;
  /** Emitted while the config is missing; without it `config$` waits until it exists. */
  readonly default?: T;
  /** Error `config$` on invalid data instead of keeping the last good value. */
  readonly strict?: boolean;
}

/** The raw form of a prefix config: every key under the prefix (prefix removed) to its value. */
export type RawConfigObject = Readonly<Record<string, string>>;

function sameObject(a: RawConfigObject, b: RawConfigObject): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every(k => a[k] === b[k]);
}

/**
 * Typed configuration read from one key (raw value: the string) or a prefix (raw value:
 * an object of every key under it, prefix removed, to its string value), following every
 * change.
 */
export class ConfigWatcher<T> {
  private readonly closedSubject = new ReplaySubject<void>(1);
  private readonly invalidSubject = new Subject<ConfigInvalidError>();

  private constructor(
    source$: Observable<unknown>,
    source: string,
    options: ConfigWatcherOptions<unknown, T>,
  ) {
    const decode = options.decode ?? options.schema?.parse.bind(options.schema);
    if (decode === undefined)
      throw new TypeError('ConfigWatcher needs a decode function or a schema');
    this.invalid$ = this.invalidSubject.asObservable();
    this.config$ = source$.pipe(
      decodeConfig({
        source,
        decode,
        strict: options.strict,
        onInvalid: error => {
          this.invalidSubject.next(error);
        },
        sameRaw: (a, b) =>
          typeof a === 'string' || typeof b === 'string'
            ? a === b
            : sameObject(a as RawConfigObject, b as RawConfigObject),
        ...('default' in options ? {default: options.default} : {}),
      }),
      takeUntil(this.closedSubject),
      share({
        connector: () => new ReplaySubject(1),
        resetOnError: true,
        resetOnComplete: true,
        resetOnRefCountZero: true,
      }),
    );
  }

  /** Config stored as one key's value (`raw` is the value as UTF-8). */
  static key<T>(
    client: Etcd,
    key: string,
    options: ConfigWatcherOptions<string, T>,
  ): ConfigWatcher<T> {
    const raw$ = keySnapshot$(client, key).pipe(map(s => s.kvs.get(key)?.valueString));
    return new ConfigWatcher(raw$, key, options as ConfigWatcherOptions<unknown, T>);
  }

  /** Config stored as the keys under a prefix (`raw` is an object of them, prefix removed). */
  static prefix<T>(
    client: Etcd,
    prefix: string,
    options: ConfigWatcherOptions<RawConfigObject, T>,
  ): ConfigWatcher<T> {
    const raw$ = keySnapshot$(client, {prefix}).pipe(
      map(snapshot => {
        if (snapshot.kvs.size === 0) return undefined;
        const object: Record<string, string> = {};
        for (const [key, kv] of snapshot.kvs) object[key.slice(prefix.length)] = kv.valueString;
        return Object.freeze(object);
      }),
    );
    return new ConfigWatcher(raw$, prefix, options as ConfigWatcherOptions<unknown, T>);
  }

  /**
   * The decoded config on subscribe, then on every change that decodes to a new value.
   * While the config is missing: the default if one was given, otherwise nothing. When
   * stored data fails to decode, the last good value stays current and the failure goes
   * to {@link invalid$}; with `strict`, the stream errors with `ConfigInvalidError`.
   *
   * Cold: the first subscriber starts one read-then-watch, shared by later subscribers,
   * who get the current value replayed; cancelled when the last leaves. Transient faults
   * and compaction are retried inside. Errors otherwise only when the cluster refuses the
   * watch. Completes on {@link close} or when the client closes.
   */
  readonly config$: Observable<T>;

  /**
   * Every stored value that failed to decode (not in `strict` mode), while `config$` is
   * subscribed. Hot, not replayed; completes on {@link close}.
   */
  readonly invalid$: Observable<ConfigInvalidError>;

  /** Completes `config$` and `invalid$`. */
  close(): void {
    this.closedSubject.next();
    this.invalidSubject.complete();
  }
}
