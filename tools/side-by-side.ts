/**
 * How the tools that measure etcd and Synod side by side (`bench:compare`, `bench:tls`,
 * `bench:gateway`) report: the machine a figure was measured on, and how repetitions are summed
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

/** `median (min–max)`, each with `digits` decimals. */
export function spread(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '-';
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}
