import {Observable} from 'rxjs';
import type {OperatorFunction} from 'rxjs';

/** Reported by `invalid$` (or thrown with `strict`) when stored config cannot be decoded. */
export class ConfigInvalidError extends Error {
  constructor(
    /** The key or prefix the config is read from. */
    readonly source: string,
    /** The raw value that failed to decode. */
    readonly raw: unknown,
    /** What the decode function threw. */
    override readonly cause: unknown,
  ) {
    super(
      `config at ${source} is invalid (${cause instanceof Error ? cause.message : String(cause)}); ` +
        'fix the stored value: the last valid config stays in effect',
      {cause},
    );
    this.name = 'ConfigInvalidError';
  }
}

/** How {@link decodeConfig} treats what it reads. */
export interface DecodeConfigOptions<R, T> {
  /** Where the config lives, for error messages. */
  readonly source: string;
  /** Turns the raw value into the config; throws when it is invalid. */
  readonly decode: (raw: R) => T;
  /** What to emit while the config is missing; when omitted, nothing is emitted until it exists. */
  readonly default?: T;
  /** Error the stream on invalid data instead of keeping the last good value. */
  readonly strict?: boolean;
  /** Told of every invalid value (when not strict). */
  readonly onInvalid?: (error: ConfigInvalidError) => void;
  /** Whether two raw values are the same, to skip decoding repeats; `===` by default. */
  readonly sameRaw?: (a: R, b: R) => boolean;
}

/**
 * Decodes a stream of raw config values (`undefined` = missing): emits each decoded value
 * that differs from the raw value decoded last; emits `default` for a missing config
 * (nothing when there is no default); on a value that fails to decode, emits nothing (the
 * last good value stays current) and calls `onInvalid`, or errors with
 * {@link ConfigInvalidError} when `strict`. Pure.
 */
export function decodeConfig<R, T>(
  options: DecodeConfigOptions<R, T>,
): OperatorFunction<R | undefined, T> {
  const same = options.sameRaw ?? ((a: R, b: R) => a === b);
  return source =>
    new Observable<T>(subscriber => {
      let last: {readonly raw: R | undefined} | undefined;
      return source.subscribe({
        next: raw => {
          if (last !== undefined) {
            const previous = last.raw;
            if (
              raw === undefined
                ? previous === undefined
                : previous !== undefined && same(raw, previous)
            ) {
              return;
            }
          }
          if (raw === undefined) {
            last = {raw};
            if ('default' in options) subscriber.next(options.default as T);
            return;
          }
          let value: T;
          try {
            value = options.decode(raw);
          } catch (cause) {
            const error = new ConfigInvalidError(options.source, raw, cause);
            if (options.strict === true) subscriber.error(error);
            else options.onInvalid?.(error);
            return;
          }
          last = {raw};
          subscriber.next(value);
        },
        error: (error: unknown) => {
          subscriber.error(error);
        },
        complete: () => {
          subscriber.complete();
        },
      });
    });
}
