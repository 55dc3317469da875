import {HpackCursor, HpackError} from '../hpack-cursor.js';
import type {HpackStringLiteral} from '../hpack-cursor.js';
import {decodeHpackHuffman} from '../hpack-huffman.js';
import {hpackStaticTable} from './hpack-static-table.js';

/** What RFC 7541 §4.1 adds to an entry's name and value length to give its size. */
const entryOverheadBytes = 32;

/**
 * The header fields of one decoded block, flat: name, value, name, value... Names and values
 * are latin1 strings of the octets sent, as HTTP/2 leaves their encoding to the application.
 */
export type HeaderFields = string[];

/**
 * Decodes a peer's header blocks (RFC 7541 §3), keeping the dynamic table the peer's encoder
 * fills. One decoder per connection direction: blocks must be decoded in the order they
 * came, every one of them, even of a stream that is refused, or the tables part ways.
 *
 * Entries hold strings, so a field the client indexed (a gRPC client indexes `:path`,
 * `content-type`, `te`, `user-agent` on its first call) costs no decoding on later calls.
 *
 * Example (RFC 7541 C.3.1): `82 86 84 41 0f www.example.com` decodes to `:method GET`,
 * `:scheme http`, `:path /`, `:authority www.example.com`, and leaves
 * `:authority www.example.com` (57 bytes) in the table.
 */
export class HpackDecoder {
  /** Newest first. Invariant: the sizes of the entries add up to sizeBytes <= maxSizeBytes. */
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private sizeBytes = 0;
  private maxSizeBytes: number;

  /**
   * @param maxTableSizeBytes SETTINGS_HEADER_TABLE_SIZE as this side advertised it: the
   *   largest size a dynamic table size update may ask for.
   */
  constructor(private readonly maxTableSizeBytes = 4096) {
    this.maxSizeBytes = maxTableSizeBytes;
  }

  /** The dynamic table's size in bytes (RFC 7541 §4.1). */
  get tableSizeBytes(): number {
    return this.sizeBytes;
  }

  /** The number of entries in the dynamic table. */
  get tableLength(): number {
    return this.names.length;
  }

  /**
   * Decodes one whole block. Throws {@link HpackError} where the block is not valid HPACK (a
   * COMPRESSION_ERROR for the connection). `listSizeBytes` is set to the block's header list
   * size (RFC 9113 §6.5.2) so that the caller can refuse it after the table is updated.
   */
  decode(block: Buffer, out: {listSizeBytes: number} = {listSizeBytes: 0}): HeaderFields {
    const cursor = new HpackCursor(block);
    const fields: HeaderFields = [];
    let listSizeBytes = 0;
    let fieldSeen = false;
    while (!cursor.atEnd) {
      const first = cursor.peek();
      let name: string;
      let value: string;
      if ((first & 0x80) !== 0) {
        const index = cursor.readInteger(7);
        if (index === 0) throw new HpackError('indexed header field with index 0');
        [name, value] = this.entry(index);
      } else if ((first & 0xc0) === 0x40) {
        const index = cursor.readInteger(6);
        name = index === 0 ? stringOf(cursor.readString()) : this.entry(index)[0];
        value = stringOf(cursor.readString());
        this.insert(name, value);
      } else if ((first & 0xe0) === 0x20) {
        // RFC 7541 §4.2: a size update only at the start of a block.
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const size = cursor.readInteger(5);
        if (size > this.maxTableSizeBytes) {
          throw new HpackError(`dynamic table size update to ${size} above the limit`);
        }
        this.maxSizeBytes = size;
        this.evictTo(size);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): a 4-bit prefix.
        const index = cursor.readInteger(4);
        name = index === 0 ? stringOf(cursor.readString()) : this.entry(index)[0];
        value = stringOf(cursor.readString());
      }
      fieldSeen = true;
      fields.push(name, value);
      listSizeBytes += name.length + value.length + entryOverheadBytes;
    }
    out.listSizeBytes = listSizeBytes;
    return fields;
  }

  private entry(index: number): readonly [string, string] {
    if (index <= hpackStaticTable.length) {
      const entry = hpackStaticTable[index - 1];
      if (entry !== undefined) return entry;
    }
    const at = index - hpackStaticTable.length - 1;
    const name = this.names[at];
    const value = this.values[at];
    if (name === undefined || value === undefined) {
      throw new HpackError(`header table index ${index} out of range`);
    }
    return [name, value];
  }

  /** RFC 7541 §4.4: an entry larger than the table empties it and is not added. */
  private insert(name: string, value: string): void {
    const size = name.length + value.length + entryOverheadBytes;
    if (size > this.maxSizeBytes) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSizeBytes - size);
    this.names.unshift(name);
    this.values.unshift(value);
    this.sizeBytes += size;
  }

  private evictTo(limitBytes: number): void {
    while (this.sizeBytes > limitBytes) {
      const name = this.names.pop() ?? '';
      const value = this.values.pop() ?? '';
      this.sizeBytes -= name.length + value.length + entryOverheadBytes;
    }
  }
}

function stringOf(literal: HpackStringLiteral): string {
  const octets = literal.huffman ? decodeHpackHuffman(literal.octets) : literal.octets;
  return octets.toString('latin1');
}
