import http from 'node:http';

import type {HttpEndpoints} from '../transport/http-answer.js';
import type {BoundAddress, ListenerTls} from '../transport/socket-listener.js';
import {SocketListener} from '../transport/socket-listener.js';

/**
 * etcd's `--listen-metrics-urls`: `/metrics` and the health endpoints on listeners of their
 * own, so Prometheus and probes reach them without the client port (and without a client
 * certificate when the client port asks for one). `https://` URLs are served with the client
 * certificates, as etcd does. HTTP/1.1 only: the client port's gRPC and gateway are not here.
 */
export class MetricsListener {
  private constructor(
    private readonly listener: SocketListener,
    private readonly server: http.Server,
  ) {}

  /** Where the listener accepts connections, in the order of the URLs given. */
  get addresses(): readonly BoundAddress[] {
    return this.listener.addresses;
  }

  static async listen(
    urls: readonly URL[],
    endpoints: HttpEndpoints,
    secure?: ListenerTls,
  ): Promise<MetricsListener> {
    const server = http.createServer((req, res) => {
      const method = req.method ?? 'GET';
      const target = new URL(req.url ?? '/', 'http://metrics.invalid');
      void Promise.resolve(endpoints(method, target.pathname, target.searchParams)).then(answer => {
        res
          .writeHead(answer.status, answer.headers)
          .end(method === 'HEAD' ? undefined : answer.body);
      });
    });
    const listener = await SocketListener.listen(
      urls,
      socket => {
        server.emit('connection', socket);
        socket.resume();
      },
      secure,
    );
    return new MetricsListener(listener, server);
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    const closed = this.listener.close();
    this.server.closeAllConnections();
    this.server.close();
    await closed;
  }
}
