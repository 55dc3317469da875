/** One metric family of a Prometheus text exposition, as a scrape shows it. */
export interface MetricFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  /** Label names seen on its samples (`le` and `quantile` left out). */
  readonly labelNames: Set<string>;
  /** A histogram's bucket bounds, as written (`0.001`, ..., `+Inf`). */
  readonly buckets: Set<string>;
  readonly samples: {
    readonly name: string;
    readonly labels: Record<string, string>;
    readonly value: number;
  }[];
}

/** The suffixes a histogram's or summary's samples add to the family name. */
const suffixes = ['_bucket', '_sum', '_count'];

/** Parses Prometheus' text format (version 0.0.4) into families by name. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = {name, type: 'untyped', help: '', labelNames: new Set(), buckets: new Set(), samples: []};
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = '', rest = ''] = meta;
      const f = family(name);
      families.set(name, kind === 'HELP' ? {...f, help: rest} : {...f, type: rest});
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (sample === null) continue;
    const [, sampleName = '', labelText = '', value = ''] = sample;
    const labels: Record<string, string> = {};
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1] ?? ''] = m[2] ?? '';
    const base = suffixes.find(
      s => sampleName.endsWith(s) && families.has(sampleName.slice(0, -s.length)),
    );
    const f = family(base === undefined ? sampleName : sampleName.slice(0, -base.length));
    for (const label of Object.keys(labels)) {
      if (label === 'le') f.buckets.add(labels[label] ?? '');
      else if (label !== 'quantile') f.labelNames.add(label);
    }
    f.samples.push({name: sampleName, labels, value: Number(value)});
  }
  return families;
}

/** Scrapes `url` (a `/metrics` endpoint) and parses it. */
export async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url, {signal: AbortSignal.timeout(5000)});
  return parsePrometheusText(await response.text());
}

/** The sum of a family's samples named `sampleName` whose labels include `filter`. */
export function sampleSum(
  families: Map<string, MetricFamily>,
  sampleName: string,
  filter: Record<string, string> = {},
): number {
  const base = suffixes.reduce((n, s) => (n.endsWith(s) ? n.slice(0, -s.length) : n), sampleName);
  const f = families.get(sampleName) ?? families.get(base);
  let total = 0;
  for (const s of f?.samples ?? []) {
    if (s.name !== sampleName) continue;
    if (Object.entries(filter).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/**
 * `histogram_quantile(q, ...)` as Prometheus computes it over the difference of two scrapes of
 * a histogram's cumulative buckets (all label sets summed, as `sum by (le)` does): linear
 * interpolation inside the bucket the rank falls in; NaN when nothing was observed.
 */
export function quantileBetween(
  before: Map<string, MetricFamily>,
  after: Map<string, MetricFamily>,
  family: string,
  q: number,
): number {
  const bounds = [...(after.get(family)?.buckets ?? [])]
    .map(b => (b === '+Inf' ? Infinity : Number(b)))
    .sort((a, b) => a - b);
  const bucketCount = (scrapeOf: Map<string, MetricFamily>, bound: number) =>
    sampleSum(scrapeOf, `${family}_bucket`, {le: bound === Infinity ? '+Inf' : String(bound)});
  const counts = bounds.map(b => bucketCount(after, b) - bucketCount(before, b));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const count = counts[i] ?? 0;
    if (count < rank) continue;
    const upper = bounds[i] ?? Infinity;
    if (upper === Infinity) return bounds[i - 1] ?? 0;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
    const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
    return lower + ((upper - lower) * (rank - below)) / (count - below || 1);
  }
  return NaN;
}
