import type {HttpExchange} from '../http-exchange.js';
import {AsyncQueue} from '../../util/async-queue.js';
import {pathOf, queryOf} from '../request-target.js';
import {encodeHeaderField} from './hpack-encoder.js';
import type {H2Stream} from './h2-stream.js';

/** An {@link HttpExchange} whose answer may also end with bytes, as the console's files do. */
export interface BodyExchange extends HttpExchange {
  /** The request target's query (`/health?exclude=NOSPACE`), empty when it has none. */
  readonly query: URLSearchParams;
  end(body?: string | Buffer, trailers?: Readonly<Record<string, string>>): void;
}

/** A header block of a status and header fields (names lower-cased, as HTTP/2 wants them). */
function headerBlock(
  status: number | undefined,
  headers: Readonly<Record<string, string | string[]>>,
): Buffer {
  const parts: Buffer[] = [];
  if (status !== undefined) parts.push(encodeHeaderField(':status', String(status)));
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    // HTTP/1's hop-by-hop fields have no place in HTTP/2 (RFC 9113 §8.2.2).
    if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive') continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(encodeHeaderField(lower, v));
    }
  }
  return Buffer.concat(parts);
}

/**
 * A request that is not gRPC (the JSON gateway's `/v3/...`, `/health`, `/metrics`...) on
 * Synod's HTTP/2 engine, as the gateway's {@link HttpExchange}.
 */
export function h2Exchange(stream: H2Stream): BodyExchange {
  let done = false;
  let closed: AbortController | undefined;
  const body = new AsyncQueue<Buffer>();
  stream.readRequest(
    chunk => {
      body.push(chunk);
    },
    () => {
      body.close();
    },
  );
  stream.onClose(() => {
    body.close();
    if (!done) closed?.abort();
  });
  const socket = stream.socket;
  const target = stream.header(':path') ?? '/';
  return {
    method: stream.header(':method') ?? 'GET',
    path: pathOf(target),
    query: queryOf(target),
    header: name => {
      const values: string[] = [];
      stream.forEachHeader((n, v) => {
        if (n === name) values.push(v);
      });
      return values.length === 0 ? undefined : values.join(', ');
    },
    headerNames: () => {
      const names = new Set<string>();
      stream.forEachHeader(n => names.add(n));
      return [...names];
    },
    body,
    peer: `${socket?.remoteAddress ?? ''}:${socket?.remotePort ?? ''}`,
    get closed() {
      if (closed === undefined) {
        closed = new AbortController();
        if (stream.closed && !done) closed.abort();
      }
      return closed.signal;
    },
    gone: () => stream.closed && !done,
    secure: (socket as {encrypted?: boolean} | undefined)?.encrypted === true,
    start: (status, headers) => {
      const {trailer: _announced, ...rest} = headers;
      stream.sendHeaderBlock(headerBlock(status, rest), false);
    },
    write: async text => {
      if (!stream.writeData(Buffer.from(text))) await stream.whenWritable();
    },
    end: (text, trailers) => {
      done = true;
      if (text !== undefined && text.length > 0) {
        stream.writeData(typeof text === 'string' ? Buffer.from(text) : text);
      }
      stream.endResponse(trailers === undefined ? undefined : headerBlock(undefined, trailers));
    },
  };
}
