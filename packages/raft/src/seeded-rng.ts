/**
 * Rng is the only source of randomness raft uses (the election timeout jitter). Inject a seeded
 * implementation so that a run replays exactly from its seed.
 */
export interface Rng {
  /** Returns an integer uniformly drawn from [0, n). `n` is a positive integer. */
  nextInt(n: number): number;
}

/**
 * SeededRng is a 32-bit mulberry32 generator: tiny, fast and good enough for jitter and
 * simulation choices. Not for cryptography.
 *
 * @example
 * const rng = new SeededRng(42);
 * rng.nextInt(10); // always the same value for seed 42
 */
export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    // Mixing the seed once keeps small seeds (0, 1, 2...) from giving correlated first draws.
    this.state = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  }

  /** Returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`nextInt bound must be a positive integer, got ${n}`);
    }
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * n);
  }
}
