/**
 * Below this many nanoseconds every value has its own bucket (exact); above it each power of
 * two is cut into `SUB_BUCKETS` equal buckets, so a bucket is never wider than 1/512 of the
 * values it holds: a percentile read back is within 0.2% of the recorded value.
 *
 * Worked example: 1,000 ns lands in bucket 1,000 (exact). 3,000,000 ns (3 ms) has its highest
 * bit at 2^21; the octave [2^21, 2^22) is cut into 512 buckets of 4,096 ns, and 3,000,000
 * falls into [2,998,272, 3,002,368); reading it back gives the middle, 3,000,320 ns.
 */
const LINEAR_LIMIT = 1024;
const SUB_BUCKETS = 512;
const LINEAR_BITS = 10; // log2(LINEAR_LIMIT)
/** Octaves above the linear range: up to 2^50 ns (about 13 days) is more than any latency. */
const OCTAVES = 40;
const BUCKET_COUNT = LINEAR_LIMIT + OCTAVES * SUB_BUCKETS;

/** A histogram as plain data, for sending between processes and merging. */
export interface HistogramData {
  readonly count: number;
  readonly minNs: number;
  readonly maxNs: number;
  readonly sumNs: number;
  readonly sumSquaresNs2: number;
  /** Non-empty buckets as [index, count] pairs. */
  readonly buckets: readonly (readonly [number, number])[];
}

/**
 * A latency histogram with log-linear buckets (HDR style): fixed memory, O(1) record, exact
 * count, min, max, mean and standard deviation, percentiles within 0.2%.
 */
export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private countValue = 0;
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;
  private sum = 0;
  private sumSquares = 0;

  /** Records one latency in nanoseconds; negative values count as 0. */
  record(valueNs: number): void {
    const v = valueNs > 0 ? valueNs : 0;
    this.counts[bucketOf(v)]! += 1;
    this.countValue += 1;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
    this.sum += v;
    this.sumSquares += v * v;
  }

  /** Records the time since `startNs` (a `process.hrtime.bigint()` reading). */
  recordSince(startNs: bigint): void {
    this.record(Number(process.hrtime.bigint() - startNs));
  }

  get count(): number {
    return this.countValue;
  }

  get minNs(): number {
    return this.countValue === 0 ? 0 : this.minValue;
  }

  get maxNs(): number {
    return this.maxValue;
  }

  get meanNs(): number {
    return this.countValue === 0 ? 0 : this.sum / this.countValue;
  }

  /** Population standard deviation, as etcd's report computes it. */
  get stddevNs(): number {
    if (this.countValue === 0) return 0;
    const mean = this.sum / this.countValue;
    return Math.sqrt(Math.max(0, this.sumSquares / this.countValue - mean * mean));
  }

  /**
   * The value at quantile `q` (0..1): the smallest recorded value with at least `q` of all
   * values at or below it. `q = 1` is the exact maximum, `q = 0` the exact minimum.
   */
  quantileNs(q: number): number {
    if (this.countValue === 0) return 0;
    if (q <= 0) return this.minNs;
    if (q >= 1) return this.maxValue;
    const rank = Math.max(1, Math.ceil(q * this.countValue));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        return Math.min(this.maxValue, Math.max(this.minValue, middleOf(i)));
      }
    }
    return this.maxValue;
  }

  /** Adds every value of `other` to this histogram. */
  merge(other: Histogram | HistogramData): this {
    const data = other instanceof Histogram ? other.toData() : other;
    if (data.count === 0) return this;
    for (const [index, count] of data.buckets) this.counts[index]! += count;
    this.countValue += data.count;
    this.minValue = Math.min(this.minValue, data.minNs);
    this.maxValue = Math.max(this.maxValue, data.maxNs);
    this.sum += data.sumNs;
    this.sumSquares += data.sumSquaresNs2;
    return this;
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const count = this.counts[i]!;
      if (count !== 0) buckets.push([i, count]);
    }
    return {
      count: this.countValue,
      minNs: this.minNs,
      maxNs: this.maxValue,
      sumNs: this.sum,
      sumSquaresNs2: this.sumSquares,
      buckets,
    };
  }

  static fromData(data: HistogramData): Histogram {
    return new Histogram().merge(data);
  }
}

/** @internal The bucket a value falls into. */
export function bucketOf(valueNs: number): number {
  const v = Math.floor(valueNs);
  if (v < LINEAR_LIMIT) return v;
  let octave = Math.floor(Math.log2(v));
  // log2 of a double can round up across a power of two; correct it exactly.
  if (2 ** octave > v) octave -= 1;
  else if (2 ** (octave + 1) <= v) octave += 1;
  const octaveIndex = Math.min(octave - LINEAR_BITS, OCTAVES - 1);
  const width = 2 ** (octaveIndex + LINEAR_BITS) / SUB_BUCKETS;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor((v - 2 ** (octaveIndex + LINEAR_BITS)) / width));
  return LINEAR_LIMIT + octaveIndex * SUB_BUCKETS + sub;
}

/** @internal The value a bucket stands for: itself in the linear range, else its middle. */
export function middleOf(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const octaveIndex = Math.floor((index - LINEAR_LIMIT) / SUB_BUCKETS);
  const sub = (index - LINEAR_LIMIT) % SUB_BUCKETS;
  const base = 2 ** (octaveIndex + LINEAR_BITS);
  const width = base / SUB_BUCKETS;
  return base + sub * width + width / 2;
}
