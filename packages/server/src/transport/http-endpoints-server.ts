import type http from 'node:http';
import type http2 from 'node:http2';

import type * as grpc from '@grpc/grpc-js';

import type {HttpAnswer, HttpEndpoints} from '../api/http-handler.js';

/** The path of a request target, without its query. */
function pathOf(target: string | undefined): string {
  return (target ?? '/').split('?')[0] ?? '/';
}

/** Serves the member's HTTP endpoints to an HTTP/1.1 request. */
export function serveHttp1(
  endpoints: HttpEndpoints,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const method = req.method ?? 'GET';
  void Promise.resolve(endpoints(method, pathOf(req.url))).then((answer: HttpAnswer) => {
    res.writeHead(answer.status, answer.headers).end(method === 'HEAD' ? undefined : answer.body);
  });
}

/** gRPC requests are HTTP/2 requests of `application/grpc` (`+proto`, `+json`, ...). */
function isGrpc(headers: http2.IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

type StreamListener = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

/**
 * Lets the HTTP/2 server that grpc-js made for its newest connection injector answer
 * requests that are not gRPC from the member's HTTP endpoints, as etcd serves both on one
 * port: a client that negotiates HTTP/2 over TLS (curl does) asks `/health` over HTTP/2.
 * gRPC requests still go to grpc-js's own handler.
 *
 * grpc-js keeps its HTTP/2 servers in a private map and has no option for this; should the
 * map go, nothing changes and such requests get grpc-js's 415 as before.
 */
export function answerHttp2BesideGrpc(grpcServer: grpc.Server, endpoints: HttpEndpoints): void {
  const servers = (grpcServer as unknown as {http2Servers?: Map<http2.Http2Server, unknown>})
    .http2Servers;
  const http2Server = servers instanceof Map ? [...servers.keys()].at(-1) : undefined;
  if (http2Server === undefined) return;
  const grpcHandlers = http2Server.listeners('stream') as StreamListener[];
  if (grpcHandlers.length === 0) return;
  http2Server.removeAllListeners('stream');
  http2Server.on('stream', (stream: http2.ServerHttp2Stream, headers, ...rest: unknown[]) => {
    if (isGrpc(headers)) {
      for (const handler of grpcHandlers) handler.call(http2Server, stream, headers, ...rest);
      return;
    }
    const method = headers[':method'] ?? 'GET';
    void Promise.resolve(endpoints(method, pathOf(headers[':path']))).then(answer => {
      if (stream.destroyed) return;
      stream.respond({':status': answer.status, ...answer.headers});
      stream.end(method === 'HEAD' ? undefined : answer.body);
    });
  });
}
