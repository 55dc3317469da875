/**
 * The fuzz suite's only source of randomness: sfc32 (Chris Doty-Humphrey's small fast
 * counter generator), seeded through a 32-bit mix so that nearby seeds give unrelated
 * streams. Every input is drawn from its own stream, `FuzzRandom.forInput(seed, index)`,
 * so input N replays without generating inputs 0..N-1.
 */
export class FuzzRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = mix32(seed ^ 0x9e3779b9);
    this.b = mix32(this.a ^ 0x85ebca6b);
    this.c = mix32(this.b ^ 0xc2b2ae35);
    this.d = 1;
    // sfc32's first outputs still echo the seed; throw them away.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The stream for input `index` of the run with `seed`. */
  static forInput(seed: number, index: number): FuzzRandom {
    return new FuzzRandom(mix32(seed) ^ mix32(index + 0x51ed270b));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [w, value] of choices) {
      if (r < w) return value;
      r -= w;
    }
    return choices[choices.length - 1]![1];
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4) {
      const v = this.nextUint32();
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }

  /** A 64-bit value as a bigint in [0, 2^64). */
  uint64(): bigint {
    return (BigInt(this.nextUint32()) << 32n) | BigInt(this.nextUint32());
  }
}

/** A 32-bit integer finaliser (murmur3's fmix32). */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
