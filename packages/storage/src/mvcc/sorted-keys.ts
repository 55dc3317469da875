const MAX_CHUNK = 256;

/**
 * An ordered set of keys (latin1 strings, so string order is byte order), for range scans.
 * Keys live in sorted chunks of at most 256, so an insert moves at most a chunk's worth of
 * slots plus, on a split, the chunk list, and sequential appends (the common case) touch only
 * the last chunk. It holds keys only: a key's history lives in the {@link TreeIndex} map, so
 * a key costs one array slot here (8 bytes) and no object of its own.
 *
 * Worked example, with chunks of at most 4 for brevity: inserting `a c e g` fills one chunk;
 * `d` makes it `[a c d e g]`, over the limit, so it splits in two:
 *
 * ```
 * keys: [ [a c], [d e g] ]        forEachInRange('b', 'f') visits c, d, e
 * ```
 *
 * Invariant: every chunk is non-empty and sorted, with no key twice; the last key of chunk i
 * is smaller than the first key of chunk i+1.
 */
export class SortedKeys {
  private readonly keys: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts `key`; a no-op if the key is present. */
  insert(key: string): void {
    if (this.keys.length === 0) {
      this.keys.push([key]);
      this.count++;
      return;
    }
    const ci = this.chunkFor(key);
    const chunk = this.keys[ci] as string[];
    const i = lowerBound(chunk, key);
    if (chunk[i] === key) return;
    if (i === chunk.length) chunk.push(key);
    else chunk.splice(i, 0, key);
    this.count++;
    if (chunk.length > MAX_CHUNK) {
      const half = chunk.length >> 1;
      this.keys.splice(ci + 1, 0, chunk.splice(half));
    }
  }

  delete(key: string): void {
    if (this.keys.length === 0) return;
    const ci = this.chunkFor(key);
    const chunk = this.keys[ci] as string[];
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.keys.splice(ci, 1);
  }

  /**
   * Calls `visit` for each key with `from <= key < to` (no upper bound when `to` is
   * undefined), ascending.
   */
  forEachInRange(from: string, to: string | undefined, visit: (key: string) => void): void {
    if (this.keys.length === 0) return;
    let ci = this.chunkFor(from);
    let i = lowerBound(this.keys[ci] as string[], from);
    for (; ci < this.keys.length; ci++, i = 0) {
      const chunk = this.keys[ci] as string[];
      for (; i < chunk.length; i++) {
        const k = chunk[i] as string;
        if (to !== undefined && k >= to) return;
        visit(k);
      }
    }
  }

  /** Keys in `[from, to)`, ascending. */
  range(from: string, to: string | undefined): string[] {
    const out: string[] = [];
    this.forEachInRange(from, to, k => out.push(k));
    return out;
  }

  /** Index of the chunk that holds, or would hold, `key`. */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.keys.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (((this.keys[mid] as string[])[0] as string) <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function lowerBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((arr[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
