import type net from 'node:net';
import type {Duplex} from 'node:stream';
import tls from 'node:tls';

import type {TlsCredentials} from './tls-credentials.js';

/** How long a new connection may take to finish its TLS handshake. */
const handshakeTimeoutMs = 10_000;

/** Why a TLS connection was refused, for the member's log. */
export interface TlsRefusal {
  readonly remote: string;
  readonly reason: string;
}

/**
 * The server side of TLS for one listener: accepted connections go through a handshake
 * with the current certificates (read again when their files change), and the decrypted
 * stream of each connection that passed goes to `secured`. A failed handshake (no or an
 * untrusted, expired or revoked certificate while one is required, a plaintext client) or
 * a certificate outside the allowed names ends that connection and is reported to
 * `refused`, touching nothing else.
 *
 * Node's `tls.Server` does the handshake and the certificate checks; it never listens
 * itself: the listener hands it connections, so one port can tell protocols apart after
 * the handshake.
 */
export class TlsAcceptor {
  private readonly server: tls.Server;

  constructor(
    private readonly credentials: TlsCredentials,
    secured: (socket: tls.TLSSocket) => void,
    refused: (refusal: TlsRefusal) => void,
    /** What the handshake asks of clients; the etcd client port's by default. */
    serverOptions: tls.TlsOptions = credentials.serverOptions(),
  ) {
    this.server = tls.createServer({
      ...serverOptions,
      handshakeTimeout: handshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      const why = credentials.refusal(socket);
      if (why !== undefined) {
        refused({remote: remoteOf(socket), reason: why});
        socket.destroy();
        return;
      }
      socket.on('error', () => {
        socket.destroy();
      });
      secured(socket);
    });
    this.server.on('tlsClientError', (error: Error & {reason?: string}, socket: tls.TLSSocket) => {
      // OpenSSL's own text carries its source file and line; its reason says it all.
      refused({remote: remoteOf(socket), reason: error.reason ?? error.message});
      socket.destroy();
    });
  }

  /** Runs the handshake on a newly accepted (paused) connection. */
  accept(socket: net.Socket | Duplex): void {
    if (this.credentials.refresh()) this.server.setSecureContext(this.credentials.contextOptions());
    this.server.emit('connection', socket);
    socket.resume();
  }
}

function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}
