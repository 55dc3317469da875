/** One sample of Prometheus' text exposition format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The samples of a `/metrics` page; comments, and lines that do not parse, are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (match === null) continue;
    const [, name = '', labelText = '', valueText = ''] = match;
    const labels: Record<string, string> = {};
    labelPair.lastIndex = 0;
    let pair: RegExpExecArray | null;
    while ((pair = labelPair.exec(labelText)) !== null) {
      labels[pair[1] ?? ''] = unescapeLabel(pair[2] ?? '');
    }
    samples.push({name, labels, value: parseValue(valueText)});
  }
  return samples;
}

/** The sum of every sample named `name` whose labels include `match`; undefined when there is none. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}

/** A histogram's cumulative bucket counts by upper bound, summed over its other labels. */
export interface Histogram {
  readonly buckets: ReadonlyMap<number, number>;
  readonly count: number;
  readonly sum: number;
}

export function histogramOf(samples: readonly Sample[], name: string): Histogram | undefined {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = parseValue(s.labels.le ?? 'NaN');
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const count = sumOf(samples, `${name}_count`);
  const sum = sumOf(samples, `${name}_sum`);
  if (buckets.size === 0 || count === undefined || sum === undefined) return undefined;
  return {buckets, count, sum};
}

/** What a histogram observed between two scrapes. */
export function histogramDelta(later: Histogram, earlier: Histogram | undefined): Histogram {
  if (earlier === undefined) return later;
  const buckets = new Map<number, number>();
  for (const [le, count] of later.buckets) buckets.set(le, count - (earlier.buckets.get(le) ?? 0));
  return {buckets, count: later.count - earlier.count, sum: later.sum - earlier.sum};
}

/**
 * The `q` quantile of a histogram, interpolated linearly inside its bucket as Prometheus'
 * `histogram_quantile` does; undefined when the histogram observed nothing.
 */
export function histogramQuantile(q: number, histogram: Histogram): number | undefined {
  const bounds = [...histogram.buckets.entries()].sort(([a], [b]) => a - b);
  const total = bounds.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of bounds) {
    if (count >= rank) {
      // Above the highest finite bound Prometheus answers that bound.
      if (bound === Infinity) return previousBound;
      const inBucket = count - previousCount;
      if (inBucket <= 0) return bound;
      return previousBound + ((bound - previousBound) * (rank - previousCount)) / inBucket;
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}
