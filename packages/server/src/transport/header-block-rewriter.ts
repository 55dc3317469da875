import {pathSlashAddedHeader} from './grpc-stream.js';
import {encodeHpackInteger, encodeHpackRawString, HpackCursor, HpackError} from './hpack-cursor.js';
import type {HpackStringLiteral} from './hpack-cursor.js';
import {decodeHpackHuffman} from './hpack-huffman.js';
import {hpackStaticTableNames} from './hpack-static-table.js';
import {HpackTableMirror} from './hpack-table-mirror.js';

/** Static entries the rewriter names: 1 is `:authority` with an empty value, 6 `:scheme: http`. */
const authorityStaticIndex = 1;
const httpSchemeStaticIndex = 6;
const authorityName = Buffer.from(':authority', 'latin1');
const hostName = Buffer.from('host', 'latin1');
const pathName = Buffer.from(':path', 'latin1');
const schemeName = Buffer.from(':scheme', 'latin1');

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
/** What a refused `:authority` octet, or an empty or missing `:authority`, becomes. */
const substituteOctet = 0x5f; // '_'
const slashOctet = 0x2f;

/**
 * A `:scheme` nghttp2 accepts: RFC 3986's `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, as
 * Node's HTTP/2 server was found to check it (`foo` and `HTTP` pass; `1a`, `a_b` and an empty
 * value do not).
 */
const acceptedScheme = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const httpScheme = Buffer.from('http', 'latin1');
const httpsScheme = Buffer.from('https', 'latin1');

/** The three literal representations (RFC 7541 §6.2): their prefix and first-octet bits. */
interface LiteralKind {
  readonly prefixBits: number;
  readonly pattern: number;
  readonly indexes: boolean;
}
const withIncrementalIndexing: LiteralKind = {prefixBits: 6, pattern: 0x40, indexes: true};
const withoutIndexing: LiteralKind = {prefixBits: 4, pattern: 0x00, indexes: false};
const neverIndexed: LiteralKind = {prefixBits: 4, pattern: 0x10, indexes: false};
const pathSlashAddedField = encodeLiteralField(pathSlashAddedHeader);

/** What a block is to the stream it belongs to. */
export type HeaderBlockRole = 'request' | 'trailers';

/** The connection a rewriter's blocks come on. */
export interface HeaderBlockRewriterOptions {
  /**
   * A TLS connection. etcd 3.4 serves those through Go's `net/http` HTTP/2 server, which
   * resets a request whose `:path` lacks its leading slash or whose `:scheme` is missing or
   * other than `http` and `https`; on plaintext ones grpc-go's own server reads none of these.
   */
  readonly secure?: boolean;
}

/** What one walk over a block found, besides the fields it rewrote. */
interface BlockWalk {
  /** Where the first field starts, after the dynamic table size updates that lead the block. */
  fieldsStart: number;
  /** Whether a field, not a table size update, has been read. */
  fieldSeen: boolean;
  hasAuthority: boolean;
  hasScheme: boolean;
  /** Whether the request's `:path` is given a leading slash it lacked. */
  pathSlashAdded: boolean;
}

/**
 * Rewrites the header blocks a client sends on one HTTP/2 connection so that Node's HTTP/2
 * server (nghttp2, whose HTTP checks cannot be turned off) serves the requests etcd serves
 * and resets those etcd resets. Where they differ (nghttp2 resets a stream with
 * PROTOCOL_ERROR before any JavaScript sees it, and so does Go's server over TLS):
 *
 * | request                           | nghttp2 | etcd, plaintext | etcd, TLS | given to nghttp2         |
 * | --------------------------------- | ------- | --------------- | --------- | ------------------------ |
 * | `:authority` a URL (etcdctl 3.4)  | resets  | serves          | serves    | each refused octet `_`   |
 * | `:authority` empty                | resets  | serves          | serves    | `_`                      |
 * | no `:authority` and no `host`     | resets  | serves          | serves    | `:authority: _` added    |
 * | `:path` without its leading slash | resets  | serves          | resets    | plaintext: `/` prepended |
 * | no `:scheme`                      | resets  | serves          | resets    | plaintext: `http` added  |
 * | `:scheme` nghttp2 refuses (`1a`)  | resets  | serves          | resets    | plaintext: `http`        |
 * | `:scheme` `foo`                   | serves  | serves          | resets    | TLS: empty, refused      |
 *
 * Nothing reads `:authority` or `:scheme` (gRPC routes by `:path`), so their meaning need
 * not survive. grpc-go strips an optional leading slash from `:path`, so one prepended routes
 * the call where etcd does.
 *
 * HPACK: a rewritten `:authority` keeps its length, so both dynamic tables keep the same
 * sizes; the other rewritten values (an empty `:authority`, a path, a scheme) change length,
 * and the table mirror then knows which entries the server evicted earlier or later than the
 * client. The server's entry holds the rewritten value, so the client's later references by
 * index mean the rewritten field to it too; whatever the client refers to that the server no
 * longer holds is sent in full. Added fields are a static index (`:scheme: http`) or a
 * literal without indexing (`:authority: _`): they touch neither table, and go first, after
 * any table size update, because pseudo-header fields precede the others (RFC 9113 §8.3).
 * The representation type of a rewritten field (indexed or not, never indexed) is kept;
 * everything else passes byte for byte, Huffman coding included.
 *
 * Example: `41 95 <Huffman of http://127.0.0.1:2379>` (literal with incremental indexing,
 * name `:authority` from static index 1) becomes `41 15 http:__127.0.0.1:2379`, raw; and on
 * a plaintext connection the request `83 44 15 "etcdserverpb.KV/Range" 41 03 "a:1"` (no
 * `:scheme`) becomes `86 83 44 16 "/etcdserverpb.KV/Range" 41 03 "a:1"`.
 *
 * One instance per connection, fed every header block in order: it keeps the state of the
 * connection's dynamic table.
 */
