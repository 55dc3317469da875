/** Exponential backoff with jitter for retries and reconnects. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  readonly initialMs: number;
  /** Largest delay, before jitter. */
  readonly maxMs: number;
}

/**
 * The delay before retry number `attempt` (0-based): `initialMs * 2^attempt`, capped at
 * `maxMs`, then drawn uniformly from its upper half so that many clients that failed
 * together do not come back together.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
