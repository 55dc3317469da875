import type http from 'node:http';
import type http2 from 'node:http2';
import type {Writable} from 'node:stream';

import type {ConsoleAnswer, ConsoleSite} from './console-site.js';
import type {BodyExchange} from './h2/h2-exchange.js';
import type {HttpAnswer, HttpEndpoints} from './http-answer.js';
import type {HttpExchange} from './http-exchange.js';
import type {HttpGateway} from './http-gateway.js';
import {pathOf, queryOf} from './request-target.js';

/** Answers an HTTP/1.1 request: the JSON gateway's paths, else the member's HTTP endpoints. */
export function serveHttp1(
  endpoints: HttpEndpoints,
  gateway: HttpGateway,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  site?: ConsoleSite,
): void {
  const method = req.method ?? 'GET';
  const path = pathOf(req.url);
  if (gateway.handles(path)) {
    void gateway.serve(http1Exchange(method, path, req, res));
    return;
  }
  const answered = site?.handles(path)
    ? site.answer(method, path, req.headers['if-none-match'])
    : endpoints(method, path, queryOf(req.url));
  void Promise.resolve(answered).then((answer: HttpAnswer | ConsoleAnswer) => {
    res.writeHead(answer.status, answer.headers).end(method === 'HEAD' ? undefined : answer.body);
  });
}

/** Whether a connection is a TLS one (a `TLSSocket`, or a stream standing in for one). */
function isEncrypted(socket: object): boolean {
  return (socket as {encrypted?: boolean}).encrypted === true;
}

/** Writes, and resolves when the stream can take more (or is gone). */
function writeWhenReady(stream: Writable, text: string): Promise<void> {
  return new Promise(resolve => {
    if (stream.destroyed || stream.writableEnded || stream.write(text)) {
      resolve();
      return;
    }
    stream.once('drain', resolve);
    stream.once('close', resolve);
  });
}

/**
 * A signal that aborts when `stream` closes before the answer was sent, made on first use
 * (aborted at once if that has already happened).
 */
function lazyClosedSignal(
  stream: NodeJS.EventEmitter & {readonly destroyed: boolean},
  isDone: () => boolean,
): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal !== undefined) return signal;
    const closed = new AbortController();
    if (stream.destroyed && !isDone()) closed.abort();
    else {
      stream.once('close', () => {
        if (!isDone()) closed.abort();
      });
    }
    signal = closed.signal;
    return signal;
  };
}

function http1Exchange(
  method: string,
  path: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): HttpExchange {
  let done = false;
  const closed = lazyClosedSignal(res, () => done);
  return {
    method,
    path,
    header: name => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    headerNames: () => Object.keys(req.headers),
    body: req,
    peer: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
    get closed() {
      return closed();
    },
    gone: () => res.destroyed && !done,
    secure: isEncrypted(req.socket),
    // The headers go out with the first write: one socket write for a whole small answer.
    start: (status, headers) => {
      res.writeHead(status, headers);
    },
    write: text => writeWhenReady(res, text),
    end: (text, trailers) => {
      done = true;
      if (trailers !== undefined) {
        if (text !== undefined) res.write(text);
        res.addTrailers(trailers);
        res.end();
        return;
      }
      res.end(text);
    },
  };
}

function http2Exchange(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): HttpExchange {
  let done = false;
  const closed = lazyClosedSignal(stream, () => done);
  const session = stream.session?.socket;
  // A reset stream reports an error; the closed signal already tells the gateway.
  stream.on('error', () => undefined);
  return {
    method: headers[':method'] ?? 'GET',
    path: pathOf(headers[':path']),
    header: name => {
      const value = headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    headerNames: () => Object.keys(headers).filter(name => !name.startsWith(':')),
    body: stream,
    peer: `${session?.remoteAddress ?? ''}:${session?.remotePort ?? ''}`,
    get closed() {
      return closed();
    },
    gone: () => stream.destroyed && !done,
    secure: session !== undefined && isEncrypted(session),
    start: (status, answerHeaders) => {
      if (stream.destroyed) return;
      const {trailer: _announced, ...rest} = answerHeaders;
      stream.respond({':status': status, ...rest}, {waitForTrailers: _announced !== undefined});
    },
    write: text => writeWhenReady(stream, text),
    end: (text, trailers) => {
      done = true;
      if (stream.destroyed) return;
      if (trailers !== undefined) {
        stream.once('wantTrailers', () => {
          stream.sendTrailers(trailers);
        });
      }
      stream.end(text);
    },
  };
}

/**
 * Answers an HTTP/2 request that is not gRPC: the JSON gateway's paths, else the member's
 * HTTP endpoints, as etcd serves all of them on one port (a client that negotiates HTTP/2 over
 * TLS, as curl does, asks `/health` or `/v3/kv/range` over HTTP/2).
 */
export function serveHttp2(
  endpoints: HttpEndpoints,
  gateway: HttpGateway,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  site?: ConsoleSite,
): void {
  const method = headers[':method'] ?? 'GET';
  const path = pathOf(headers[':path']);
  if (gateway.handles(path)) {
    void gateway.serve(http2Exchange(stream, headers));
    return;
  }
  stream.on('error', () => undefined);
  const answered = site?.handles(path)
    ? site.answer(method, path, headers['if-none-match'])
    : endpoints(method, path, queryOf(headers[':path']));
  void Promise.resolve(answered).then((answer: HttpAnswer | ConsoleAnswer) => {
    if (stream.destroyed) return;
    stream.respond({':status': answer.status, ...answer.headers});
    stream.end(method === 'HEAD' ? undefined : answer.body);
  });
}

/**
 * Answers a request that is not gRPC through its {@link BodyExchange} (Synod's HTTP/2
 * engine): the JSON gateway's paths, else the member's HTTP endpoints.
 */
export function serveExchange(
  endpoints: HttpEndpoints,
  gateway: HttpGateway,
  exchange: BodyExchange,
  site?: ConsoleSite,
): void {
  const {method, path} = exchange;
  if (gateway.handles(path)) {
    void gateway.serve(exchange);
    return;
  }
  const answered = site?.handles(path)
    ? site.answer(method, path, exchange.header('if-none-match'))
    : endpoints(method, path, exchange.query);
  void Promise.resolve(answered).then((answer: HttpAnswer | ConsoleAnswer) => {
    if (exchange.gone()) return;
    exchange.start(answer.status, answer.headers);
    exchange.end(method === 'HEAD' ? undefined : answer.body);
  });
}
