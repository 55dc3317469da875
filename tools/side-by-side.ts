/**
 * How the tools that measure Synod beside etcd or ZooKeeper (`bench:compare`, `bench:zk`,
 * `bench:snapshot`, `bench:tls`, `bench:gateway`, ...) report: the machine a figure was measured on, and how repetitions are summed
 * up. Starting the clusters and reading their members' CPU is `bench-cluster.ts`.
 */
import {spawnSync} from 'node:child_process';
import {availableParallelism, cpus} from 'node:os';
import {fileURLToPath} from 'node:url';

/** The machine and versions a run measured: cores, Node.js, etcd and Synod's commit. */
export function describeMachine(): {cpu: string; node: string; etcd: string; commit: string} {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const etcd = spawnSync('etcd', ['--version'], {encoding: 'utf8'}).stdout.split('\n')[0];
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {cwd: root, encoding: 'utf8'});
  return {
    cpu: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
    node: process.version,
    etcd: etcd ?? 'unknown',
    // Outside a git checkout (an exported tree) there is no commit to name.
    commit: commit.stdout.trim() || 'unknown',
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Median, least and greatest of a figure's values over the repetitions. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

/** The spread of the finite values, or undefined when there are none. */
export function spreadOf(values: readonly number[]): Spread | undefined {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return undefined;
  return {median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs};
}

/** Three significant places or so: 1234, 12.3, 1.23. */
export const formatNumber = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);

/** `median (min–max)`, or the one value; `digits` decimals, else {@link formatNumber}'s. */
export function formatSpread(s: Spread | undefined, digits?: number): string {
  if (s === undefined) return '-';
  const f = digits === undefined ? formatNumber : (x: number) => x.toFixed(digits);
  return s.values.length === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** A flag's whole number of at least `min` (`1_000_000` and `1,000,000` read as 1000000). */
export function wholeNumber(flag: string, text: string, min = 1): number {
  const n = Number(text.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${flag} must be a whole number of at least ${min}, not "${text}"`);
  }
  return n;
}

/** `median (min–max)`, each with `digits` decimals. */
export function spread(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '-';
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}
