const MAX_CHUNK = 256;

/**
 * An ordered map from keys (latin1 strings, so string order is byte order) to values, for
 * range scans. Entries live in sorted chunks of at most 256 (keys and values in parallel
 * arrays), so an insert moves at most a chunk's worth of slots plus, on a split, the chunk
 * list, and sequential appends (the common case) touch only the last chunk.
 *
 * Invariant: every chunk is non-empty and sorted; the last key of chunk i is smaller than
 * the first key of chunk i+1; `vals[c][i]` belongs to `keys[c][i]`.
 */
export class SortedKeys<V> {
  private keys: string[][] = [];
  private vals: V[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Inserts `key` with `value`; a no-op if the key is present. */
  insert(key: string, value: V): void {
    if (this.keys.length === 0) {
      this.keys.push([key]);
      this.vals.push([value]);
      this.count++;
      return;
    }
    const ci = this.chunkFor(key);
    const chunk = this.keys[ci] as string[];
    const i = lowerBound(chunk, key);
    if (chunk[i] === key) return;
    const vchunk = this.vals[ci] as V[];
    chunk.splice(i, 0, key);
    vchunk.splice(i, 0, value);
    this.count++;
    if (chunk.length > MAX_CHUNK) {
      const half = chunk.length >> 1;
      this.keys.splice(ci + 1, 0, chunk.splice(half));
      this.vals.splice(ci + 1, 0, vchunk.splice(half));
    }
  }

  delete(key: string): void {
    if (this.keys.length === 0) return;
    const ci = this.chunkFor(key);
    const chunk = this.keys[ci] as string[];
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return;
    chunk.splice(i, 1);
    (this.vals[ci] as V[]).splice(i, 1);
    this.count--;
    if (chunk.length === 0) {
      this.keys.splice(ci, 1);
      this.vals.splice(ci, 1);
    }
  }

  /**
   * Calls `visit` for each entry with `from <= key < to` (no upper bound when `to` is
   * undefined), ascending.
   */
  forEachInRange(
    from: string,
    to: string | undefined,
    visit: (key: string, value: V) => void,
  ): void {
    if (this.keys.length === 0) return;
    let ci = this.chunkFor(from);
    let i = lowerBound(this.keys[ci] as string[], from);
    for (; ci < this.keys.length; ci++, i = 0) {
      const chunk = this.keys[ci] as string[];
      const vchunk = this.vals[ci] as V[];
      for (; i < chunk.length; i++) {
        const k = chunk[i] as string;
        if (to !== undefined && k >= to) return;
        visit(k, vchunk[i] as V);
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
