import type {VoteResult} from './vote-result.js';

/**
 * MajorityConfig is a set of voter ids with majority quorum arithmetic. It holds no raft state:
 * callers pass the acknowledged indexes or the votes in.
 *
 * Worked example, voters (1 2 3) with match indexes 1:12, 2:10, 3:5. Sorted descending the
 * indexes read 12 10 5; a quorum is 2 voters, so the committed index is the 2nd value, 10.
 */
export class MajorityConfig {
  /** Voter ids in ascending order, so every iteration is deterministic. */
  readonly ids: readonly number[];
  private readonly idSet: ReadonlySet<number>;
  private readonly scratch: number[];

  constructor(ids: Iterable<number>) {
    this.ids = [...new Set(ids)].sort((a, b) => a - b);
    this.idSet = new Set(this.ids);
    this.scratch = new Array<number>(this.ids.length).fill(0);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.idSet.has(id);
  }

  /** The number of voters that forms a majority. */
  quorum(): number {
    return Math.floor(this.ids.length / 2) + 1;
  }

  /**
   * committedIndex returns the largest index acknowledged by a majority. `acked` returns a
   * voter's acknowledged index, or undefined for a voter never heard from (counted as 0). An
   * empty config commits nothing and returns 0.
   */
  committedIndex(acked: (id: number) => number | undefined): number {
    const n = this.ids.length;
    if (n === 0) {
      return 0;
    }
    const srt = this.scratch;
    for (let i = 0; i < n; i++) {
      srt[i] = acked(this.ids[i] ?? 0) ?? 0;
    }
    // Insertion sort: configs are tiny and this runs on every append response.
    for (let i = 1; i < n; i++) {
      const v = srt[i] ?? 0;
      let j = i - 1;
      while (j >= 0 && (srt[j] ?? 0) > v) {
        srt[j + 1] = srt[j] ?? 0;
        j--;
      }
      srt[j + 1] = v;
    }
    // Ascending order: the value at n - quorum is acknowledged by `quorum` voters.
    return srt[n - this.quorum()] ?? 0;
  }

  /**
   * voteResult tallies `votes` (true = granted, false = rejected, absent = not yet answered).
   * An empty config wins by convention, so a joint config half with no voters never blocks.
   */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    if (this.ids.length === 0) {
      return 'won';
    }
    let granted = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) {
        missing++;
      } else if (v) {
        granted++;
      }
    }
    const q = this.quorum();
    if (granted >= q) {
      return 'won';
    }
    if (granted + missing >= q) {
      return 'pending';
    }
    return 'lost';
  }

  toString(): string {
    return `(${this.ids.join(' ')})`;
  }
}