export class HeaderBlockRewriter {
  private readonly table = new HpackTableMirror();
  private readonly secure: boolean;
  /**
   * Set once a block did not decode. The server's decoder fails on it too and ends the
   * connection; until then, what follows passes unchanged, as there is no table to trust.
   */
  private failed = false;

  constructor({secure = false}: HeaderBlockRewriterOptions = {}) {
    this.secure = secure;
  }

  /**
   * Returns `block` itself when nothing in it needs changing, else the rewritten block.
   * Fields are added only to a block that starts a request, never to trailers.
   */
  rewrite(block: Buffer, role: HeaderBlockRole = 'request'): Buffer {
    if (this.failed) return block;
    try {
      return this.rewriteFields(block, role);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      this.failed = true;
      return block;
    }
  }

  private rewriteFields(block: Buffer, role: HeaderBlockRole): Buffer {
    const cursor = new HpackCursor(block);
    const walk: BlockWalk = {
      fieldsStart: 0,
      fieldSeen: false,
      hasAuthority: false,
      hasScheme: false,
      pathSlashAdded: false,
    };
    const edits: BlockEdit[] = [];
    while (!cursor.atEnd) {
      const start = cursor.offset;
      const replacement = this.stepField(cursor, walk);
      if (replacement !== undefined) edits.push({start, end: cursor.offset, octets: replacement});
    }
    const added = role === 'request' ? this.missingFields(walk) : [];
    if (added.length > 0) {
      edits.unshift({start: walk.fieldsStart, end: walk.fieldsStart, octets: Buffer.concat(added)});
    }
    // A regular field, so after every pseudo-header field (RFC 9113 §8.3): at the end.
    if (role === 'request' && walk.pathSlashAdded) {
      edits.push({start: block.length, end: block.length, octets: pathSlashAddedField});
    }
    return edits.length === 0 ? block : applyEdits(block, edits);
  }

  /** The pseudo-header fields nghttp2 requires that etcd does without, as this request lacks them. */
  private missingFields(walk: BlockWalk): Buffer[] {
    const added: Buffer[] = [];
    if (!walk.hasScheme && !this.secure) {
      added.push(encodeHpackInteger(httpSchemeStaticIndex, 7, 0x80));
    }
    if (!walk.hasAuthority) {
      added.push(
        encodeLiteral(withoutIndexing, authorityStaticIndex, undefined, Buffer.of(substituteOctet)),
      );
    }
    return added;
  }

  /** Reads one field representation; returns what replaces it, or undefined to keep it. */
  private stepField(cursor: HpackCursor, walk: BlockWalk): Buffer | undefined {
    const first = cursor.peek();
    if ((first & 0xe0) === 0x20) {
      this.table.resize(cursor.readInteger(5));
      if (!walk.fieldSeen) walk.fieldsStart = cursor.offset;
      return undefined;
    }
    walk.fieldSeen = true;
    if ((first & 0x80) !== 0) return this.stepIndexedField(cursor.readInteger(7), walk);
    if ((first & 0xc0) === 0x40) {
      return this.stepLiteralField(cursor, withIncrementalIndexing, walk);
    }
    return this.stepLiteralField(
      cursor,
      (first & 0xf0) === 0x10 ? neverIndexed : withoutIndexing,
      walk,
    );
  }

  private stepIndexedField(index: number, walk: BlockWalk): Buffer | undefined {
    if (index === 0) throw new HpackError('indexed header field with index 0');
    if (index <= hpackStaticTableNames.length) {
      noteName(walk, hpackStaticTableNames[index - 1] ?? authorityName);
      if (index !== authorityStaticIndex) return undefined;
      return encodeLiteral(
        withoutIndexing,
        authorityStaticIndex,
        undefined,
        this.serverValue(authorityName, Buffer.alloc(0)),
      );
    }
    const dynamicIndex = index - hpackStaticTableNames.length;
    const entry = this.table.entry(dynamicIndex);
    noteName(walk, entry.name);
    if (entry.name.equals(pathName) && entry.serverValue !== entry.clientValue) {
      walk.pathSlashAdded = true;
    }
    if (this.table.serverHolds(dynamicIndex)) return undefined;
    // The server evicted it earlier than the client: send it in full, touching no table.
    return encodeLiteral(withoutIndexing, 0, entry.name, entry.serverValue);
  }

