import type {ChannelCredentials, ChannelOptions} from 'nice-grpc';

import {Auth} from './auth.js';
import type {Bytes} from './bytes.js';
import {Cluster} from './cluster.js';
import {ConnectionPool} from './connection-pool.js';
import type {AuthCredentials, ServiceClients} from './connection-pool.js';
import {KeySpace} from './key-space.js';
import {KV} from './kv.js';
import {Lease} from './lease.js';
import {LeaseKeeper} from './lease-keeper.js';
import {Maintenance} from './maintenance.js';
import type {ClientTlsOptions} from './tls.js';
import {tlsCredentials} from './tls.js';
import {Watch} from './watch.js';
import {WatchManager} from './watch-manager.js';

/** Options of {@link createClient}. */
export interface EtcdOptions {
  /**
   * Client URLs of the cluster's members, like `http://127.0.0.1:2379` or
   * `127.0.0.1:2379`. The first is tried first.
   */
  readonly endpoints: string | readonly string[];
  /** User name and password; the client authenticates and renews its token itself. */
  readonly auth?: AuthCredentials;
  /** Prefix every key with this (see {@link Etcd.namespace}). */
  readonly namespace?: Bytes;
  /** Timeout of one connection attempt to a member, 5000 ms by default. */
  readonly dialTimeoutMs?: number;
  /** Deadline of a call when it passes no `timeoutMs`, 10 000 ms by default. */
  readonly defaultTimeoutMs?: number;
  /**
   * Interval of HTTP/2 pings that detect a dead connection, 10 000 ms by default. etcd
   * closes connections that ping more often than every 5 s.
   */
  readonly keepAliveTimeMs?: number;
  /**
   * TLS as etcdctl takes it: `ca`, `cert` and `key` as file paths or PEM bytes, and
   * `insecureSkipVerify`. Endpoints may then be `https://host:port` or `host:port`.
   */
  readonly tls?: ClientTlsOptions;
  /** gRPC channel credentials, for what `tls` does not cover; plaintext by default. */
  readonly credentials?: ChannelCredentials;
  /** Extra gRPC channel options. */
  readonly channelOptions?: ChannelOptions;
  /** Retries of calls that are safe to repeat. */
  readonly retry?: {
    /** Attempts per call, first included; 8 by default. */
    readonly maxAttempts?: number;
    /** Backoff before the first retry, 50 ms by default; doubles up to `maxBackoffMs`. */
    readonly initialBackoffMs?: number;
    /** Largest backoff, 2000 ms by default. */
    readonly maxBackoffMs?: number;
  };
}

interface Shared {
  readonly pool: ConnectionPool;
  readonly watches: WatchManager;
  readonly keeper: LeaseKeeper;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: Auth;
}

/**
 * A client of an etcd v3 cluster (etcd or Synod). Create with {@link createClient}; close
 * with {@link Etcd.close}.
 */
export class Etcd {
  /** Keys: get, range, put, delete, transactions, compaction. */
  readonly kv: KV;
  /** Watches on one multiplexed stream that resume without gaps after failures. */
  readonly watch: Watch;
  /** Leases and keep-alive. */
  readonly lease: Lease;
  /** Cluster membership. */
  readonly cluster: Cluster;
  /** Member status, alarms, defragmentation, hashes, snapshots, leadership transfer. */
  readonly maintenance: Maintenance;
  /** Users, roles and enabling authentication. */
  readonly auth: Auth;
  /** The key prefix of this view; empty at the root. */
  readonly prefix: Buffer;

  private constructor(
    private readonly shared: Shared,
    private readonly space: KeySpace,
  ) {
    this.kv = new KV(shared.pool, space);
    this.watch = new Watch(shared.watches, space);
    this.lease = new Lease(shared.pool, shared.keeper, space);
    this.cluster = shared.cluster;
    this.maintenance = shared.maintenance;
    this.auth = shared.auth;
    this.prefix = space.prefix;
  }

  /** @internal */
  static create(options: EtcdOptions): Etcd {
    const retry = options.retry ?? {};
    const pool = new ConnectionPool({
      endpoints:
        typeof options.endpoints === 'string' ? [options.endpoints] : [...options.endpoints],
      credentials:
        options.credentials ??
        (options.tls === undefined ? undefined : tlsCredentials(options.tls)),
      channelOptions: options.channelOptions ?? {},
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
      keepAliveTimeMs: options.keepAliveTimeMs ?? 10_000,
      defaultTimeoutMs: options.defaultTimeoutMs ?? 10_000,
      auth: options.auth,
      maxAttempts: retry.maxAttempts ?? 8,
      backoff: {initialMs: retry.initialBackoffMs ?? 50, maxMs: retry.maxBackoffMs ?? 2_000},
    });
    const shared: Shared = {
      pool,
      watches: new WatchManager(pool),
      keeper: new LeaseKeeper(pool),
      cluster: new Cluster(pool),
      maintenance: new Maintenance(pool),
      auth: new Auth(pool),
    };
    const space =
      options.namespace === undefined ? KeySpace.root : KeySpace.root.child(options.namespace);
    return new Etcd(shared, space);
  }

  /**
   * A view of the same client where every key, range, watch and transaction is under
   * `prefix`, and results come back with the prefix removed (like etcd's namespace
   * package). Views nest, share the connection, watch stream and keep-alives, and cannot
   * see or touch keys outside their prefix. Cluster, maintenance and auth calls are not
   * namespaced.
   */
  namespace(prefix: Bytes): Etcd {
    return new Etcd(this.shared, this.space.child(prefix));
  }

  /**
   * The generated nice-grpc clients of the current endpoint, for calls this client does
   * not wrap. They bypass failover, retries, deadlines and auth tokens.
   */
  raw(): ServiceClients {
    return this.shared.pool.current().clients;
  }

  /** The endpoint calls go to now (the one that answered last). */
  get currentEndpoint(): string {
    return this.shared.pool.current().address;
  }

  /**
   * Closes the client and every view of it: watches complete, kept leases are released
   * (not revoked: they expire after their TTL), channels close.
   */
  close(): void {
    this.shared.watches.close();
    this.shared.keeper.close();
    this.shared.pool.close();
  }
}

/** Creates a client of an etcd v3 cluster; see {@link EtcdOptions}. */
export function createClient(options: EtcdOptions): Etcd {
  return Etcd.create(options);
}
