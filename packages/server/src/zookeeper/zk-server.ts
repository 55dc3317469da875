import {createServer} from 'node:net';
import type {AddressInfo, Server, Socket} from 'node:net';
import type tls from 'node:tls';

import {TlsAcceptor} from '../tls/tls-acceptor.js';
import type {TlsRefusal} from '../tls/tls-acceptor.js';
import type {TlsCredentials} from '../tls/tls-credentials.js';
import {x509SubjectName} from './x509-name.js';
import {ZkAuth} from './zk-auth.js';
import type {ZkAuthId} from './zk-auth.js';

import type {ZkConnectionHost} from './zk-connection.js';
import {ZkConnection} from './zk-connection.js';
import {ZkConfigNode, zkClientAddressOf} from './zk-ensemble-config.js';
import {FourLetterWords} from './four-letter-words.js';
import {ZkServerStats} from './zk-server-stats.js';
import {ZkSessionToucher} from './zk-session-toucher.js';
import type {ZkMember} from './zk-member.js';
import {ZkWatchHub} from './zk-watch-hub.js';

export interface ZkServerOptions {
  /** ZooKeeper's `tickTime`: session timeouts are clamped to [2, 20] ticks. */
  readonly tickTimeMs?: number;
  /** `jute.maxbuffer`, 0xfffff by default as in ZooKeeper. */
  readonly maxBufferBytes?: number;
  /** Connections accepted from one IP address (ZooKeeper's `maxClientCnxns`). */
  readonly maxConnectionsPerIp?: number;
  /**
   * How often the leader looks for empty containers and expired TTL nodes to delete:
   * ZooKeeper's container manager, `znode.container.checkIntervalMs` (60 s by default).
   */
  readonly containerCheckIntervalMs?: number;
  /** Deletions the sweep proposes per minute at most: `znode.container.maxPerMinute`. */
  readonly containerMaxPerMinute?: number;
  /**
   * ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest` (`--zk-super-digest`):
   * `user:base64(sha1(user:password))` of the super user, who passes every ACL check.
   */
  readonly superDigest?: string;
  /** Serves the `https://` URLs: ZooKeeper's secure client port. */
  readonly tls?: ZkTlsOptions;
  /** The member's data directory, for the `conf` and `dirs` four-letter words. */
  readonly dataDir?: string;
  /** A monotonic clock in milliseconds for request latencies; `performance.now` by default. */
  readonly monotonicNowMs?: () => number;
  readonly warn?: (message: string, detail: object) => void;
}

/**
 * ZooKeeper's `secureClientPort` as a member serves it: the certificates, and what the
 * handshake asks of clients (ZooKeeper's `ssl.clientAuth`).
 */
export interface ZkTlsOptions {
  readonly credentials: TlsCredentials;
  /**
   * `need`: a client certificate from the trusted CA is required; `want`: asked for, and a
   * connection without one is served without an `x509` id (one that is not trusted is
   * refused); `none`: not asked for.
   */
  readonly clientAuth: 'need' | 'want' | 'none';
  /** A client certificate with this subject name is the super user (`--zk-x509-superuser`). */
  readonly x509SuperUser?: string | undefined;
  /** Hears of every connection refused during or right after its handshake. */
  readonly refused: (refusal: TlsRefusal) => void;
}

/**
 * A member's ZooKeeper port(s): accepts clients on the `--listen-zk-urls`, runs a
 * {@link ZkConnection} for each, shares one {@link ZkWatchHub} among them, answers
 * four-letter words, and on the leader deletes expired TTL nodes and empty containers through
 * Raft, as ZooKeeper's container manager does.
 */
