/**
 * Prometheus' `ExponentialBuckets(start, factor, count)`, as etcd declares its histograms:
 * `count` bounds from `start`, each `factor` times the last, rounded to 12 significant digits
 * so that 0.001 * 2^13 prints as 8.192.
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({length: count}, (_, i) => Number((start * factor ** i).toPrecision(12)));
}
