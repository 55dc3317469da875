import {KeyIndex} from './key-index.js';
import type {Revision} from './revision.js';
import {SortedKeys} from './sorted-keys.js';

/** A key (latin1 string) and the revision holding its state at some store revision. */
export interface IndexedRevision {
  readonly key: string;
  readonly rev: Revision;
}

/**
 * A key's history in the index: a number when the whole history is one live put whose
 * revision packs (see {@link pack}), else a {@link KeyIndex}.
 */
type History = number | KeyIndex;

/** Subs below this pack together with their main revision into one number. */
const PACKED_SUBS = 1024;
/** Mains below this pack: `main * PACKED_SUBS + sub` then stays a safe integer. */
const PACKED_MAINS = Math.floor(Number.MAX_SAFE_INTEGER / PACKED_SUBS);

/** The one number standing for a single live put at `main.sub`, or undefined if it won't fit. */
function pack(main: number, sub: number): number | undefined {
  return sub < PACKED_SUBS && main < PACKED_MAINS ? main * PACKED_SUBS + sub : undefined;
}

const packedMain = (packed: number): number => Math.floor(packed / PACKED_SUBS);
const packedSub = (packed: number): number => packed % PACKED_SUBS;

/**
 * In-memory index of every key's history plus an ordered key set for range scans. Keys are
 * latin1 strings (one code unit per byte), so string order is byte order. Rebuilt from the
 * backend on open.
 *
 * Most keys, in most stores, have a history of one live put: written once, or left with one
 * revision by a compaction. Such a key's history is a single number in the map, not a
 * {@link KeyIndex} object with its array, which makes it cost about a third as much memory
 * (a key's string, its map entry and its slot in the key set; no object of its own). The
 * number packs the revision as `main * 1024 + sub` and is used when `sub < 1024`; anything
 * else (a second revision, a tombstone, a bigger sub) moves the key to a KeyIndex, and a
 * compaction that leaves it with one live put packs it again.
 *
 * Worked example: a txn at revision 7 puts `a` (7.0) and `b` (7.1); then revision 8 puts `a`
 * again and revision 9 deletes `b`:
 *
 * ```
 * after 7:  a -> 7168 (7.0)           b -> 7169 (7.1)
 * after 9:  a -> KeyIndex{7.0, 8.0}   b -> KeyIndex{7.1, 9.0(t)}
 * compact(9): a -> 8192 (8.0)         b leaves the index (its tombstone is at 9, see KeyIndex)
 * ```
 *
 * Invariant: `keys` holds exactly the keys of `index`; a KeyIndex in `index` is never empty.
 */
export class TreeIndex {
  private readonly index = new Map<string, History>();
  private readonly keys = new SortedKeys();

  get keyCount(): number {
    return this.index.size;
  }

  put(key: string, main: number, sub: number): void {
    const h = this.index.get(key);
    if (h === undefined) {
      this.index.set(key, pack(main, sub) ?? KeyIndex.of(main, sub));
      this.keys.insert(key);
    } else if (typeof h === 'number') {
      const ki = KeyIndex.of(packedMain(h), packedSub(h));
      ki.put(main, sub);
      this.index.set(key, ki);
    } else {
      h.put(main, sub);
    }
  }

  /** Records a delete; false (and no change) if the key is not live. */
  tombstone(key: string, main: number, sub: number): boolean {
    const h = this.index.get(key);
    if (h === undefined) return false;
    if (typeof h !== 'number') return h.tombstone(main, sub);
    const ki = KeyIndex.of(packedMain(h), packedSub(h));
    ki.tombstone(main, sub);
    this.index.set(key, ki);
    return true;
  }

  get(key: string, atRev: number): Revision | undefined {
    const h = this.index.get(key);
    return h === undefined ? undefined : historyAt(h, atRev);
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
    this.keys.forEachInRange(from, to, key => {
      const rev = historyAt(this.index.get(key) as History, atRev);
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
    for (const [key, h] of this.index) {
      if (typeof h === 'number') {
        const main = packedMain(h);
        if (main <= atRev) keep(main, packedSub(h));
        continue;
      }
      h.compact(atRev, keep);
      if (h.empty) {
        this.index.delete(key);
        this.keys.delete(key);
        continue;
      }
      const single = h.single;
      const packed = single === undefined ? undefined : pack(single.main, single.sub);
      if (packed !== undefined) this.index.set(key, packed);
    }
  }
}

/** Revision of the key's state at store revision `atRev` (see {@link KeyIndex.get}). */
function historyAt(h: History, atRev: number): Revision | undefined {
  if (typeof h !== 'number') return h.get(atRev);
  const main = packedMain(h);
  return main <= atRev ? {main, sub: packedSub(h)} : undefined;
}
