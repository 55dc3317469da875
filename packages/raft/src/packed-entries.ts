import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';

/**
 * PackedEntries holds a contiguous run of log entries in flat arrays: each entry's term,
 * type and where its data ends, and the data of every entry copied into one buffer. An entry
 * kept as an object costs an object, a Uint8Array, an ArrayBuffer and a native allocation
 * for its data, about 570 bytes besides the data itself (measured with 100,000 entries of
 * 330 bytes: 903 bytes of resident memory each); packed, it costs 13.
 *
 * Example: entries 11 (term 2, data `aa`) and 12 (term 3, data `bb cc`) pack as
 * `first` 11, `terms` [2, 3], `types` [0, 0], `ends` [1, 3], `bytes` `aa bb cc`.
 *
 * {@link entry} hands out a new Entry whose data is a view of the run's buffer: it shares
 * the buffer, so nobody may write to it (as for every entry raft hands out).
 */
export class PackedEntries {
  private constructor(
    /** Index of the run's first entry. */
    readonly first: number,
    private readonly terms: Float64Array,
    private readonly types: Int8Array,
    /** Entry `first + i`'s data is `bytes[ends[i - 1] ?? 0 .. ends[i])`. */
    private readonly ends: Uint32Array,
    private readonly bytes: Uint8Array,
    /** Entries held. Invariant: 1 <= held <= terms.length. */
    private held: number,
  ) {}

  /** Packs `entries`, which must be contiguous and at least one, copying their data. */
  static pack(entries: readonly Entry[]): PackedEntries {
    const n = entries.length;
    if (n === 0) throw new Error('PackedEntries.pack needs at least one entry');
    let total = 0;
    for (const e of entries) total += e.data.length;
    const terms = new Float64Array(n);
    const types = new Int8Array(n);
    const ends = new Uint32Array(n);
    const bytes = new Uint8Array(total);
    const first = (entries[0] as Entry).index;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const e = entries[i] as Entry;
      if (e.index !== first + i) {
        throw new Error(`PackedEntries.pack: entry ${e.index} where ${first + i} was expected`);
      }
      terms[i] = e.term;
      types[i] = e.type;
      bytes.set(e.data, at);
      at += e.data.length;
      ends[i] = at;
    }
    return new PackedEntries(first, terms, types, ends, bytes, n);
  }

  get count(): number {
    return this.held;
  }

  /** Index of the run's last entry. */
  get last(): number {
    return this.first + this.held - 1;
  }

  /** The term of entry `i`, which must be in the run. */
  term(i: number): number {
    return this.terms[i - this.first] as number;
  }

  /** Entry `i`, which must be in the run, as a new object whose data views the run's buffer. */
  entry(i: number): Entry {
    const k = i - this.first;
    const start = k === 0 ? 0 : (this.ends[k - 1] as number);
    return {
      term: this.terms[k] as number,
      index: i,
      type: entryTypeOf(this.types[k] as number),
      data: this.bytes.subarray(start, this.ends[k]),
    };
  }

  /** Drops every entry after `i` (a follower replacing a conflicting suffix); `i >= first`. */
  truncateAfter(i: number): void {
    this.held = Math.min(this.held, i - this.first + 1);
  }

  /**
   * A run of the entries from `i` on (`first < i <= last`), copied, so that the entries
   * before `i` are released with this run.
   */
  from(i: number): PackedEntries {
    const k = i - this.first;
    const n = this.held - k;
    const start = this.ends[k - 1] as number;
    const ends = new Uint32Array(n);
    for (let j = 0; j < n; j++) ends[j] = (this.ends[k + j] as number) - start;
    return new PackedEntries(
      i,
      this.terms.slice(k, k + n),
      this.types.slice(k, k + n),
      ends,
      this.bytes.slice(start, this.ends[k + n - 1]),
      n,
    );
  }
}

/** Entry types by the number they are stored as (ts-proto's UNRECOGNIZED is -1). */
const entryTypes = new Map<number, EntryType>(
  [EntryType.EntryNormal, EntryType.EntryConfChange, EntryType.UNRECOGNIZED].map(t => [t, t]),
);

function entryTypeOf(n: number): EntryType {
  return entryTypes.get(n) ?? EntryType.UNRECOGNIZED;
}
