import type {BenchOptions} from './options.js';

/** Which of `count` load-generating processes this is. */
export interface WorkerShare {
  readonly index: number;
  readonly count: number;
}

/** `total` split into `count` near-equal integer parts; part `index`. */
export function splitEvenly(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/**
 * The part of the load one worker process generates: clients, connections, the rate and the
 * total are split evenly (every worker keeps at least one connection and one client).
 * `watch` splits the watchers over workers 1.. instead; worker 0 runs the writer alone, at the
 * full rate.
 */
export function shareOf(options: BenchOptions, share: WorkerShare): BenchOptions {
  const {index, count} = share;
  if (count === 1) return options;
  if (options.workload === 'watch') {
    // The writer gets a process of its own, so that delivering events never delays it.
    const watchers = index === 0 ? 0 : splitEvenly(options.watchers, index - 1, count - 1);
    return {...options, watchers};
  }
  return {
    ...options,
    clients: Math.max(1, splitEvenly(options.clients, index, count)),
    conns: Math.max(1, splitEvenly(options.conns, index, count)),
    rate: options.rate === 0 ? 0 : splitEvenly(options.rate, index, count),
    total: options.total === undefined ? undefined : splitEvenly(options.total, index, count),
  };
}
