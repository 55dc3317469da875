/**
 * `etcdctl check perf`, reproduced: a load model fixes the number of clients (each on its
 * own connection) and a put rate; the run lasts 60 s and writes 256-byte keys under a prefix
 * that must be empty, with 1 KiB values, then deletes the prefix.
 */
export interface CheckPerfLoad {
  readonly name: string;
  /** Puts per second the load is paced at. */
  readonly limit: number;
  readonly clients: number;
  readonly durationSeconds: number;
}

/** etcdctl's load models (etcdctl/ctlv3/command/check.go). */
export const checkPerfLoads: Readonly<Record<string, CheckPerfLoad>> = {
  s: {name: 's', limit: 150, clients: 50, durationSeconds: 60},
  m: {name: 'm', limit: 1000, clients: 200, durationSeconds: 60},
  l: {name: 'l', limit: 8000, clients: 500, durationSeconds: 60},
  xl: {name: 'xl', limit: 15_000, clients: 1000, durationSeconds: 60},
};

const aliases: Readonly<Record<string, string>> = {
  s: 's',
  small: 's',
  m: 'm',
  medium: 'm',
  l: 'l',
  large: 'l',
  xl: 'xl',
  xLarge: 'xl',
};

/** The load model for `--load`, or undefined if etcdctl knows no such name. */
export function checkPerfLoad(name: string): CheckPerfLoad | undefined {
  const key = aliases[name];
  return key === undefined ? undefined : checkPerfLoads[key];
}

export const checkPerfKeySize = 256;
export const checkPerfValueSize = 1024;
export const checkPerfPrefix = '/etcdctl-check-perf/';

/** What a check-perf run measured. */
export interface CheckPerfMeasurement {
  /** Successful puts per second over the run. */
  readonly writesPerSecond: number;
  readonly slowestMs: number;
  readonly stddevMs: number;
  /** Failed requests by error. */
  readonly errors: Readonly<Record<string, number>>;
}

export interface CheckPerfVerdict {
  readonly pass: boolean;
  /** etcdctl's lines, in its order: errors, throughput, slowest, stddev, then PASS or FAIL. */
  readonly lines: readonly string[];
}

/**
 * etcdctl's pass rules: no request may fail; throughput must be more than 90% of the load's
 * limit; the slowest request must take at most 0.5 s; the standard deviation of latencies
 * must be at most 0.1 s.
 */
export function judgeCheckPerf(load: CheckPerfLoad, m: CheckPerfMeasurement): CheckPerfVerdict {
  const lines: string[] = [];
  let pass = true;
  const errorEntries = Object.entries(m.errors);
  if (errorEntries.length > 0) {
    lines.push('FAIL: too many errors');
    for (const [error, count] of errorEntries) lines.push(`FAIL: ERROR(${error}) -> ${count}`);
    pass = false;
  }
  const writes = Math.floor(m.writesPerSecond) + 1;
  if (m.writesPerSecond / load.limit <= 0.9) {
    lines.push(`FAIL: Throughput too low: ${writes} writes/s`);
    pass = false;
  } else {
    lines.push(`PASS: Throughput is ${writes} writes/s`);
  }
  const slowestSeconds = (m.slowestMs / 1000).toFixed(6);
  if (m.slowestMs > 500) {
    lines.push(`FAIL: Slowest request took too long: ${slowestSeconds}s`);
    pass = false;
  } else {
    lines.push(`PASS: Slowest request took ${slowestSeconds}s`);
  }
  const stddevSeconds = (m.stddevMs / 1000).toFixed(6);
  if (m.stddevMs > 100) {
    lines.push(`FAIL: Stddev too high: ${stddevSeconds}s`);
    pass = false;
  } else {
    lines.push(`PASS: Stddev is ${stddevSeconds}s`);
  }
  lines.push(pass ? 'PASS' : 'FAIL');
  return {pass, lines};
}
