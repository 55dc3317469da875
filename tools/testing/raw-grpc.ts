import http2 from 'node:http2';

/**
 * One gRPC call made byte by byte: the caller chooses the body exactly (length prefixes,
 * flag bytes, truncations) and may override any request header, so tests and the fuzz
 * suite can send what no well-behaved client sends and see what the server answers.
 *
 * Example: `rawGrpcCall('127.0.0.1:2379', '/etcdserverpb.KV/Range', grpcFrame(bytes))`.
 */
export interface RawGrpcOptions {
  /** Headers to add or replace; a value of `null` leaves a default header out where Node allows it. */
  readonly headers?: Readonly<Record<string, string | null>>;
  /** How long to wait for the status before reporting `timedOut`, 3 s by default. */
  readonly timeoutMs?: number;
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
  const session = http2.connect(`http://${address}`);
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
  const stream = session.request(headers, {endStream: false});
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