export class ZkServer {
  private readonly connections = new Set<ZkConnection>();
  private readonly perIp = new Map<string, number>();
  private readonly bySession = new Map<bigint, ZkConnection>();
  private readonly hub: ZkWatchHub;
  private readonly configNode: ZkConfigNode;
  /** Whether each listener, in `servers`' order, is a TLS one. */
  private readonly secure: boolean[] = [];
  private readonly host: ZkConnectionHost;
  private readonly fourLetterWords: FourLetterWords;
  private readonly sessions: ZkSessionToucher;
  /** What `mntr` reports and `/metrics` exports as `synod_zk_*`. */
  readonly stats: ZkServerStats;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  private constructor(
    private readonly servers: Server[],
    private readonly member: ZkMember,
    private readonly options: ZkServerOptions,
  ) {
    this.hub = new ZkWatchHub(() => member.store());
    const tickTimeMs = options.tickTimeMs ?? 2000;
    this.stats = new ZkServerStats(member, () => this.connections);
    const warn = options.warn ?? (() => undefined);
    this.sessions = new ZkSessionToucher(id => member.renewSession(id), tickTimeMs / 2, warn);
    this.fourLetterWords = new FourLetterWords({
      member,
      stats: this.stats,
      tickTimeMs,
      connections: () => this.connections,
      clientPort: () => this.addresses[0]?.port ?? 0,
      dataDir: options.dataDir,
    });
    this.configNode = new ZkConfigNode(
      () => member.ensemble(),
      () => member.nowMs(),
    );
    this.host = {
      member,
      hub: this.hub,
      configNode: this.configNode,
      maxBufferBytes: options.maxBufferBytes ?? 0xfffff,
      tickTimeMs,
      stats: this.stats,
      monotonicNowMs: options.monotonicNowMs ?? (() => performance.now()),
      superDigest: options.superDigest,
      isFourLetterWord: word => FourLetterWords.knows(word),
      sessions: this.sessions,
      fourLetterWord: (word, rest) => this.fourLetterWords.answer(word, rest) ?? '',
      closed: connection => {
        this.connections.delete(connection);
        if (this.bySession.get(connection.sessionId) === connection) {
          this.bySession.delete(connection.sessionId);
        }
      },
      claimed: (connection, sessionId) => {
        // As ZooKeeper's server does when a session reconnects to it: the older
        // connection of the session goes.
        const older = this.bySession.get(sessionId);
        this.bySession.set(sessionId, connection);
        if (older !== undefined && older !== connection) older.close();
      },
      warn,
    };
  }

