import http2 from 'node:http2';
import net from 'node:net';
import {Duplex} from 'node:stream';
import tls from 'node:tls';

/**
 * One gRPC call made byte by byte: the caller chooses the body exactly (length prefixes,
 * flag bytes, truncations) and may override any request header, so tests and the fuzz
 * suite can send what no well-behaved client sends and see what the server answers.
 *
 * Example: `rawGrpcCall('127.0.0.1:2379', '/etcdserverpb.KV/Range', grpcFrame(bytes))`.
 */
export interface RawGrpcOptions {
  /**
   * Headers to add or replace. A value of `null` leaves a default header out, even `:scheme`
   * and `:authority`, which Node's client always sends: they are then sent never indexed and
   * cut out of the request's header block on the way to the server.
   */
  readonly headers?: Readonly<Record<string, string | null>>;
  /** How long to wait for the status before reporting `timedOut`, 3 s by default. */
  readonly timeoutMs?: number;
  /** Call over TLS (ALPN `h2`) with these certificates: the CA to trust, and the client's own. */
  readonly tls?: Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key'>;
  /** Leave the request stream open after the body (no half-close), as a streaming client might. */
  readonly keepOpen?: boolean;
}

/** What the server answered. */
export interface RawGrpcResult {
  /** `grpc-status` from the trailers (or trailers-only headers); undefined when none came. */
  readonly status: number | undefined;
  /** `grpc-message`, percent-decoded. */
  readonly message: string;
  /** The length-prefixed response messages' payloads, in order. */
  readonly messages: readonly Buffer[];
  /** The HTTP/2 `:status`, undefined when the stream was reset before any headers. */
  readonly httpStatus: number | undefined;
  /** The RST_STREAM code when the server reset the stream, else undefined. */
  readonly resetCode: number | undefined;
  /** True when nothing ended the call within the timeout. */
  readonly timedOut: boolean;
}

