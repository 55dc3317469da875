import {KeyIndex} from './key-index.js';
import type {Revision} from './revision.js';
import {SortedKeys} from './sorted-keys.js';

/** A key (latin1 string) and the revision holding its state at some store revision. */
export interface IndexedRevision {
  readonly key: string;
  readonly rev: Revision;
}

/**
 * A key's history in the index, in the smallest form that holds it:
 *
 * - a number: the whole history is one live put, packed (see {@link pack});
 * - an array of numbers: every revision packed, in order, a delete stored negated
 *   (`-pack(main, sub)`); a generation ends at each negative entry, so the array is the
 *   generation list of a {@link KeyIndex} without its objects;
 * - a {@link KeyIndex}: some revision does not pack (a sub of 1024 or more, a main past 2^43).
 */
type History = number | number[] | KeyIndex;

/** Subs below this pack together with their main revision into one number. */
const PACKED_SUBS = 1024;
/** Mains below this pack: `main * PACKED_SUBS + sub` then stays a safe integer. */
const PACKED_MAINS = Math.floor(Number.MAX_SAFE_INTEGER / PACKED_SUBS);
/**
 * Below this length a history array grows by exactly one slot per change (a copy): `push`
 * would reserve `n + n/2 + 16` slots, 19 for a key's second revision where it needs 2.
 * From here on `push`'s spare slots are a small share and its amortised cost matters.
 */
const EXACT_GROWTH_LENGTH = 16;

/**
 * The one number standing for revision `main.sub`, or undefined if it won't fit. Revisions
 * start at 1, so a packed revision is at least 1024 and its negation marks a delete.
 */
function pack(main: number, sub: number): number | undefined {
  return sub < PACKED_SUBS && main < PACKED_MAINS ? main * PACKED_SUBS + sub : undefined;
}

const packedMain = (packed: number): number => Math.floor(packed / PACKED_SUBS);
const packedSub = (packed: number): number => packed % PACKED_SUBS;
const unpack = (packed: number): Revision => ({main: packedMain(packed), sub: packedSub(packed)});

/** `revs` with `entry` appended: a new array of exactly the right length while it is short. */
function appended(revs: number[], entry: number): number[] {
  if (revs.length >= EXACT_GROWTH_LENGTH) {
    revs.push(entry);
    return revs;
  }
  return revs.concat(entry);
}

/**
 * Index of the last entry of `revs` whose main revision is at most `atRev`, or -1. Entries
 * are in revision order whatever their sign.
 */
