import {KeyIndex} from './key-index.js';
import type {Revision} from './revision.js';
import {SortedKeys} from './sorted-keys.js';

/** A key (latin1 string) and the revision holding its state at some store revision. */
export interface IndexedRevision {
  readonly key: string;
  readonly rev: Revision;
}

/**
 * In-memory index of every key's history ({@link KeyIndex}) plus an ordered key set for range
 * scans. Keys are latin1 strings (one code unit per byte), so string order is byte order.
 * Rebuilt from the backend on open.
 */
export class TreeIndex {
  private readonly index = new Map<string, KeyIndex>();
  private readonly keys = new SortedKeys<KeyIndex>();

  get keyCount(): number {
    return this.index.size;
  }

  put(key: string, main: number, sub: number): void {
    let ki = this.index.get(key);
    if (ki === undefined) {
      ki = new KeyIndex();
      this.index.set(key, ki);
      this.keys.insert(key, ki);
    }
    ki.put(main, sub);
  }

  /** Records a delete; false (and no change) if the key is not live. */
  tombstone(key: string, main: number, sub: number): boolean {
    return this.index.get(key)?.tombstone(main, sub) ?? false;
  }

  get(key: string, atRev: number): Revision | undefined {
    return this.index.get(key)?.get(atRev);
  }

  /**
   * Keys in `[from, to)` (`to` undefined = no upper bound) that exist at `atRev`, in key
   * order: at most `limit` of them (0 = all), and the total number that exist.
   */
  range(
    from: string,
    to: string | undefined,
    atRev: number,
    limit: number,
  ): {
    revs: IndexedRevision[];
    total: number;
  } {
    const revs: IndexedRevision[] = [];
    let total = 0;
    this.keys.forEachInRange(from, to, (key, ki) => {
      const rev = ki.get(atRev);
      if (rev === undefined) return;
      total++;
      if (limit === 0 || revs.length < limit) revs.push({key, rev});
    });
    return {revs, total};
  }

  /**
   * Compacts every key's history at `atRev` (see {@link KeyIndex.compact}), dropping keys left
   * without history. Calls `keep` for each revision at or below `atRev` that stays.
   */
  compact(atRev: number, keep: (main: number, sub: number) => void): void {
    for (const [key, ki] of this.index) {
      ki.compact(atRev, keep);
      if (ki.empty) {
        this.index.delete(key);
        this.keys.delete(key);
      }
    }
  }
}
