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
 * - an array of numbers: first the create revision and the version of the key's live
 *   generation (meaningless while the key is deleted), then every revision packed, in order,
 *   a delete stored negated (`-pack(main, sub)`); a generation ends at each negative entry,
 *   so the array is the generation list of a {@link KeyIndex} without its objects;
 * - a {@link KeyIndex}: some revision does not pack (a sub of 1024 or more, a main past 2^43).
 */
type History = number | number[] | KeyIndex;

/** The create revision and version of a key's live generation (etcd's `created` and `ver`). */
export interface Generation {
  readonly createRevision: number;
  readonly version: number;
}

/** Slots at the head of a history array before its revisions: create revision, version. */
const HEADER = 2;

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
 * Index of the last revision of a history array whose main revision is at most `atRev`, or
 * `HEADER - 1` if none is. Revisions are in order whatever their sign.
 */
function lastAtOrBelow(revs: readonly number[], atRev: number): number {
  const bound = (atRev + 1) * PACKED_SUBS;
  let lo = HEADER;
  let hi = revs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.abs(revs[mid] as number) < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Whether a history array's key exists after its latest revision. */
const arrayLive = (revs: readonly number[]): boolean => (revs[revs.length - 1] as number) > 0;

/** The live generation of a key whose history is packed (a number or an array). */
function packedGeneration(h: number | number[]): Generation | undefined {
  if (typeof h === 'number') return {createRevision: packedMain(h), version: 1};
  return arrayLive(h) ? {createRevision: h[0] as number, version: h[1] as number} : undefined;
}

/** The same history as a {@link KeyIndex}, for a revision that will not pack. */
function toKeyIndex(h: number | number[]): KeyIndex {
  const ki = new KeyIndex();
  for (const entry of typeof h === 'number' ? [h] : h.slice(HEADER)) {
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
 * after 9:  a -> [7, 2, 7168, 8192]   b -> [7, 1, 7169, -9216]   (b deleted at 9.0)
 * compact(9): a -> [7, 2, 8192]       b leaves the index (its tombstone is at 9, see KeyIndex)
 * ```
 *
 * `a` keeps its header after the compaction: its one revision left is its second version,
 * created at 7. The index keeps each live key's create revision and version this way so that
 * a put needs nothing from the record it overwrites ({@link generation}).
 *
 * Invariant: `keys` holds exactly the keys of `index`; no history in `index` is empty; the
 * absolute values of a history array's revisions strictly increase; a number's key is at
 * version 1, created at that number's revision; `kiGenerations` holds the live generation of
 * exactly the live keys held as a {@link KeyIndex}.
 */
export class TreeIndex {
  private readonly index = new Map<string, History>();
  private readonly keys = new SortedKeys();
  private readonly kiGenerations = new Map<string, Generation>();

  get keyCount(): number {
    return this.index.size;
  }

  /**
   * The create revision and version of `key`'s live generation, undefined if the key does
   * not exist now.
   */
  generation(key: string): Generation | undefined {
    const h = this.index.get(key);
    if (h === undefined) return undefined;
    if (h instanceof KeyIndex) return h.live ? this.kiGenerations.get(key) : undefined;
    return packedGeneration(h);
  }

  /**
   * Records a put: a new generation at version 1 if the key does not exist, else the next
   * version of its live one.
   */
  put(key: string, main: number, sub: number): void {
    const h = this.index.get(key);
    const packed = pack(main, sub);
    if (h === undefined) {
      this.keys.insert(key);
      if (packed !== undefined) {
        this.index.set(key, packed);
        return;
      }
      this.index.set(key, KeyIndex.of(main, sub));
      this.kiGenerations.set(key, {createRevision: main, version: 1});
    } else if (h instanceof KeyIndex) {
      const live = h.live ? this.kiGenerations.get(key) : undefined;
      h.put(main, sub);
      this.kiGenerations.set(key, nextGeneration(live, main));
    } else if (packed === undefined) {
      const ki = toKeyIndex(h);
      ki.put(main, sub);
      this.index.set(key, ki);
      this.kiGenerations.set(key, nextGeneration(packedGeneration(h), main));
    } else if (typeof h === 'number') {
      this.index.set(key, [packedMain(h), 2, h, packed]);
    } else {
      const {createRevision, version} = nextGeneration(packedGeneration(h), main);
      h[0] = createRevision;
      h[1] = version;
      this.index.set(key, appended(h, packed));
    }
  }

  /**
   * Sets the create revision and version of live `key`'s generation: for rebuilding the
   * index from records whose earlier history a compaction removed.
   */
  setGeneration(key: string, createRevision: number, version: number): void {
    const h = this.index.get(key);
    if (h === undefined) throw new Error(`setGeneration: key is not in the index`);
    if (h instanceof KeyIndex) {
      this.kiGenerations.set(key, {createRevision, version});
    } else if (typeof h !== 'number') {
      h[0] = createRevision;
      h[1] = version;
    } else if (version !== 1 || createRevision !== packedMain(h)) {
      this.index.set(key, [createRevision, version, h]);
    }
  }

  /** Records a delete; false (and no change) if the key is not live. */
  tombstone(key: string, main: number, sub: number): boolean {
    const h = this.index.get(key);
    if (h === undefined) return false;
    if (h instanceof KeyIndex) {
      this.kiGenerations.delete(key);
      return h.tombstone(main, sub);
    }
    if (typeof h !== 'number' && !arrayLive(h)) return false;
    const packed = pack(main, sub);
    if (packed === undefined) {
      const ki = toKeyIndex(h);
      ki.tombstone(main, sub);
      this.index.set(key, ki);
    } else {
      this.index.set(key, typeof h === 'number' ? [0, 0, h, -packed] : appended(h, -packed));
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
        h instanceof KeyIndex
          ? compactKeyIndex(h, this.kiGenerations.get(key), atRev, keep)
          : compactRevs(h, atRev, keep);
      if (rest === undefined) {
        this.index.delete(key);
        this.keys.delete(key);
      } else if (rest !== h) {
        this.index.set(key, rest);
      }
      if (h instanceof KeyIndex && rest !== h) this.kiGenerations.delete(key);
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
  const entry = at < HEADER ? -1 : (h[at] as number);
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
  if (at < HEADER) return revs;
  const entry = revs[at] as number;
  // A delete at or before atRev takes its whole generation along, as etcd compacts.
  const drop = entry < 0 ? at + 1 : at;
  if (entry > 0) keep(packedMain(entry), packedSub(entry));
  if (drop === HEADER) return revs;
  if (drop === revs.length) return undefined;
  // One live put left that is its key's first version: back to a single number.
  const only = drop === revs.length - 1 ? (revs[drop] as number) : -1;
  if (only > 0 && revs[1] === 1 && revs[0] === packedMain(only)) return only;
  const rest = revs.slice(drop - HEADER);
  rest[0] = revs[0] as number;
  rest[1] = revs[1] as number;
  return rest;
}

function compactKeyIndex(
  ki: KeyIndex,
  generation: Generation | undefined,
  atRev: number,
  keep: (main: number, sub: number) => void,
): History | undefined {
  ki.compact(atRev, keep);
  if (ki.empty) return undefined;
  const single = ki.single;
  const packed = single === undefined ? undefined : pack(single.main, single.sub);
  const first = generation?.version === 1 && generation.createRevision === single?.main;
  return packed !== undefined && first ? packed : ki;
}

/** The generation after a put at `main`: the next version of `live`, or a new one. */
function nextGeneration(live: Generation | undefined, main: number): Generation {
  return live === undefined
    ? {createRevision: main, version: 1}
    : {createRevision: live.createRevision, version: live.version + 1};
}