/** Frames a message payload the way gRPC does: flag byte, 4-byte big-endian length, payload. */
export function grpcFrame(payload: Uint8Array, compressedFlag = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressedFlag, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Splits a gRPC response body into its messages' payloads (a trailing partial frame is dropped). */
export function grpcMessages(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const length = body.readUInt32BE(at + 1);
    if (at + 5 + length > body.length) break;
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

/**
 * Makes one call on a fresh HTTP/2 connection to `address` (`host:port`), sends `body` as is
 * and collects the answer. Never throws for what the server does: a reset, a GOAWAY or a
 * silent server are reported in the result.
 */
export async function rawGrpcCall(
  address: string,
  path: string,
  body: Uint8Array,
  options: RawGrpcOptions = {},
): Promise<RawGrpcResult> {
  const cut = cutPseudoHeaders(options.headers ?? {}).map(name => cuttableNameIndexes[name] ?? 0);
  const session = http2.connect(`${options.tls === undefined ? 'http' : 'https'}://${address}`, {
    ...options.tls,
    ...(cut.length === 0
      ? {}
      : {
          createConnection: () =>
            new PseudoHeaderCutter(connectTo(address, options.tls), new Set(cut)),
        }),
  });
  session.on('error', () => {
    // Reported through the stream's outcome below.
  });
  try {
    return await callOn(session, path, body, options);
  } finally {
    session.destroy();
  }
}

async function callOn(
  session: http2.ClientHttp2Session,
  path: string,
  body: Uint8Array,
  options: RawGrpcOptions,
): Promise<RawGrpcResult> {
  const merged: Record<string, string | null> = {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...options.headers,
  };
  const headers: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(merged)) if (value !== null) headers[name] = value;
  // Headers to cut are sent (Node adds them anyway), never indexed so that cutting them
  // leaves no trace in the server's HPACK table.
  const cut = cutPseudoHeaders(merged);
  for (const name of cut) headers[name] = 'cut';
  const stream = session.request({...headers, [http2.sensitiveHeaders]: cut}, {endStream: false});
  const chunks: Buffer[] = [];
  let httpStatus: number | undefined;
  let status: number | undefined;
  let message = '';
  const takeStatus = (h: http2.IncomingHttpHeaders) => {
    const s = h['grpc-status'];
    if (typeof s === 'string') status = Number(s);
    const m = h['grpc-message'];
    if (typeof m === 'string') message = decodeURIComponent(m);
  };
  stream.on('response', h => {
    httpStatus = Number(h[':status']);
    takeStatus(h);
  });
  stream.on('trailers', takeStatus);
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('error', () => {
    // A reset: its code is read on close.
  });
  if (body.length > 0) stream.write(body);
  if (options.keepOpen !== true) stream.end();
  const timeoutMs = options.timeoutMs ?? 3000;
  const timedOut = await new Promise<boolean>(resolve => {
    const timer = setTimeout(() => {
      resolve(true);
    }, timeoutMs);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const resetCode =
    !timedOut && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR ? stream.rstCode : undefined;
  if (timedOut) stream.close(http2.constants.NGHTTP2_CANCEL);
  return {
    status,
    message,
    messages: grpcMessages(Buffer.concat(chunks)),
    httpStatus,
    resetCode,
    timedOut,
  };
}

/**
 * The pseudo-header fields a test may leave out though Node's client always sends them, by
 * the static-table index nghttp2 names them with (RFC 7541 Appendix A).
 */
const cuttableNameIndexes: Readonly<Record<string, number>> = {':authority': 1, ':scheme': 6};

/** The pseudo-header fields Node always sends that `headers` leaves out with `null`. */
function cutPseudoHeaders(headers: Readonly<Record<string, string | null>>): string[] {
  return Object.keys(cuttableNameIndexes).filter(name => headers[name] === null);
}

function connectTo(address: string, secure: RawGrpcOptions['tls']): net.Socket {
  const colon = address.lastIndexOf(':');
  const [host, port] = [address.slice(0, colon), Number(address.slice(colon + 1))];
  return secure === undefined
    ? net.connect(port, host)
    : tls.connect({host, port, ...secure, ALPNProtocols: ['h2']});
}

const clientPrefaceBytes = 24;
const frameHeaderBytes = 9;
const headersFrameType = 0x1;
const endStreamFlag = 0x1;
const endHeadersFlag = 0x4;

/**
 * Stands between Node's HTTP/2 client and its socket, and cuts out of every HEADERS frame
 * the never-indexed literal fields whose name is one of the given static-table entries. A
 * never-indexed field touches no HPACK table, so what remains decodes as the client meant.
 * Handles what Node sends for one request: whole blocks in one HEADERS frame, no padding,
 * no priority fields.
 *
 * Example: `83 04 0d "/svc.S/Method" 16 83 9d29af 11 8a ...` (POST, the path, `:scheme`
 * and `:authority` never indexed) with index 6 cut becomes `83 04 0d "/svc.S/Method" 11 8a ...`.
 */
class PseudoHeaderCutter extends Duplex {
  private prefaceLeftBytes = clientPrefaceBytes;
  private pending = Buffer.alloc(0);

  constructor(
    private readonly socket: net.Socket,
    private readonly nameIndexes: ReadonlySet<number>,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.on('error', error => this.destroy(error));
    socket.once('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    let out: Buffer;
    try {
      out = this.cut(chunk);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (out.length === 0) {
      done();
      return;
    }
    this.socket.write(out, error => {
      done(error);
    });
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(() => {
      done();
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    done(error);
  }

  /** What the server gets for `chunk`: whole frames, HEADERS frames cut. */
  private cut(chunk: Buffer): Buffer {
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    if (this.prefaceLeftBytes > 0) {
      const n = Math.min(this.prefaceLeftBytes, this.pending.length);
      out.push(this.pending.subarray(0, n));
      this.pending = this.pending.subarray(n);
      this.prefaceLeftBytes -= n;
    }
    while (this.pending.length >= frameHeaderBytes) {
      const end = frameHeaderBytes + this.pending.readUIntBE(0, 3);
      if (this.pending.length < end) break;
      const frame = this.pending.subarray(0, end);
      out.push(frame[3] === headersFrameType ? this.cutFields(frame) : frame);
      this.pending = this.pending.subarray(end);
    }
    return Buffer.concat(out);
  }

  private cutFields(frame: Buffer): Buffer {
    if (frame[4] !== endHeadersFlag && frame[4] !== (endHeadersFlag | endStreamFlag)) {
      throw new Error(`cannot cut fields from a HEADERS frame with flags ${frame[4]}`);
    }
    const block = frame.subarray(frameHeaderBytes);
    const kept: Buffer[] = [];
    const reader = {block, at: 0};
    while (reader.at < block.length) {
      const start = reader.at;
      const first = block[start] ?? 0;
      if ((first & 0x80) !== 0) {
        readInteger(reader, 7);
      } else if ((first & 0xe0) === 0x20) {
        readInteger(reader, 5);
      } else {
        const nameIndex = readInteger(reader, (first & 0xc0) === 0x40 ? 6 : 4);
        if (nameIndex === 0) skipString(reader);
        skipString(reader);
        if ((first & 0xf0) === 0x10 && this.nameIndexes.has(nameIndex)) continue;
      }
      kept.push(block.subarray(start, reader.at));
    }
    const payload = Buffer.concat(kept);
    const header = Buffer.from(frame.subarray(0, frameHeaderBytes));
    header.writeUIntBE(payload.length, 0, 3);
    return Buffer.concat([header, payload]);
  }
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function readInteger(reader: {block: Buffer; at: number}, prefixBits: number): number {
  const limit = (1 << prefixBits) - 1;
  let value = (reader.block[reader.at++] ?? 0) & limit;
  if (value < limit) return value;
  let shift = 0;
  let octet: number;
  do {
    octet = reader.block[reader.at++] ?? 0;
    value += (octet & 0x7f) * 2 ** shift;
    shift += 7;
  } while ((octet & 0x80) !== 0);
  return value;
}

/** Steps over an HPACK string literal (RFC 7541 §5.2), Huffman-coded or not. */
function skipString(reader: {block: Buffer; at: number}): void {
  const length = readInteger(reader, 7);
  reader.at += length;
}
