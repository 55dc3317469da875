import {HpackError} from './hpack-cursor.js';

/**
 * One dynamic table entry as the client inserted it, and the value the server was given
 * for it instead (the same unless the header was rewritten).
 */
export interface MirroredEntry {
  readonly name: Buffer;
  readonly clientValue: Buffer;
  readonly serverValue: Buffer;
}

/** The table size both sides start with (RFC 7541 §4.2, SETTINGS_HEADER_TABLE_SIZE's default). */
const initialMaxSizeBytes = 4096;
/** What RFC 7541 §4.1 adds to an entry's name and value length to give its size. */
const entryOverheadBytes = 32;

/** How much of the shared entry list one side's dynamic table holds. */
interface TableSide {
  /** The newest `count` entries. */
  count: number;
  /** Their sizes added up (RFC 7541 §4.1). Invariant: sizeBytes <= maxSizeBytes. */
  sizeBytes: number;
}

/**
 * The two HPACK dynamic tables of one connection's requests, when a proxy in between
 * rewrites some header values: the client's encoder table, and the table of the server's
 * decoder, which was sent the rewritten values. Both receive the same insertions in the
 * same order and the same size updates; only entry sizes can differ, so one side may evict
 * an entry earlier than the other.
 *
 * Both tables are therefore a prefix of one list, newest first, and dynamic index `i`
 * (1-based, after the 61 static entries) names the same entry on both sides as long as
 * both still hold it. What the client refers to but the server no longer holds must be
 * sent in full instead.
 *
 * Example, with a 100-byte table: the client inserts `a: x` (34 bytes), rewritten to
 * `a: xy` (35); then `b` with a 33-octet value (66). The client holds both (100 bytes); the
 * server's 101 bytes overflow, so it evicts `a`. Index 2 is `a: x` for the client, and
 * {@link serverHolds}(2) is false.
 */
export class HpackTableMirror {
  /** Newest first. Invariant: length = max(client.count, server.count). */
  private entries: MirroredEntry[] = [];
  private maxSizeBytes = initialMaxSizeBytes;
  private readonly client: TableSide = {count: 0, sizeBytes: 0};
  private readonly server: TableSide = {count: 0, sizeBytes: 0};

  /** The entry the client means by dynamic index `index` (1 = newest). */
  entry(index: number): MirroredEntry {
    const entry = index >= 1 && index <= this.client.count ? this.entries[index - 1] : undefined;
    if (entry === undefined) throw new HpackError(`dynamic table index ${index} out of range`);
    return entry;
  }

  /** Whether the server's table still holds the entry at dynamic index `index`. */
  serverHolds(index: number): boolean {
    return index >= 1 && index <= this.server.count;
  }

  /** A literal with incremental indexing: both sides insert it (RFC 7541 §4.4). */
  insert(entry: MirroredEntry): void {
    this.entries.unshift(entry);
    insertInto(this.client, sizeOf(entry.name, entry.clientValue), this.maxSizeBytes);
    insertInto(this.server, sizeOf(entry.name, entry.serverValue), this.maxSizeBytes);
    this.evict();
  }

  /** A dynamic table size update (RFC 7541 §6.3), which both sides apply. */
  resize(maxSizeBytes: number): void {
    this.maxSizeBytes = maxSizeBytes;
    this.evict();
  }

  private evict(): void {
    for (const [side, valueOf] of [
      [this.client, (e: MirroredEntry) => e.clientValue],
      [this.server, (e: MirroredEntry) => e.serverValue],
    ] as const) {
      while (side.sizeBytes > this.maxSizeBytes) {
        side.count--;
        const oldest = this.entries[side.count];
        if (oldest !== undefined) side.sizeBytes -= sizeOf(oldest.name, valueOf(oldest));
      }
    }
    this.entries.length = Math.max(this.client.count, this.server.count);
  }
}

function sizeOf(name: Buffer, value: Buffer): number {
  return name.length + value.length + entryOverheadBytes;
}

/** An entry larger than the whole table empties it and is not added (RFC 7541 §4.4). */
function insertInto(side: TableSide, entrySizeBytes: number, maxSizeBytes: number): void {
  if (entrySizeBytes > maxSizeBytes) {
    side.count = 0;
    side.sizeBytes = 0;
    return;
  }
  side.count++;
  side.sizeBytes += entrySizeBytes;
}
