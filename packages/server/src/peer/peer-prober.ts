import http2 from 'node:http2';

import type {TlsCredentials} from '../tls/tls-credentials.js';

/** How often a peer's round trip is measured: etcd's prober reports about as often. */
export const probeIntervalMs = 5000;
/** A probe not answered in this time is counted lost; the next one uses a new connection. */
const probeTimeoutMs = 5000;

/**
 * Measures the round trip to one peer, as etcd's prober does for
 * `etcd_network_peer_round_trip_time_seconds`: an HTTP/2 PING on a connection of its own to
 * the peer's gRPC port, answered by the peer's HTTP/2 layer on its event loop, so the time
 * includes a peer too busy to read its sockets as well as the network. One probe at start,
 * then every {@link probeIntervalMs}; a failed probe reports nothing (the Raft stream reports
 * the peer unreachable).
 */
export class PeerProber {
  private session: http2.ClientHttp2Session | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly tls: TlsCredentials | undefined,
    private readonly report: (seconds: number) => void,
  ) {
    this.timer = setInterval(() => {
      this.probe();
    }, probeIntervalMs);
    this.timer.unref();
    setImmediate(() => {
      this.probe();
    });
  }

  private connect(): http2.ClientHttp2Session | undefined {
    const {protocol, hostname} = new URL(this.url);
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    try {
      const session =
        protocol === 'https:' && this.tls !== undefined
          ? http2.connect(this.url, {...this.tls.clientOptions(host), ALPNProtocols: ['h2']})
          : http2.connect(this.url);
      session.on('error', () => undefined);
      session.once('close', () => {
        if (this.session === session) this.session = undefined;
      });
      session.unref();
      return session;
    } catch {
      return undefined;
    }
  }

  private probe(): void {
    if (this.closed) return;
    this.session ??= this.connect();
    const session = this.session;
    if (session === undefined) return;
    const lost = setTimeout(() => {
      session.destroy();
    }, probeTimeoutMs);
    lost.unref();
    const sent = () =>
      session.ping((error, durationMs) => {
        clearTimeout(lost);
        if (error === null && !this.closed) this.report(durationMs / 1000);
      });
    try {
      if (session.connecting) session.once('connect', sent);
      else sent();
    } catch {
      session.destroy();
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.session?.destroy();
  }
}
