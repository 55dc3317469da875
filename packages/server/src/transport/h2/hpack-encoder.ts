import {encodeHpackInteger, encodeHpackRawString} from '../hpack-cursor.js';
import {hpackStaticTable} from './hpack-static-table.js';

/** Each static name's first index, and each static name-value pair's index. */
const staticNameIndex = new Map<string, number>();
const staticPairIndex = new Map<string, number>();
hpackStaticTable.forEach(([name, value], i) => {
  if (!staticNameIndex.has(name)) staticNameIndex.set(name, i + 1);
  if (value !== '') staticPairIndex.set(`${name}\0${value}`, i + 1);
});

/**
 * Encodes one header field for a block that leaves the peer's dynamic table alone: the static
 * entry's index when it holds the pair (RFC 7541 §6.1), else a literal without indexing
 * (§6.2.2), naming the static entry when it has the name. Strings go raw, not Huffman-coded.
 *
 * A server that never inserts into the peer's table needs no state per connection, and can
 * encode a block once for every response that carries it: the gRPC server's response
 * headers and status trailers are nearly constant, and are precomputed this way.
 *
 * Example: `:status 200` is `88`; `content-type application/grpc` is `0f 10 10` followed by
 * the 16 octets of the value (name index 31, a 4-bit prefix).
 */
export function encodeHeaderField(name: string, value: string): Buffer {
  const pair = staticPairIndex.get(`${name}\0${value}`);
  if (pair !== undefined) return encodeHpackInteger(pair, 7, 0x80);
  const valueOctets = encodeHpackRawString(Buffer.from(value, 'latin1'));
  const nameIndex = staticNameIndex.get(name);
  if (nameIndex !== undefined) {
    return Buffer.concat([encodeHpackInteger(nameIndex, 4, 0), valueOctets]);
  }
  return Buffer.concat([
    Buffer.of(0),
    encodeHpackRawString(Buffer.from(name, 'latin1')),
    valueOctets,
  ]);
}

/** Encodes header fields, in order, as one block of {@link encodeHeaderField}s. */
export function encodeHeaderBlock(fields: Iterable<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(encodeHeaderField(name, value));
  return Buffer.concat(parts);
}
