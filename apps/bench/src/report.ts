import {availableParallelism} from 'node:os';

import {Histogram} from './histogram.js';
import type {BenchOptions} from './options.js';
import type {RunResult} from './result.js';

/** One operation kind's latencies, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
}

/** A run's figures, as `--json` prints them. */
export interface Summary {
  readonly workload: string;
  readonly endpoints: readonly string[];
  readonly conns: number;
  readonly clients: number;
  readonly rate: number;
  readonly ops: number;
  readonly elapsedSeconds: number;
  readonly qps: number;
  readonly latencyMs: Readonly<Record<string, LatencySummary>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorCount: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly violations: readonly string[];
  readonly clientCpu: {
    readonly processes: number;
    readonly userSeconds: number;
    readonly systemSeconds: number;
    /** CPU seconds per wall second: 1 is one core kept busy. */
    readonly cores: number;
    readonly coresAvailable: number;
  };
}

const ms = (ns: number): number => ns / 1e6;

export function summarise(options: BenchOptions, result: RunResult): Summary {
  const elapsedSeconds = result.elapsedNs / 1e9;
  const latencyMs: Record<string, LatencySummary> = {};
  for (const [kind, data] of Object.entries(result.latencies)) {
    const h = Histogram.fromData(data);
    latencyMs[kind] = {
      count: h.count,
      p50: ms(h.quantileNs(0.5)),
      p90: ms(h.quantileNs(0.9)),
      p99: ms(h.quantileNs(0.99)),
      p999: ms(h.quantileNs(0.999)),
      max: ms(h.maxNs),
      mean: ms(h.meanNs),
      stddev: ms(h.stddevNs),
    };
  }
  const cpuSeconds = (result.cpuUserUs + result.cpuSystemUs) / 1e6;
  return {
    workload: options.workload,
    endpoints: options.endpoints,
    conns: options.conns,
    clients: options.clients,
    rate: options.rate,
    ops: result.ops,
    elapsedSeconds,
    qps: elapsedSeconds > 0 ? result.ops / elapsedSeconds : 0,
    latencyMs,
    errors: result.errors,
    errorCount: Object.values(result.errors).reduce((a, b) => a + b, 0),
    counters: result.counters,
    violations: result.violations,
    clientCpu: {
      processes: result.processes,
      userSeconds: result.cpuUserUs / 1e6,
      systemSeconds: result.cpuSystemUs / 1e6,
      cores: elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : 0,
      coresAvailable: availableParallelism(),
    },
  };
}

const fixed = (n: number, digits = 2): string => n.toFixed(digits);

/** The summary as a table for people. */
export function formatTable(s: Summary): string {
  const lines: string[] = [];
  lines.push(
    `${s.workload}: ${s.ops} ops in ${fixed(s.elapsedSeconds)} s = ${fixed(s.qps, 1)} ops/s ` +
      `(${s.clients} clients, ${s.conns} conns, ${s.endpoints.length} endpoints` +
      `${s.rate > 0 ? `, rate limit ${s.rate}/s` : ''})`,
  );
  const header = ['latency ms', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean', 'stddev'];
  const rows = Object.entries(s.latencyMs).map(([kind, l]) => [
    kind,
    String(l.count),
    ...[l.p50, l.p90, l.p99, l.p999, l.max, l.mean, l.stddev].map(v => fixed(v, 3)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(line(header), ...rows.map(line));
  if (s.errorCount === 0) lines.push('errors: none');
  else {
    lines.push(`errors: ${s.errorCount}`);
    for (const [error, count] of Object.entries(s.errors)) lines.push(`  ${count}  ${error}`);
  }
  const counters = Object.entries(s.counters);
  if (counters.length > 0) lines.push(`counts: ${counters.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (s.violations.length > 0) {
    lines.push('VIOLATIONS:');
    for (const v of s.violations) lines.push(`  ${v}`);
  }
  const cpu = s.clientCpu;
  lines.push(
    `client CPU: ${fixed(cpu.userSeconds + cpu.systemSeconds)} s over ${fixed(s.elapsedSeconds)} s ` +
      `= ${fixed(cpu.cores)} cores busy of ${cpu.coresAvailable} (${cpu.processes} process` +
      `${cpu.processes === 1 ? '' : 'es'})`,
  );
  return lines.join('\n') + '\n';
}
