import http from 'node:http';
import net from 'node:net';

import * as grpc from '@grpc/grpc-js';

/** The first bytes of every HTTP/2 connection (RFC 9113 §3.4); gRPC always speaks HTTP/2. */
const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Enough of the preface to tell it from any HTTP/1 request line. */
const sniffBytes = 4;

/** An address a listener is bound to, with the port the OS chose when port 0 was asked for. */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Serves gRPC and plain HTTP/1.1 on the same port, as etcd does: clients and
 * tools reach the gRPC API and `/health`, `/version` through one URL. Each
 * connection's first bytes decide: the HTTP/2 preface goes to the grpc-js
 * server (fed through its connection injector, so no bytes are copied), any
 * other request to the HTTP handler.
 */
export class ClientListener {
  private constructor(
    private readonly sockets: Set<net.Socket>,
    private readonly servers: readonly net.Server[],
    private readonly injector: grpc.ConnectionInjector,
    private readonly httpServer: http.Server,
    /** Where the listener accepts connections, in the order of the URLs given. */
    readonly addresses: readonly BoundAddress[],
  ) {}

  static async listen(
    urls: readonly URL[],
    grpcServer: grpc.Server,
    httpHandler: http.RequestListener,
  ): Promise<ClientListener> {
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const httpServer = http.createServer(httpHandler);
    const servers: net.Server[] = [];
    const addresses: BoundAddress[] = [];
    const sockets = new Set<net.Socket>();
    const route = (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      routeConnection(socket, injector, httpServer);
    };
    try {
      for (const url of urls) {
        const server = net.createServer({pauseOnConnect: true, noDelay: true}, route);
        const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({host, port: Number(url.port)}, () => {
            server.off('error', reject);
            resolve();
          });
        });
        servers.push(server);
        const address = server.address() as net.AddressInfo;
        addresses.push({host, port: address.port});
      }
    } catch (error) {
      for (const server of servers) server.close();
      injector.destroy();
      throw error;
    }
    return new ClientListener(sockets, servers, injector, httpServer, addresses);
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    const closed = this.servers.map(
      server =>
        new Promise<void>(resolve => {
          server.close(() => {
            resolve();
          });
        }),
    );
    this.injector.destroy();
    this.httpServer.closeAllConnections();
    this.httpServer.close();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closed);
  }
}

function routeConnection(
  socket: net.Socket,
  injector: grpc.ConnectionInjector,
  httpServer: http.Server,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, sniffBytes);
    const isHttp2 = seen.subarray(0, n).equals(http2Preface.subarray(0, n));
    if (isHttp2 && seen.length < sniffBytes) return;
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
    socket.unshift(seen);
    if (isHttp2) {
      // Node's HTTP/2 session takes over the socket and reads what was unshifted.
      injector.injectConnection(socket);
    } else {
      // The HTTP/1 parser reads new bytes straight from the socket's handle, so
      // the bytes already read reach it only as 'data' events: resume to flush them.
      httpServer.emit('connection', socket);
      socket.resume();
    }
  };
  const onError = () => {
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.resume();
}
