import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';

import {AuthorityRewriter, showClientSockets} from './authority-rewriter.js';
import type {ConsoleSite} from './console-site.js';
import type {GrpcServer} from './grpc-server.js';
import {H2Connection} from './h2/h2-connection.js';
import {h2Exchange} from './h2/h2-exchange.js';
import type {H2Stream} from './h2/h2-stream.js';
import type {HttpEndpoints} from './http-answer.js';
import type {HttpGateway} from './http-gateway.js';
import {serveExchange, serveHttp1, serveHttp2} from './http-endpoints-server.js';
import {http2ClientPreface, readHttp2Opening} from './http2-opening.js';
import type {BoundAddress, ListenerTls} from './socket-listener.js';
import {SocketListener, sniffPreface} from './socket-listener.js';

/** Enough of the HTTP/2 preface to tell it from any HTTP/1 request line. */
const sniffBytes = 4;

/** What the client port serves. */
export interface ClientServices {
  /** gRPC calls: HTTP/2 requests of `application/grpc`. */
  readonly grpc: GrpcServer;
  /** The JSON gateway's `/v3/...` paths, over HTTP/1.1 and HTTP/2. */
  readonly gateway: HttpGateway;
  /** `/health`, `/version`, `/metrics` and the rest. */
  readonly endpoints: HttpEndpoints;
  /** The web console's files under `/ui`; undefined when it is turned off. */
  readonly console?: ConsoleSite;
  /**
   * Which HTTP/2 implementation serves the port (`--experimental-client-http2-engine`):
   * Synod's own (`h2/`, the default), or Node's `http2` module.
   */
  readonly http2Engine?: 'synod' | 'node';
}

/** gRPC requests are HTTP/2 requests of `application/grpc` (`+proto`, `+json`, ...). */
function isGrpc(headers: http2.IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/**
 * Serves gRPC, the JSON gateway and plain HTTP on the same port, as etcd does: clients
 * and tools reach the gRPC API, `/v3/...` and `/health`, `/version` through one URL. Each
 * connection's first bytes decide: the HTTP/2 preface goes to an HTTP/2 server (given the
 * socket itself, so no bytes are copied), whose gRPC streams go to {@link GrpcServer} and
 * other requests to the gateway or the endpoints; any other first bytes to an HTTP/1 server.
 */
export class ClientListener {
  private constructor(
    private readonly listener: SocketListener,
    private readonly http2Server: http2.Http2Server,
    private readonly sessions: Set<http2.ServerHttp2Session>,
    private readonly httpServer: http.Server,
    private readonly connections: Set<H2Connection>,
  ) {}

  /** Where the listener accepts connections, in the order of the URLs given. */
  get addresses(): readonly BoundAddress[] {
    return this.listener.addresses;
  }

  static async listen(
    urls: readonly URL[],
    services: ClientServices,
    secure?: ListenerTls,
  ): Promise<ClientListener> {
    const {grpc, gateway, endpoints, console: site} = services;
    const http2Server = http2.createServer({
      // etcd lets a connection carry any number of calls, and messages of up to 2 GiB out.
      maxSessionMemory: 1024,
      settings: {maxConcurrentStreams: 2 ** 32 - 1},
    });
    const sessions = new Set<http2.ServerHttp2Session>();
    http2Server.on('session', session => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      // A client that goes away mid-call reports an error; its calls see their streams close.
      session.on('error', () => undefined);
    });
    showClientSockets(http2Server);
    http2Server.on('stream', (stream, headers) => {
      if (isGrpc(headers)) grpc.handleStream(stream, headers);
      else serveHttp2(endpoints, gateway, stream, headers, site);
    });
    const httpServer = http.createServer((req, res) => {
      serveHttp1(endpoints, gateway, req, res, site);
    });
    const connections = new Set<H2Connection>();
    const serveStream = (stream: H2Stream) => {
      const type = stream.header('content-type');
      if (type?.startsWith('application/grpc') === true) grpc.serve(stream);
      else serveExchange(endpoints, gateway, h2Exchange(stream), site);
    };
    const startH2 = (socket: net.Socket, seen: Buffer) => {
      const connection = new H2Connection(socket, socket, serveStream);
      connections.add(connection);
      connection.onClose(() => connections.delete(connection));
      connection.start(seen);
    };
    const listener = await SocketListener.listen(
      urls,
      socket => {
        if (services.http2Engine === 'node') routeConnection(socket, http2Server, httpServer);
        else routeToSynodEngine(socket, startH2, httpServer);
      },
      secure,
    );
    return new ClientListener(listener, http2Server, sessions, httpServer, connections);
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    const closed = this.listener.close();
    for (const session of this.sessions) session.destroy();
    for (const connection of this.connections) connection.close();
    this.http2Server.close();
    this.httpServer.closeAllConnections();
    this.httpServer.close();
    await closed;
  }
}

/**
 * Sends a new connection where its first bytes say: HTTP/2 to the HTTP/2 server, anything
 * else to the HTTP/1 server. The HTTP/2 server gets the socket itself (Node then reads it
 * without JavaScript in between), unless the first request carries headers Node's HTTP/2
 * layer refuses where etcd serves them (etcdctl 3.4 sends its endpoint URL as `:authority`):
 * then it reads the connection through an {@link AuthorityRewriter}.
 */
function routeConnection(
  socket: net.Socket,
  http2Server: http2.Http2Server,
  httpServer: http.Server,
): void {
  sniffPreface(
    socket,
    http2ClientPreface,
    (isHttp2, seen) => {
      socket.pause();
      if (!isHttp2) {
        socket.unshift(seen);
        // The HTTP/1 parser reads new bytes straight from the socket's handle, so
        // the bytes already read reach it only as 'data' events: resume to flush them.
        httpServer.emit('connection', socket);
        socket.resume();
        return;
      }
      readHttp2Opening(socket, seen, ({replay, needsRewriting}) => {
        if (needsRewriting) {
          http2Server.emit('connection', new AuthorityRewriter(socket, replay));
          return;
        }
        // Node's HTTP/2 session takes over the socket and reads what was unshifted.
        socket.unshift(replay);
        http2Server.emit('connection', socket);
      });
    },
    sniffBytes,
  );
}

/**
 * As {@link routeConnection}, for Synod's own HTTP/2 engine: it reads the socket from the
 * first bytes on, checks and mends request headers as it decodes them (where Node's server
 * needs an `AuthorityRewriter` in front), and sends its SETTINGS at once, which clients
 * that wait for the server's preface (grpc-go) need.
 */
function routeToSynodEngine(
  socket: net.Socket,
  startH2: (socket: net.Socket, seen: Buffer) => void,
  httpServer: http.Server,
): void {
  sniffPreface(
    socket,
    http2ClientPreface,
    (isHttp2, seen) => {
      socket.pause();
      if (!isHttp2) {
        socket.unshift(seen);
        httpServer.emit('connection', socket);
        socket.resume();
        return;
      }
      startH2(socket, seen);
    },
    sniffBytes,
  );
}
