import {ClientError, Status} from 'nice-grpc';

import {Histogram} from './histogram.js';
import type {HistogramData} from './histogram.js';

/**
 * What one process measured, as plain data so that worker processes can send it to the
 * parent. Latencies are kept per operation kind (`put`, `range`, `delivery`, ...).
 */
export interface RunResult {
  /** Operations that completed without error. */
  readonly ops: number;
  /** Wall time from the first request to the last answer. */
  readonly elapsedNs: number;
  readonly latencies: Readonly<Record<string, HistogramData>>;
  /** Failed requests, by `gRPC code: message`. */
  readonly errors: Readonly<Record<string, number>>;
  /** Workload-specific counts: CAS conflicts, watch events and violations. */
  readonly counters: Readonly<Record<string, number>>;
  /** The first few correctness violations seen, described. */
  readonly violations: readonly string[];
  /** CPU time the load-generating processes used. */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Processes that generated the load. */
  readonly processes: number;
}

/** At most this many violations are described; the counters count all of them. */
export const maxViolations = 20;

/** Mutable accumulator one process fills while a workload runs. */
export class Recorder {
  readonly latencies = new Map<string, Histogram>();
  readonly errors = new Map<string, number>();
  readonly counters = new Map<string, number>();
  readonly violations: string[] = [];
  ops = 0;

  histogram(kind: string): Histogram {
    let h = this.latencies.get(kind);
    if (h === undefined) {
      h = new Histogram();
      this.latencies.set(kind, h);
    }
    return h;
  }

  recordError(error: unknown): void {
    const key = errorKey(error);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  count(counter: string, by = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + by);
  }

  violation(counter: string, description: string): void {
    this.count(counter);
    if (this.violations.length < maxViolations) this.violations.push(description);
  }

  toResult(elapsedNs: number, cpu: NodeJS.CpuUsage): RunResult {
    return {
      ops: this.ops,
      elapsedNs,
      latencies: Object.fromEntries([...this.latencies].map(([k, h]) => [k, h.toData()])),
      errors: Object.fromEntries(this.errors),
      counters: Object.fromEntries(this.counters),
      violations: [...this.violations],
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      processes: 1,
    };
  }
}

/** How an error is counted: `gRPC code: details` for gRPC errors, else name and message. */
export function errorKey(error: unknown): string {
  if (error instanceof ClientError) return `${Status[error.code]}: ${error.details}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Merges the results of processes that ran at the same time. */
export function mergeResults(results: readonly RunResult[]): RunResult {
  const latencies = new Map<string, Histogram>();
  const errors: Record<string, number> = {};
  const counters: Record<string, number> = {};
  const violations: string[] = [];
  let ops = 0;
  let elapsedNs = 0;
  let cpuUserUs = 0;
  let cpuSystemUs = 0;
  let processes = 0;
  for (const r of results) {
    ops += r.ops;
    elapsedNs = Math.max(elapsedNs, r.elapsedNs);
    cpuUserUs += r.cpuUserUs;
    cpuSystemUs += r.cpuSystemUs;
    processes += r.processes;
    for (const [kind, data] of Object.entries(r.latencies)) {
      let h = latencies.get(kind);
      if (h === undefined) {
        h = new Histogram();
        latencies.set(kind, h);
      }
      h.merge(data);
    }
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
    for (const v of r.violations) if (violations.length < maxViolations) violations.push(v);
  }
  return {
    ops,
    elapsedNs,
    latencies: Object.fromEntries([...latencies].map(([k, h]) => [k, h.toData()])),
    errors,
    counters,
    violations,
    cpuUserUs,
    cpuSystemUs,
    processes,
  };
}