function lastAtOrBelow(revs: readonly number[], atRev: number): number {
  const bound = (atRev + 1) * PACKED_SUBS;
  let lo = 0;
  let hi = revs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.abs(revs[mid] as number) < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The same history as a {@link KeyIndex}, for a revision that will not pack. */
function toKeyIndex(h: number | number[]): KeyIndex {
  const ki = new KeyIndex();
  for (const entry of typeof h === 'number' ? [h] : h) {
    const p = Math.abs(entry);
    if (entry > 0) ki.put(packedMain(p), packedSub(p));
    else ki.tombstone(packedMain(p), packedSub(p));
  }
  return ki;
}

/**
 * In-memory index of every key's history plus an ordered key set for range scans. Keys are
 * latin1 strings (one code unit per byte), so string order is byte order. Rebuilt from the
 * backend on open.
 *
 * A key costs its string, its map entry, its slot in the key set and its history. Most keys
 * have a history of one live put (written once, or left with one revision by a compaction):
 * that history is one number, no object of its own. A longer history is an array of packed
 * revisions, 8 bytes each, rather than a {@link KeyIndex} object with arrays inside (see
 * {@link History}); a {@link KeyIndex} is kept only for revisions that do not pack.
 *
 * Worked example: a txn at revision 7 puts `a` (7.0) and `b` (7.1); then revision 8 puts `a`
 * again and revision 9 deletes `b`:
 *
 * ```
 * after 7:  a -> 7168 (7.0)           b -> 7169 (7.1)
 * after 9:  a -> [7168, 8192]         b -> [7169, -9216]   (7.1, then deleted at 9.0)
 * compact(9): a -> 8192 (8.0)         b leaves the index (its tombstone is at 9, see KeyIndex)
 * ```
 *
 * Invariant: `keys` holds exactly the keys of `index`; no history in `index` is empty; the
 * absolute values of a history array strictly increase.
 */
export class TreeIndex {
  private readonly index = new Map<string, History>();
  private readonly keys = new SortedKeys();

  get keyCount(): number {
    return this.index.size;
  }

  put(key: string, main: number, sub: number): void {
    const h = this.index.get(key);
    const packed = pack(main, sub);
    if (h === undefined) {
      this.index.set(key, packed ?? KeyIndex.of(main, sub));
      this.keys.insert(key);
    } else if (h instanceof KeyIndex) {
      h.put(main, sub);
    } else if (packed === undefined) {
      const ki = toKeyIndex(h);
      ki.put(main, sub);
      this.index.set(key, ki);
    } else {
      this.index.set(key, typeof h === 'number' ? [h, packed] : appended(h, packed));
    }
  }

  /** Records a delete; false (and no change) if the key is not live. */
  tombstone(key: string, main: number, sub: number): boolean {
    const h = this.index.get(key);
    if (h === undefined) return false;
    if (h instanceof KeyIndex) return h.tombstone(main, sub);
    if (typeof h !== 'number' && (h[h.length - 1] as number) < 0) return false;
    const packed = pack(main, sub);
    if (packed === undefined) {
      const ki = toKeyIndex(h);
      ki.tombstone(main, sub);
      this.index.set(key, ki);
    } else {
      this.index.set(key, typeof h === 'number' ? [h, -packed] : appended(h, -packed));
    }
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
      const rest =
        h instanceof KeyIndex ? compactKeyIndex(h, atRev, keep) : compactRevs(h, atRev, keep);
      if (rest === undefined) {
        this.index.delete(key);
        this.keys.delete(key);
      } else if (rest !== h) {
        this.index.set(key, rest);
      }
    }
  }
}

/** Revision of the key's state at store revision `atRev` (see {@link KeyIndex.get}). */
function historyAt(h: History, atRev: number): Revision | undefined {
  if (typeof h === 'number') {
    const main = packedMain(h);
    return main <= atRev ? {main, sub: packedSub(h)} : undefined;
  }
  if (h instanceof KeyIndex) return h.get(atRev);
  // The key's last change at or before atRev decides: absent if it was a delete.
  const at = lastAtOrBelow(h, atRev);
  const entry = at < 0 ? -1 : (h[at] as number);
  return entry > 0 ? unpack(entry) : undefined;
}

/**
 * {@link KeyIndex.compact} on a history array: the generations that ended at or before
 * `atRev` go, and of the one live at `atRev` only its last revision at or before it stays
 * (reported to `keep`). Returns the history left (undefined if none), `revs` itself if
 * unchanged.
 */
function compactRevs(
  revs: number[],
  atRev: number,
  keep: (main: number, sub: number) => void,
): History | undefined {
  const at = lastAtOrBelow(revs, atRev);
  if (at < 0) return revs;
  const entry = revs[at] as number;
  // A delete at or before atRev takes its whole generation along, as etcd compacts.
  const drop = entry < 0 ? at + 1 : at;
  if (entry > 0) keep(packedMain(entry), packedSub(entry));
  if (drop === 0) return revs;
  if (drop === revs.length) return undefined;
  // One live put left: back to a single number.
  const only = drop === revs.length - 1 ? (revs[drop] as number) : -1;
  if (only > 0) return only;
  return revs.slice(drop);
}

function compactKeyIndex(
  ki: KeyIndex,
  atRev: number,
  keep: (main: number, sub: number) => void,
): History | undefined {
  ki.compact(atRev, keep);
  if (ki.empty) return undefined;
  const single = ki.single;
  const packed = single === undefined ? undefined : pack(single.main, single.sub);
  return packed ?? ki;
}