  private stepLiteralField(
    cursor: HpackCursor,
    kind: LiteralKind,
    walk: BlockWalk,
  ): Buffer | undefined {
    const start = cursor.offset;
    const nameIndex = cursor.readInteger(kind.prefixBits);
    let name: Buffer;
    let serverLacksName = false;
    if (nameIndex === 0) {
      name = decoded(cursor.readString());
    } else if (nameIndex <= hpackStaticTableNames.length) {
      name = hpackStaticTableNames[nameIndex - 1] ?? authorityName;
    } else {
      const dynamicIndex = nameIndex - hpackStaticTableNames.length;
      name = this.table.entry(dynamicIndex).name;
      serverLacksName = !this.table.serverHolds(dynamicIndex);
    }
    noteName(walk, name);
    const valueStart = cursor.offset;
    const valueLiteral = cursor.readString();
    const mayChange = isRewrittenName(name);
    if (!mayChange && !kind.indexes && !serverLacksName) return undefined;

    const clientValue = decoded(valueLiteral);
    const serverValue = mayChange ? this.serverValue(name, clientValue) : clientValue;
    if (kind.indexes) this.table.insert({name, clientValue, serverValue});
    const valueChanged = serverValue !== clientValue;
    if (valueChanged && name.equals(pathName)) walk.pathSlashAdded = true;
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

  /**
   * What nghttp2 is given for a field's value: `value` itself (the same buffer) when it
   * needs no change. The same value always gives the same answer, which keeps the server's
   * table entries what the client's references by index expect.
   */
  private serverValue(name: Buffer, value: Buffer): Buffer {
    if (name.equals(authorityName)) return acceptableAuthority(value);
    if (name.equals(schemeName)) {
      if (this.secure) {
        // Go's server resets the stream; an empty :scheme has nghttp2 reset it too.
        return value.equals(httpScheme) || value.equals(httpsScheme) || value.length === 0
          ? value
          : Buffer.alloc(0);
      }
      return acceptedScheme.test(value.toString('latin1')) ? value : httpScheme;
    }
    if (name.equals(pathName) && !this.secure && value[0] !== slashOctet) {
      return Buffer.concat([Buffer.of(slashOctet), value]);
    }
    return value;
  }
}

/** Octets `start` to `end` of a block replaced by `octets`; an insertion when both are equal. */
interface BlockEdit {
  readonly start: number;
  readonly end: number;
  readonly octets: Buffer;
}

/** `block` with `edits` made, which are in block order and do not overlap. */
function applyEdits(block: Buffer, edits: readonly BlockEdit[]): Buffer {
  const pieces: Buffer[] = [];
  let copiedUpTo = 0;
  for (const {start, end, octets} of edits) {
    pieces.push(block.subarray(copiedUpTo, start), octets);
    copiedUpTo = end;
  }
  pieces.push(block.subarray(copiedUpTo));
  return Buffer.concat(pieces);
}

/** Whether {@link HeaderBlockRewriter} may give a field of this name another value. */
function isRewrittenName(name: Buffer): boolean {
  return name.equals(authorityName) || name.equals(pathName) || name.equals(schemeName);
}

/** Records the pseudo-header fields (or `host`) a request block carries. */
function noteName(walk: BlockWalk, name: Buffer): void {
  if (name.equals(authorityName) || name.equals(hostName)) walk.hasAuthority = true;
  else if (name.equals(schemeName)) walk.hasScheme = true;
}

/** A string literal's octets, Huffman-decoded if need be, in a buffer of their own. */
function decoded(literal: HpackStringLiteral): Buffer {
  return literal.huffman ? decodeHpackHuffman(literal.octets) : Buffer.from(literal.octets);
}

/** `value` itself when nghttp2 accepts it as `:authority`, else a value of the same length it does. */
function acceptableAuthority(value: Buffer): Buffer {
  if (value.length === 0) return Buffer.of(substituteOctet);
  if (value.every(octet => authorityOctets.has(octet))) return value;
  const substituted = Buffer.from(value);
  substituted.forEach((octet, i) => {
    if (!authorityOctets.has(octet)) substituted[i] = substituteOctet;
  });
  return substituted;
}

/** A literal field: name by index (`nameIndex` > 0) or as a raw string, value raw. */
/** A literal field without indexing, new name, value `1`: it touches neither table. */
function encodeLiteralField(name: string): Buffer {
  return encodeLiteral(withoutIndexing, 0, Buffer.from(name, 'latin1'), Buffer.from('1', 'latin1'));
}

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
