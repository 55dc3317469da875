/** A header block that does not decode as HPACK (RFC 7541); the peer's decoder fails too. */
export class HpackError extends Error {
  override readonly name = 'HpackError';
}

/**
 * A string literal as it stands in a header block (RFC 7541 §5.2): where its octets are and
 * whether they are Huffman-coded, not yet decoded.
 */
export interface HpackStringLiteral {
  readonly huffman: boolean;
  /** The octets after the length, still Huffman-coded when {@link huffman} is set. */
  readonly octets: Buffer;
}

/** Integers above this are refused: no length or index in a header block comes near it. */
const largestIntegerAccepted = 2 ** 32 - 1;

/**
 * Reads one header block from its start: the primitive types of RFC 7541 §5 (prefixed
 * integers, string literals). Reading past the end throws {@link HpackError}.
 *
 * Example: the block `1f 9a 0a` read with `readInteger(5)` gives 1337 (RFC 7541 C.1.2), and
 * {@link offset} is then 3.
 */
export class HpackCursor {
  /** Invariant: 0 <= offset <= block.length. */
  offset = 0;

  constructor(readonly block: Buffer) {}

  get atEnd(): boolean {
    return this.offset >= this.block.length;
  }

  /** The octet under the cursor, without moving. */
  peek(): number {
    const octet = this.block[this.offset];
    if (octet === undefined) throw new HpackError('header block ends inside a field');
    return octet;
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1); the octet's higher bits are ignored. */
  readInteger(prefixBits: number): number {
    const limit = (1 << prefixBits) - 1;
    let value = this.peek() & limit;
    this.offset++;
    if (value < limit) return value;
    let shift = 0;
    let octet: number;
    do {
      octet = this.peek();
      this.offset++;
      value += (octet & 0x7f) * 2 ** shift;
      shift += 7;
      if (value > largestIntegerAccepted) throw new HpackError('integer too large');
    } while ((octet & 0x80) !== 0);
    return value;
  }

  /** A string literal (RFC 7541 §5.2): the H bit, a 7-bit-prefix length, the octets. */
  readString(): HpackStringLiteral {
    const huffman = (this.peek() & 0x80) !== 0;
    const length = this.readInteger(7);
    if (length > this.block.length - this.offset) {
      throw new HpackError('string literal runs past the end of the header block');
    }
    const octets = this.block.subarray(this.offset, this.offset + length);
    this.offset += length;
    return {huffman, octets};
  }
}

/**
 * Encodes an integer with an N-bit prefix (RFC 7541 §5.1); `pattern` holds the bits of the
 * first octet above the prefix, such as 0x40 for a literal with incremental indexing.
 */
export function encodeHpackInteger(value: number, prefixBits: number, pattern: number): Buffer {
  const limit = (1 << prefixBits) - 1;
  if (value < limit) return Buffer.from([pattern | value]);
  const octets = [pattern | limit];
  let rest = value - limit;
  while (rest >= 0x80) {
    octets.push(rest % 0x80 | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  octets.push(rest);
  return Buffer.from(octets);
}

/** Encodes a string literal without Huffman coding (RFC 7541 §5.2, H = 0). */
export function encodeHpackRawString(octets: Uint8Array): Buffer {
  return Buffer.concat([encodeHpackInteger(octets.length, 7, 0), octets]);
}
