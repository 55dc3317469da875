import type {Revision} from './revision.js';

/**
 * The history of one key, as generations of revisions.
 *
 * Worked example. Key `foo` is put at revisions 1.0, 2.0 and 3.0, deleted at 4.0, put again
 * at 5.0 and 6.0:
 *
 * ```
 * generations: [ {1.0, 2.0, 3.0, 4.0(tombstone)}, {5.0, 6.0} ]
 * get(2) -> 2.0    get(4) -> none (deleted at 4)    get(5) -> 5.0    get(0) -> none
 * ```
 *
 * `compact(2)` keeps, in the generation live at 2, the last revision at or below 2 so reads at
 * revision 2 still work, and drops everything older:
 *
 * ```
 * generations: [ {2.0, 3.0, 4.0(t)}, {5.0, 6.0} ]     kept-at-or-below-2: {2.0}
 * ```
 *
 * `compact(4)`: the first generation ended exactly at 4, so it goes entirely, its tombstone
 * too, as etcd compacts (a watcher starting at the compact revision does not see that
 * delete, in etcd either): `[ {5.0, 6.0} ]`. `compact(6)` then leaves `[ {6.0} ]`. A
 * generation whose tombstone is at or below the compact revision goes entirely, and when no
 * generation is left the key leaves the index.
 */
export class KeyIndex {
  /**
   * Every revision of every generation, flat: `[main0, sub0, main1, sub1, ...]`, strictly
   * increasing. Kept as one array (not an object per generation) because a million keys
   * make a million of these: fewer objects means less memory and shorter GC pauses.
   */
  private revs: number[] = [];
  /**
   * Pair index at which each generation starts; undefined means a single generation from 0.
   * Invariant: every generation but the last ends with its tombstone.
   */
  private genStarts: number[] | undefined;
  /** Whether the last generation ended with a tombstone. */
  private closed = false;

  /** A key whose history so far is one put at `main.sub`. */
  static of(main: number, sub: number): KeyIndex {
    const ki = new KeyIndex();
    ki.revs = [main, sub];
    return ki;
  }

  /** Records a put at `main.sub`. */
  put(main: number, sub: number): void {
    const revs = this.revs;
    if (revs.length === 0) {
      // A literal gets exactly two slots; push on an empty array would reserve 17.
      this.revs = [main, sub];
      this.closed = false;
      return;
    }
    if (this.closed) {
      this.genStarts = [...(this.genStarts ?? [0]), revs.length / 2];
      this.closed = false;
    }
    revs.push(main, sub);
  }

  /** Records a delete at `main.sub`; returns false if the key is not live. */
  tombstone(main: number, sub: number): boolean {
    if (this.revs.length === 0 || this.closed) return false;
    this.revs.push(main, sub);
    this.closed = true;
    return true;
  }

  /** Whether the key exists after its latest revision. */
  get live(): boolean {
    return this.revs.length > 0 && !this.closed;
  }

  get empty(): boolean {
    return this.revs.length === 0;
  }

  /** The key's one revision when its whole history is a single live put, else undefined. */
  get single(): Revision | undefined {
    const revs = this.revs;
    if (revs.length !== 2 || this.closed) return undefined;
    return {main: revs[0] as number, sub: revs[1] as number};
  }

  /** Revision of the key's state at store revision `atRev`, or undefined if absent then. */
  get(atRev: number): Revision | undefined {
    const revs = this.revs;
    const pairs = revs.length / 2;
    const starts = this.genStarts;
    const gens = starts?.length ?? 1;
    for (let gi = gens - 1; gi >= 0; gi--) {
      const start = starts?.[gi] ?? 0;
      const end = gi === gens - 1 ? pairs : (starts?.[gi + 1] ?? pairs);
      if ((revs[start * 2] as number) > atRev) continue;
      const closed = gi < gens - 1 || this.closed;
      if (closed && (revs[(end - 1) * 2] as number) <= atRev) return undefined;
      // Last revision of the generation with main <= atRev.
      let lo = start;
      let hi = end - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((revs[mid * 2] as number) <= atRev) lo = mid;
        else hi = mid - 1;
      }
      return {main: revs[lo * 2] as number, sub: revs[lo * 2 + 1] as number};
    }
    return undefined;
  }

  /**
   * Drops history that no read at or after `atRev` can need (see the class example), and
   * calls `keep` with the one revision at or below `atRev` that stays.
   */
  compact(atRev: number, keep: (main: number, sub: number) => void): void {
    const revs = this.revs;
    const pairs = revs.length / 2;
    const starts = this.genStarts ?? [0];
    let dropPairs = 0;
    let dropGens = 0;
    for (let gi = 0; gi < starts.length; gi++) {
      const start = starts[gi] as number;
      const end = gi === starts.length - 1 ? pairs : (starts[gi + 1] as number);
      const closed = gi < starts.length - 1 || this.closed;
      if (closed && (revs[(end - 1) * 2] as number) <= atRev) {
        dropPairs = end;
        dropGens = gi + 1;
        continue;
      }
      let j = -1;
      for (let i = start; i < end; i++) {
        if ((revs[i * 2] as number) <= atRev) j = i;
        else break;
      }
      if (j >= 0) {
        keep(revs[j * 2] as number, revs[j * 2 + 1] as number);
        dropPairs = j;
      }
      break;
    }
    if (dropPairs === 0) return;
    this.revs = revs.slice(dropPairs * 2);
    if (this.revs.length === 0) {
      this.genStarts = undefined;
      this.closed = false;
      return;
    }
    const rest = starts.slice(dropGens).map(s => Math.max(0, s - dropPairs));
    this.genStarts = rest.length > 1 ? rest : undefined;
  }
}
