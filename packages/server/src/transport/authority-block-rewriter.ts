import {encodeHpackInteger, encodeHpackRawString, HpackCursor, HpackError} from './hpack-cursor.js';
import type {HpackStringLiteral} from './hpack-cursor.js';
import {decodeHpackHuffman} from './hpack-huffman.js';
import {HpackTableMirror} from './hpack-table-mirror.js';

/** The names of HPACK's static table (RFC 7541 Appendix A), index 1 first. */
const staticTableNames: readonly Buffer[] = [
  ':authority',
  ':method',
  ':method',
  ':path',
  ':path',
  ':scheme',
  ':scheme',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  ':status',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'accept',
  'access-control-allow-origin',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-range',
  'content-type',
  'cookie',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'link',
  'location',
  'max-forwards',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'refresh',
  'retry-after',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'user-agent',
  'vary',
  'via',
  'www-authenticate',
].map(name => Buffer.from(name, 'latin1'));

/** Static entry 1 is `:authority` with an empty value. */
const authorityStaticIndex = 1;
const authorityName = Buffer.from(':authority', 'latin1');

/**
 * The octets nghttp2 accepts in an `:authority` value (RFC 3986's unreserved and sub-delims
 * characters, `:`, `@`, `[`, `]` and `%`), as Node's HTTP/2 server was found to check them;
 * an empty value it refuses too.
 */
const authorityOctets = new Set(
  Buffer.from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]%",
    'latin1',
  ),
);
/** What a refused octet, or an empty value, becomes. */
const substituteOctet = 0x5f; // '_'

/** The three literal representations (RFC 7541 §6.2): their prefix and first-octet bits. */
interface LiteralKind {
  readonly prefixBits: number;
  readonly pattern: number;
  readonly indexes: boolean;
}
const withIncrementalIndexing: LiteralKind = {prefixBits: 6, pattern: 0x40, indexes: true};
const withoutIndexing: LiteralKind = {prefixBits: 4, pattern: 0x00, indexes: false};
const neverIndexed: LiteralKind = {prefixBits: 4, pattern: 0x10, indexes: false};

/**
 * Rewrites the header blocks a client sends on one HTTP/2 connection so that every
 * `:authority` value is one Node's HTTP/2 server (nghttp2) accepts. etcdctl 3.4 sends the
 * whole endpoint URL (`http://127.0.0.1:2379`) there, and nghttp2 resets such a stream with
 * PROTOCOL_ERROR before any JavaScript sees it; etcd serves it. Nothing reads the value
 * (gRPC routes by `:path`), so its meaning need not survive.
 *
 * Each refused octet becomes `_`, which keeps the value's length, so the server's HPACK
 * dynamic table keeps the size the client's encoder computes for it and every index the
 * client sends later stays valid. An empty value must grow to `_`; the table mirror then
 * knows which entries the server evicted early, and whatever the client refers to that the
 * server no longer holds is sent in full. The representation type (indexed or not, never
 * indexed) is kept; everything else passes byte for byte, Huffman coding included.
 *
 * Example: `41 95 <Huffman of http://127.0.0.1:2379>` (literal with incremental indexing,
 * name `:authority` from static index 1) becomes `41 15 http:__127.0.0.1:2379`, raw.
 *
 * One instance per connection, fed every header block in order: it keeps the state of the
 * connection's dynamic table.
 */
export class AuthorityBlockRewriter {
  private readonly table = new HpackTableMirror();
  /**
   * Set once a block did not decode. The server's decoder fails on it too and ends the
   * connection; until then, what follows passes unchanged, as there is no table to trust.
   */
  private failed = false;

  /** Returns `block` itself when nothing in it needs changing, else the rewritten block. */
  rewrite(block: Buffer): Buffer {
    if (this.failed) return block;
    try {
      return this.rewriteFields(block);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      this.failed = true;
      return block;
    }
  }

  private rewriteFields(block: Buffer): Buffer {
    const cursor = new HpackCursor(block);
    const pieces: Buffer[] = [];
    let copiedUpTo = 0;
    while (!cursor.atEnd) {
      const start = cursor.offset;
      const replacement = this.stepField(cursor);
      if (replacement === undefined) continue;
      pieces.push(block.subarray(copiedUpTo, start), replacement);
      copiedUpTo = cursor.offset;
    }
    if (pieces.length === 0) return block;
    pieces.push(block.subarray(copiedUpTo));
    return Buffer.concat(pieces);
  }

