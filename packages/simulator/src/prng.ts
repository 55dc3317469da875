/**
 * Prng is the simulator's only source of randomness: xoshiro128** seeded through splitmix32.
 *
 * Every subsystem draws from its own stream, obtained with {@link Prng.fork}. A fork depends
 * only on the parent's seed and the label, never on how many numbers the parent has drawn, so
 * adding a draw in the network model does not reshuffle the clock, the faults or the clients.
 *
 * @example
 * const root = new Prng(42);
 * const net = root.fork('network');
 * net.nextInt(10); // the same value for seed 42, whatever else the run draws
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The 32-bit key forks are derived from; fixed at construction. */
  private readonly key: number;

  /** @param seed - any safe integer; equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Prng seed must be a safe integer, got ${seed}`);
    }
    // Fold the high bits in so seeds that differ only above 2^32 still differ.
    const high = Math.floor(seed / 0x1_0000_0000);
    this.key = mix32(mix32(seed >>> 0) ^ high);
    let x = this.key;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) {
      // xoshiro's one forbidden state; splitmix never yields it in practice, but be certain.
      this.s0 = 1;
    }
  }

  /**
   * fork returns an independent stream for a subsystem, e.g. `fork('network')`,
   * `fork('node-3')`. The same label on the same seed always gives the same stream.
   */
  fork(label: string): Prng {
    let h = 0x811c9dc5 ^ this.key;
    for (let i = 0; i < label.length; i++) {
      h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    }
    return new Prng(mix32(h) >>> 0);
  }

  /** nextUint32 returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** nextFloat returns a float uniformly drawn from [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** nextInt returns an integer uniformly drawn from [0, n); `n` is a positive integer. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`nextInt bound must be a positive integer, got ${n}`);
    }
    return Math.floor(this.nextFloat() * n);
  }

  /** intBetween returns an integer uniformly drawn from [lo, hi], both inclusive. */
  intBetween(lo: number, hi: number): number {
    return lo + this.nextInt(hi - lo + 1);
  }

  /** chance returns true with probability `p` (0 never, 1 always). */
  chance(p: number): boolean {
    return p > 0 && this.nextFloat() < p;
  }

  /** exponential draws from an exponential distribution with the given mean. */
  exponential(mean: number): number {
    if (mean <= 0) return 0;
    return -mean * Math.log(1 - this.nextFloat());
  }

  /** pick returns one element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) {
      throw new RangeError('pick from an empty array');
    }
    return items[this.nextInt(items.length)] as T;
  }

  /** shuffle permutes `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** mix32 is the splitmix32 / murmur3 finaliser: a bijection that spreads every input bit. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
