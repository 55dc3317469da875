import net from 'node:net';
import {Duplex} from 'node:stream';

import {TlsAcceptor} from '../tls/tls-acceptor.js';
import type {TlsRefusal} from '../tls/tls-acceptor.js';
import type {TlsCredentials} from '../tls/tls-credentials.js';

/** The certificates `https://` URLs are served with, and where refused handshakes are told. */
export interface ListenerTls {
  readonly credentials: TlsCredentials;
  readonly refused: (refusal: TlsRefusal) => void;
}

/** An address a listener is bound to, with the port the OS chose when port 0 was asked for. */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Listens on URLs (`http://ip:port` or `https://ip:port`; port 0 picks a free one) and hands
 * every accepted connection, paused, to `route`; on an `https://` URL the connection is the
 * decrypted stream of a finished TLS handshake. Keeps the open connections so that {@link close} ends them
 * too. The client port and the peer port are both one: each tells the protocols it serves
 * apart by a connection's first bytes ({@link sniffPreface}).
 */
export class SocketListener {
  private constructor(
    private readonly servers: readonly net.Server[],
    private readonly sockets: Set<net.Socket>,
    /** Where the listener accepts connections, in the order of the URLs given. */
    readonly addresses: readonly BoundAddress[],
  ) {}

  static async listen(
    urls: readonly URL[],
    route: (socket: net.Socket) => void,
    secure?: ListenerTls,
  ): Promise<SocketListener> {
    const servers: net.Server[] = [];
    const addresses: BoundAddress[] = [];
    const sockets = new Set<net.Socket>();
    const track = (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    const accept = (socket: net.Socket) => {
      track(socket);
      route(socket);
    };
    const acceptor =
      secure === undefined
        ? undefined
        : new TlsAcceptor(
            secure.credentials,
            tlsSocket => {
              track(tlsSocket);
              tlsSocket.pause();
              route(tlsSocket);
            },
            secure.refused,
          );
    const acceptSecure = (socket: net.Socket) => {
      if (acceptor === undefined) throw new Error('https listener without TLS credentials');
      track(socket);
      acceptor.accept(socket);
    };
    // One address given with both schemes, as etcd allows: a TLS connection starts with a
    // handshake record (content type 22), anything else is plaintext.
    const acceptEither = (socket: net.Socket) => {
      if (acceptor === undefined) throw new Error('https listener without TLS credentials');
      track(socket);
      sniffPreface(
        socket,
        tlsHandshakeRecord,
        (isTls, seen) => {
          socket.pause();
          if (isTls) {
            acceptor.accept(new ReplayedSocket(socket, seen));
          } else {
            socket.unshift(seen);
            route(socket);
          }
        },
        1,
      );
    };
    try {
      for (const [origin, group] of groupByAddress(urls)) {
        const schemes = new Set(group.map(({url}) => url.protocol));
        if (schemes.has('https:') && secure === undefined) {
          throw new Error(`${origin}: https needs a certificate and key`);
        }
        const server = net.createServer(
          {pauseOnConnect: true, noDelay: true},
          schemes.size === 2 ? acceptEither : schemes.has('https:') ? acceptSecure : accept,
        );
        const first = group[0]?.url;
        if (first === undefined) continue;
        const host = first.hostname.replace(/^\[(.*)\]$/, '$1');
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({host, port: Number(first.port)}, () => {
            server.off('error', reject);
            resolve();
          });
        });
        servers.push(server);
        const bound = {host, port: (server.address() as net.AddressInfo).port};
        for (const {index} of group) addresses[index] = bound;
      }
    } catch (error) {
      for (const server of servers) server.close();
      throw error;
    }
    return new SocketListener(servers, sockets, addresses);
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
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closed);
  }
}

/** The first byte of a TLS connection: a record of content type 22, handshake. */
const tlsHandshakeRecord = Buffer.from([0x16]);

/**
 * The URLs that share one address (scheme aside), each with its position in `urls`: they
 * are served by one socket. A URL with port 0 always gets a socket of its own.
 */
function groupByAddress(urls: readonly URL[]): Map<string, {url: URL; index: number}[]> {
  const groups = new Map<string, {url: URL; index: number}[]>();
  urls.forEach((url, index) => {
    const key = url.port === '0' ? `${url.host}#${index}` : url.host;
    groups.set(key, [...(groups.get(key) ?? []), {url, index}]);
  });
  return groups;
}

/**
 * A connection whose first bytes were already read: yields them again, then the rest, and
 * writes through. Node's TLS layer reads a plain socket's handle directly and would miss
 * bytes put back with `unshift`; a stream of its own it reads like any other.
 */
class ReplayedSocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    seen: Buffer,
  ) {
    super();
    this.push(seen);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.once('close', () => this.destroy());
    socket.on('error', error => this.destroy(error));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.socket.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    done(error);
  }
}

/**
 * Reads a new connection's first bytes until they show whether it starts with `preface`
 * (compared on its first `sniffBytes`), then stops reading and calls `decide` with the
 * answer and the bytes read so far, which the protocol that takes the socket must get back
 * (by `unshift`, or as a 'data' event). A socket error before then destroys the socket.
 */
export function sniffPreface(
  socket: net.Socket,
  preface: Buffer,
  decide: (matched: boolean, seen: Buffer) => void,
  sniffBytes: number = preface.length,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, sniffBytes);
    const matched = seen.subarray(0, n).equals(preface.subarray(0, n));
    if (matched && seen.length < sniffBytes) return;
    socket.off('data', onData);
    socket.off('error', onError);
    decide(matched, seen);
  };
  const onError = () => {
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.resume();
}