  static async listen(
    urls: readonly URL[],
    member: ZkMember,
    options: ZkServerOptions = {},
  ): Promise<ZkServer> {
    const servers: Server[] = [];
    const zk = new ZkServer(servers, member, options);
    try {
      for (const url of urls) {
        const server =
          url.protocol === 'https:'
            ? zk.secureServer(options.tls)
            : createServer(socket => {
                zk.accept(socket);
              });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(Number(url.port || 2181), url.hostname.replace(/^\[|\]$/g, ''), () => {
            server.off('error', reject);
            resolve();
          });
        });
        servers.push(server);
        zk.secure.push(url.protocol === 'https:');
      }
    } catch (error) {
      await zk.close();
      throw error;
    }
    zk.startContainerSweeper();
    return zk;
  }

  /**
   * The membership changed: `/zookeeper/config` lists the new one, and the data watches on it
   * fire, as after ZooKeeper's reconfig.
   */
  membershipChanged(): void {
    if (this.configNode.refresh()) this.hub.dataChangedOutsideStore('/zookeeper/config');
  }

  /**
   * `host:port` of the first plain (`http://`) and the first TLS (`https://`) listener, as the
   * member publishes them: the plain one is the client address of its `/zookeeper/config`
   * line; a TLS one gives the whole cluster ZooKeeper's x509 provider.
   */
  get listenerAddresses(): {plain?: string; secure?: string} {
    const first = (secure: boolean): string | undefined => {
      const i = this.secure.indexOf(secure);
      const a = this.servers[i]?.address() as AddressInfo | null | undefined;
      return a === undefined || a === null
        ? undefined
        : zkClientAddressOf({host: a.address, port: a.port});
    };
    const plain = first(false);
    const secure = first(true);
    return {
      ...(plain === undefined ? {} : {plain}),
      ...(secure === undefined ? {} : {secure}),
    };
  }

  get addresses(): {host: string; port: number}[] {
    return this.servers.map(s => {
      const a = s.address() as AddressInfo;
      return {host: a.address, port: a.port};
    });
  }

  /**
   * A listener whose connections become ZooKeeper connections once their TLS handshake
   * passed, with the `x509` id of their client certificate, if they showed one.
   */
  private secureServer(tls: ZkTlsOptions | undefined): Server {
    if (tls === undefined) throw new Error('an https:// ZooKeeper URL needs certificates');
    const acceptor = new TlsAcceptor(
      tls.credentials,
      socket => {
        this.acceptSecured(socket, tls);
      },
      tls.refused,
      {
        ...tls.credentials.contextOptions(),
        requestCert: tls.clientAuth !== 'none',
        rejectUnauthorized: tls.clientAuth === 'need',
      },
    );
    return createServer({pauseOnConnect: true, noDelay: true}, socket => {
      acceptor.accept(socket);
    });
  }

  private acceptSecured(socket: tls.TLSSocket, options: ZkTlsOptions): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (options.clientAuth === 'none') {
      this.accept(socket);
      return;
    }
    const certificate = socket.getPeerCertificate();
    if (Object.keys(certificate).length === 0) {
      // `want` and no certificate: served, as ZooKeeper serves it, with no x509 id.
      this.accept(socket);
      return;
    }
    if (!socket.authorized) {
      // `want` and a certificate the trusted CA did not sign: ZooKeeper's x509 provider
      // refuses it, and so its connection.
      options.refused({remote, reason: String(socket.authorizationError)});
      socket.destroy();
      return;
    }
    let subject: string;
    try {
      subject = x509SubjectName(certificate.raw);
    } catch (error) {
      options.refused({remote, reason: `unreadable certificate subject: ${String(error)}`});
      socket.destroy();
      return;
    }
    this.accept(socket, ZkAuth.x509Ids(subject, options.x509SuperUser));
  }

  private accept(socket: Socket, certificateIds: readonly ZkAuthId[] = []): void {
    const ip = socket.remoteAddress ?? '';
    const count = this.perIp.get(ip) ?? 0;
    if (count >= (this.options.maxConnectionsPerIp ?? 1024)) {
      this.host.warn('too many ZooKeeper connections from one address', {ip, count});
      socket.destroy();
      return;
    }
    this.perIp.set(ip, count + 1);
    socket.once('close', () => {
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    });
    this.connections.add(new ZkConnection(socket, this.host, certificateIds));
  }

  /**
   * ZooKeeper's container manager, on the leader: every check interval it proposes the
   * deletion of TTL nodes past their TTL and of containers left empty after having had
   * children, at most `maxPerMinute` a minute; apply checks each again.
   */
  private startContainerSweeper(): void {
    const intervalMs = this.options.containerCheckIntervalMs ?? 60_000;
    const perSweep = Math.max(
      1,
      Math.floor(((this.options.containerMaxPerMinute ?? 10_000) * intervalMs) / 60_000),
    );
    this.sweepTimer = setInterval(() => {
      // A snapshot from the leader replaces the member's store: watch the new one.
      this.hub.follow();
      if (this.sweeping || this.member.mode() === 'follower') return;
      const now = this.member.nowMs();
      const state = this.member.state();
      const ttls = state
        .ttlNodes()
        .filter(n => n.deadlineMs <= now)
        .map(n => n.path)
        .slice(0, perSweep);
      const containers = state.emptyContainers().slice(0, perSweep - ttls.length);
      const proposals = [
        ...(ttls.length > 0 ? [{$case: 'expireTtl' as const, value: {paths: ttls}}] : []),
        ...(containers.length > 0
          ? [{$case: 'deleteContainers' as const, value: {paths: containers}}]
          : []),
      ];
      if (proposals.length === 0) return;
      this.sweeping = true;
      Promise.all(
        proposals.map(request =>
          this.member.propose({sessionId: 0n, timeMs: BigInt(now), request, auth: []}),
        ),
      )
        .catch((error: unknown) => {
          this.host.warn('could not delete expired TTL nodes or empty containers', {
            error: String(error),
          });
        })
        .finally(() => {
          this.sweeping = false;
        });
    }, intervalMs);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sessions.close();
    for (const c of this.connections) c.close();
    this.hub.close();
    await Promise.all(
      this.servers.map(
        s =>
          new Promise<void>(resolve => {
            s.close(() => {
              resolve();
            });
          }),
      ),
    );
  }
}
