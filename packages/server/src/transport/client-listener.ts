import http from 'node:http';
import type net from 'node:net';

import * as grpc from '@grpc/grpc-js';

import type {HttpEndpoints} from '../api/http-handler.js';
import type {Gateway} from '../gateway/gateway.js';
import {AuthorityRewriter, showClientSocketsToGrpc} from './authority-rewriter.js';
import {answerHttp2BesideGrpc, serveHttp1} from './http-endpoints-server.js';
import {http2ClientPreface, readHttp2Opening} from './http2-opening.js';
import type {BoundAddress, ListenerTls} from './socket-listener.js';
import {SocketListener, sniffPreface} from './socket-listener.js';

/** Enough of the HTTP/2 preface to tell it from any HTTP/1 request line. */
const sniffBytes = 4;

/**
 * Serves gRPC and plain HTTP/1.1 on the same port, as etcd does: clients and
 * tools reach the gRPC API and `/health`, `/version` through one URL. Each
 * connection's first bytes decide: the HTTP/2 preface goes to the grpc-js
 * server (fed through its connection injector, so no bytes are copied), any
 * other request to the HTTP handler.
 */
export class ClientListener {
  private constructor(
    private readonly listener: SocketListener,
    private readonly injector: grpc.ConnectionInjector,
    private readonly httpServer: http.Server,
  ) {}

  /** Where the listener accepts connections, in the order of the URLs given. */
  get addresses(): readonly BoundAddress[] {
    return this.listener.addresses;
  }

  static async listen(
    urls: readonly URL[],
    grpcServer: grpc.Server,
    endpoints: HttpEndpoints,
    gateway: Gateway,
    secure?: ListenerTls,
  ): Promise<ClientListener> {
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    answerHttp2BesideGrpc(grpcServer, endpoints, gateway);
    showClientSocketsToGrpc(grpcServer);
    const httpServer = http.createServer((req, res) => {
      serveHttp1(endpoints, gateway, req, res);
    });
    try {
      const listener = await SocketListener.listen(
        urls,
        socket => {
          routeConnection(socket, injector, httpServer);
        },
        secure,
      );
      return new ClientListener(listener, injector, httpServer);
    } catch (error) {
      injector.destroy();
      throw error;
    }
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    const closed = this.listener.close();
    this.injector.destroy();
    this.httpServer.closeAllConnections();
    this.httpServer.close();
    await closed;
  }
}

/**
 * Sends a new connection where its first bytes say: HTTP/2 to grpc-js, anything else to
 * the HTTP/1 handler. grpc-js gets the socket itself (Node's HTTP/2 server then reads it
 * without JavaScript in between), unless the first request carries an `:authority` that
 * Node's HTTP/2 server refuses (etcdctl 3.4 sends its endpoint URL there): then it reads
 * the connection through an {@link AuthorityRewriter}.
 */
function routeConnection(
  socket: net.Socket,
  injector: grpc.ConnectionInjector,
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
      readHttp2Opening(socket, seen, ({replay, authorityRefused}) => {
        if (authorityRefused) {
          injector.injectConnection(new AuthorityRewriter(socket, replay));
          return;
        }
        // Node's HTTP/2 session takes over the socket and reads what was unshifted.
        socket.unshift(replay);
        injector.injectConnection(socket);
      });
    },
    sniffBytes,
  );
}