  /** Reads one field representation; returns what replaces it, or undefined to keep it. */
  private stepField(cursor: HpackCursor): Buffer | undefined {
    const first = cursor.peek();
    if ((first & 0x80) !== 0) return this.stepIndexedField(cursor.readInteger(7));
    if ((first & 0xe0) === 0x20) {
      this.table.resize(cursor.readInteger(5));
      return undefined;
    }
    if ((first & 0xc0) === 0x40) return this.stepLiteralField(cursor, withIncrementalIndexing);
    return this.stepLiteralField(cursor, (first & 0xf0) === 0x10 ? neverIndexed : withoutIndexing);
  }

  private stepIndexedField(index: number): Buffer | undefined {
    if (index === 0) throw new HpackError('indexed header field with index 0');
    if (index === authorityStaticIndex) {
      return encodeLiteral(
        withoutIndexing,
        authorityStaticIndex,
        undefined,
        acceptable(Buffer.alloc(0)),
      );
    }
    if (index <= staticTableNames.length) return undefined;
    const dynamicIndex = index - staticTableNames.length;
    const entry = this.table.entry(dynamicIndex);
    if (this.table.serverHolds(dynamicIndex)) return undefined;
    // The server evicted it earlier than the client: send it in full, touching no table.
    return encodeLiteral(withoutIndexing, 0, entry.name, entry.serverValue);
  }

  private stepLiteralField(cursor: HpackCursor, kind: LiteralKind): Buffer | undefined {
    const start = cursor.offset;
    const nameIndex = cursor.readInteger(kind.prefixBits);
    let name: Buffer;
    let serverLacksName = false;
    if (nameIndex === 0) {
      name = decoded(cursor.readString());
    } else if (nameIndex <= staticTableNames.length) {
      name = staticTableNames[nameIndex - 1] ?? authorityName;
    } else {
      const dynamicIndex = nameIndex - staticTableNames.length;
      name = this.table.entry(dynamicIndex).name;
      serverLacksName = !this.table.serverHolds(dynamicIndex);
    }
    const valueStart = cursor.offset;
    const valueLiteral = cursor.readString();
    const isAuthority = name.equals(authorityName);
    if (!isAuthority && !kind.indexes && !serverLacksName) return undefined;

    const clientValue = decoded(valueLiteral);
    const serverValue = isAuthority ? acceptable(clientValue) : clientValue;
    if (kind.indexes) this.table.insert({name, clientValue, serverValue});
    const valueChanged = serverValue !== clientValue;
    if (!valueChanged && !serverLacksName) return undefined;

    const namePart = serverLacksName
      ? Buffer.concat([
          encodeHpackInteger(0, kind.prefixBits, kind.pattern),
          encodeHpackRawString(name),
        ])
      : cursor.block.subarray(start, valueStart);
    const valuePart = valueChanged
      ? encodeHpackRawString(serverValue)
      : cursor.block.subarray(valueStart, cursor.offset);
    return Buffer.concat([namePart, valuePart]);
  }
}

/** A string literal's octets, Huffman-decoded if need be, in a buffer of their own. */
function decoded(literal: HpackStringLiteral): Buffer {
  return literal.huffman ? decodeHpackHuffman(literal.octets) : Buffer.from(literal.octets);
}

/** `value` itself when nghttp2 accepts it as `:authority`, else a value of the same length it does. */
function acceptable(value: Buffer): Buffer {
  if (value.length === 0) return Buffer.from([substituteOctet]);
  if (value.every(octet => authorityOctets.has(octet))) return value;
  const substituted = Buffer.from(value);
  substituted.forEach((octet, i) => {
    if (!authorityOctets.has(octet)) substituted[i] = substituteOctet;
  });
  return substituted;
}

/** A literal field: name by index (`nameIndex` > 0) or as a raw string, value raw. */
function encodeLiteral(
  kind: LiteralKind,
  nameIndex: number,
  name: Buffer | undefined,
  value: Buffer,
): Buffer {
  return Buffer.concat([
    encodeHpackInteger(nameIndex, kind.prefixBits, kind.pattern),
    ...(name === undefined ? [] : [encodeHpackRawString(name)]),
    encodeHpackRawString(value),
  ]);
}
