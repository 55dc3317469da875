// Over 400 lines on purpose: the member's one table of settings. MemberConfig documents each
// setting, MemberConfigInput is what flags and config files give, and resolveMemberConfig
// checks them together, since many checks span settings (as etcd's config.Validate does).
// Debt: the TLS settings (resolveTls, resolveZkTls) are the next part to move out.

import {join} from 'node:path';
import type tls from 'node:tls';

import type {AuthTokenConfig} from '../auth/create-token-provider.js';
import {jwtSignMethods} from '../auth/jwt-tokens.js';
import type {TlsSettings} from '../tls/tls-settings.js';
import {cipherSuiteNames} from '../tls/tls-settings.js';
import {ConfigError} from '../errors/config-error.js';
import {resolveZkStores} from './zk-tls-stores.js';

/**
 * Everything a member needs to start, with etcd's meaning for each setting.
 * `apps/server` fills it from flags and `SYNOD_*` variables; an embedding
 * application builds one with {@link resolveMemberConfig}.
 */
export interface MemberConfig {
  /** Human-readable name of this member; its key in `initialCluster`. */
  readonly name: string;
  /** Where the WAL, snapshots and the backend live. */
  readonly dataDir: string;
  /** URLs to serve clients on (`http://host:port`; hosts must be IP addresses). */
  readonly listenClientUrls: readonly URL[];
  /** Client URLs announced to the rest of the cluster and to clients. */
  readonly advertiseClientUrls: readonly URL[];
  /** URLs to accept peer traffic on. */
  readonly listenPeerUrls: readonly URL[];
  /** This member's peer URLs as announced to the rest of the cluster. */
  readonly initialAdvertisePeerUrls: readonly URL[];
  /** The bootstrap membership: member name to its peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly URL[]>;
  /** `new` bootstraps a cluster; `existing` joins one that already runs. */
  readonly initialClusterState: 'new' | 'existing';
  /** Distinguishes clusters bootstrapped from the same member list. */
  readonly initialClusterToken: string;
  /** Committed entries between two raft snapshots. */
  readonly snapshotCount: number;
  /**
   * Longest time applied writes wait in memory before the backend commits them in one
   * transaction (etcd's `--backend-batch-interval`, 100 ms). The WAL made them durable
   * already; reads see them at once.
   */
  readonly backendBatchIntervalMs: number;
  /** Applied writes that make the backend commit at once (etcd's `--backend-batch-limit`). */
  readonly backendBatchLimit: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /** Size of the backend above which the NOSPACE alarm is raised. */
  readonly quotaBackendBytes: number;
  /**
   * How long a `Maintenance.Snapshot` client may leave a message unread before the snapshot is
   * stopped and its backend read transaction released (`--snapshot-stall-timeout-ms`, 30,000
   * by default; etcd has no such bound).
   */
  readonly snapshotStallTimeoutMs: number;
  readonly autoCompactionMode: 'periodic' | 'revision';
  /** For `periodic`, a duration in ms; for `revision`, a count of revisions; 0 turns it off. */
  readonly autoCompactionRetention: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** Refuse membership changes that would leave fewer started members than a quorum. */
  readonly strictReconfigCheck: boolean;
  /**
   * Start on the existing data as a cluster of this member alone, every other member removed
   * (etcd's `--force-new-cluster`): the way back after a quorum is lost for good.
   */
  readonly forceNewCluster: boolean;
  readonly logLevel: LogLevel;
  /**
   * How often a watcher created with `progress_notify` hears the current
   * revision when it had no events: etcd's fixed 10 minutes. Settable for tests.
   */
  readonly watchProgressNotifyIntervalMs: number;
  /**
   * How often the leader records every lease's remaining TTL through Raft, so a
   * new leader resumes each lease's clock where the old one left it rather than
   * restarting it (etcd's lease checkpoint interval: 5 minutes). Settable for tests.
   */
  readonly leaseCheckpointIntervalMs: number;
  /**
   * Entries kept in the raft log behind each snapshot, so a follower that is only a
   * little behind catches up from the log rather than a full snapshot (etcd: 5000).
   */
  readonly snapshotCatchUpEntries: number;
  /** etcd's `--auth-token`: the kind of token Authenticate hands out. */
  readonly authToken: AuthTokenConfig;
  /** Seconds an unused simple token stays valid (etcd: 300). */
  readonly authTokenTtlSeconds: number;
  /** bcrypt cost for hashing passwords (etcd: 10, allowed 4 to 31). */
  readonly bcryptCost: number;
  /** TLS of the client port (`https://` client URLs); undefined when no certificate is given. */
  readonly clientTls: TlsSettings | undefined;
  /** TLS between members (`https://` peer URLs); undefined when no peer certificate is given. */
  readonly peerTls: TlsSettings | undefined;
  /** Serve the web console at `/ui` on the client URLs (`--ui`, on by default). */
  readonly ui: boolean;
  /**
   * Which HTTP/2 implementation serves the client port (`--experimental-client-http2-engine`):
   * `synod` (Synod's own, `transport/h2/`, the default) or `node` (Node's `http2` module).
   */
  readonly clientHttp2Engine: 'synod' | 'node';
  /**
   * Where the WAL's fdatasync runs (`--experimental-wal-fsync`): `inline`, the default, on the
   * event loop, as etcd's raft loop calls it; `threadpool` on libuv's threadpool, so the loop
   * keeps serving during a slow fsync at the cost of a thread hand-off per batch.
   */
  readonly walFsync: 'inline' | 'threadpool';
  /**
   * Extra URLs serving only `/metrics` and the health endpoints (etcd's
   * `--listen-metrics-urls`); `https://` ones with the client certificates. Empty by default.
   */
  readonly listenMetricsUrls: readonly URL[];
  /** etcd's `--metrics`: `extensive` adds per-method gRPC latency histograms. */
  readonly metrics: 'basic' | 'extensive';
  /**
   * A request slower than this is logged with its trace (etcd's
   * `--warning-apply-duration`, 100 ms); 0 turns the warning off.
   */
  readonly warningApplyDurationMs: number;
  /**
   * Where to serve ZooKeeper 3.8's client protocol (`--listen-zk-urls`, e.g.
   * `http://127.0.0.1:2181`); empty, the default, serves none. See docs/zookeeper.md.
   */
  readonly listenZkUrls: readonly URL[];
  /**
   * The ZooKeeper super user (`--zk-super-digest`, ZooKeeper's
   * `zookeeper.DigestAuthenticationProvider.superDigest`): `user:base64(sha1(user:password))`.
   * A ZooKeeper client that runs `addauth digest user:password` with it passes every ACL
   * check. Undefined, the default, means no super user.
   */
  readonly zkSuperDigest: string | undefined;
  /**
   * How often the leader deletes empty containers and expired TTL nodes
   * (`--zk-container-check-interval-ms`, ZooKeeper's `znode.container.checkIntervalMs`):
   * 60,000 by default, as in ZooKeeper.
   */
  readonly zkContainerCheckIntervalMs: number;
  /**
   * Deletions a minute at most (`--zk-container-max-per-minute`, ZooKeeper's
   * `znode.container.maxPerMinute`): 10,000 by default.
   */
  readonly zkContainerMaxPerMinute: number;
  /**
   * The certificates of the `https://` URLs of `--listen-zk-urls` (ZooKeeper's
   * `secureClientPort`) and how they treat client certificates. Undefined when there is no
   * such URL.
   */
  readonly zkTls: ZkTlsConfig | undefined;
}

/** The ZooKeeper secure port's own settings. */
export interface ZkTlsConfig {
  /**
   * Its own certificates (`--zk-cert-file`, `--zk-key-file`, `--zk-trusted-ca-file`,
   * `--zk-crl-file`), or else the client port's (`--cert-file`, ...).
   */
  readonly settings: TlsSettings;
  /** `--zk-ssl-client-auth`, ZooKeeper's `ssl.clientAuth`: need (the default), want or none. */
  readonly clientAuth: 'need' | 'want' | 'none';
  /**
   * `--zk-x509-superuser`, ZooKeeper's `zookeeper.X509AuthenticationProvider.superUser`: the
   * subject name (as whoAmI shows it) of the client certificate that is the super user.
   */
  readonly x509SuperUser: string | undefined;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type {AuthTokenConfig};

/** Settings as a user gives them: every field optional, URLs as strings. */
export interface MemberConfigInput {
  name?: string;
  dataDir?: string;
  listenClientUrls?: string | readonly string[];
  advertiseClientUrls?: string | readonly string[];
  listenPeerUrls?: string | readonly string[];
  initialAdvertisePeerUrls?: string | readonly string[];
  initialCluster?: string;
  initialClusterState?: string;
  initialClusterToken?: string;
  snapshotCount?: number;
  /** A duration such as `100ms` or `1s`; `0` is the default (100 ms). */
  backendBatchInterval?: string;
  /** `0` is the default (10000). */
  backendBatchLimit?: number;
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  quotaBackendBytes?: number;
  snapshotStallTimeoutMs?: number;
  autoCompactionMode?: string;
  /** `periodic`: a duration such as `1h`, `30m`, `90s`, or a bare number of hours. `revision`: a count. */
  autoCompactionRetention?: string;
  maxRequestBytes?: number;
  maxTxnOps?: number;
  strictReconfigCheck?: boolean;
  forceNewCluster?: boolean;
  logLevel?: string;
  watchProgressNotifyIntervalMs?: number;
  leaseCheckpointIntervalMs?: number;
  snapshotCatchUpEntries?: number;
  /** `simple` (default) or `jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...`. */
  authToken?: string;
  authTokenTtlSeconds?: number;
  bcryptCost?: number;
  /** Client TLS, etcd's flags: `--cert-file`, `--key-file`, `--trusted-ca-file`, ... */
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  clientCrlFile?: string;
  clientCertAllowedHostname?: string;
  /** Go's names, comma-separated: `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,...`. */
  cipherSuites?: string;
  /** `TLS1.2` (default) or `TLS1.3`. */
  tlsMinVersion?: string;
  tlsMaxVersion?: string;
  /** Peer TLS: `--peer-cert-file`, `--peer-key-file`, ... */
  peerCertFile?: string;
  peerKeyFile?: string;
  peerTrustedCaFile?: string;
  peerClientCertAuth?: boolean;
  peerCrlFile?: string;
  peerCertAllowedCn?: string;
  peerCertAllowedHostname?: string;
  /** Serve https client URLs with a self-signed certificate made at start-up. */
  autoTls?: boolean;
  /** Peer TLS with self-signed certificates; peers' certificates are then not verified. */
  peerAutoTls?: boolean;
  /** Years the self-signed certificates are valid, 1 by default. */
  selfSignedCertValidity?: number;
  /** Serve the web console at `/ui`; true by default. */
  ui?: boolean;
  /** `synod` (default) or `node`: the client port's HTTP/2 implementation. */
  clientHttp2Engine?: string;
  /** `inline` (default) or `threadpool`: where the WAL's fdatasync runs. */
  walFsync?: string;
  /** URLs for `/metrics` and the health endpoints alone, comma-separated. */
  listenMetricsUrls?: string | readonly string[];
  /** `basic` (default) or `extensive`. */
  metrics?: string;
  /** A duration such as `100ms` or `1s`; `0` turns the slow-request warning off. */
  warningApplyDuration?: string;
  /** ZooKeeper listener URLs, comma-separated; none by default. */
  listenZkUrls?: string | readonly string[];
  /** `user:base64(sha1(user:password))` of the ZooKeeper super user; none by default. */
  zkSuperDigest?: string;
  /** Milliseconds between the leader's sweeps for empty containers and expired TTL nodes. */
  zkContainerCheckIntervalMs?: number;
  /** Container and TTL node deletions a minute at most. */
  zkContainerMaxPerMinute?: number;
  /** `need` (default), `want` or `none`: client certificates on the ZooKeeper TLS URLs. */
  zkSslClientAuth?: string;
  /** Subject name of the client certificate that is the ZooKeeper super user. */
  zkX509Superuser?: string;
  /** The ZooKeeper TLS port's own certificate, key, CA bundle and CRL (PEM files). */
  zkCertFile?: string;
  zkKeyFile?: string;
  zkTrustedCaFile?: string;
  zkCrlFile?: string;
  zkKeystoreFile?: string;
  zkKeystorePassword?: string;
  /** JKS, PKCS12 or PEM; told by the file name when not given, as ZooKeeper tells it. */
  zkKeystoreType?: string;
  /** The trust store that verifies ZooKeeper clients, in place of `zkTrustedCaFile`. */
  zkTruststoreFile?: string;
  zkTruststorePassword?: string;
  zkTruststoreType?: string;
}

/** The defaults of a member started with no settings: one member, all on 127.0.0.1. */
export const memberDefaults = {
  name: 'default',
  clientUrl: 'http://127.0.0.1:2379',
  peerUrl: 'http://127.0.0.1:2380',
  initialClusterToken: 'etcd-cluster',
  snapshotCount: 10_000,
  backendBatchIntervalMs: 100,
  backendBatchLimit: 10_000,
  heartbeatIntervalMs: 100,
  electionTimeoutMs: 1000,
  /** etcd's default quota: 2 GiB. */
  quotaBackendBytes: 2 * 1024 * 1024 * 1024,
  /** etcd's default: 1.5 MiB. */
  maxRequestBytes: 1.5 * 1024 * 1024,
  maxTxnOps: 128,
  authTokenTtlSeconds: 300,
  bcryptCost: 10,
} as const;

export {ConfigError};

const hourMs = 3_600_000;
const maxElectionTimeoutMs = 50_000;

function parseUrls(setting: string, value: string | readonly string[]): URL[] {
  const parts = (typeof value === 'string' ? value.split(',') : [...value])
    .map(s => s.trim())
    .filter(s => s.length > 0);
  if (parts.length === 0) throw new ConfigError(setting, 'at least one URL is required');
  return parts.map(part => {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new ConfigError(setting, `${JSON.stringify(part)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(setting, `${part}: scheme must be http or https`);
    }
    if (url.port === '') throw new ConfigError(setting, `${part}: a port is required`);
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
      throw new ConfigError(setting, `${part}: a URL must not have a path, query or fragment`);
    }
    return url;
  });
}

/** Parses `name=http://a:2380,name=http://b:2380,other=...` into names and their peer URLs. */
export function parseInitialCluster(value: string): Map<string, URL[]> {
  const cluster = new Map<string, URL[]>();
  for (const item of value.split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError('initial-cluster', `${JSON.stringify(trimmed)} is not name=peerURL`);
    }
    const name = trimmed.slice(0, eq);
    const urls = parseUrls('initial-cluster', trimmed.slice(eq + 1));
    cluster.set(name, [...(cluster.get(name) ?? []), ...urls]);
  }
  if (cluster.size === 0) throw new ConfigError('initial-cluster', 'no members given');
  return cluster;
}

function positiveInt(setting: string, value: number, {allowZero = false} = {}): number {
  if (!Number.isSafeInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigError(
      setting,
      `${value} is not a ${allowZero ? 'non-negative' : 'positive'} integer`,
    );
  }
  return value;
}

/**
 * Parses an auto-compaction retention. Periodic mode takes a Go-style duration
 * (`1h`, `30m`, `1h30m`, `90s`) or a bare number, read as hours as etcd does;
 * revision mode takes a count of revisions.
 */
export function parseRetention(mode: 'periodic' | 'revision', value: string): number {
  const text = value.trim();
  if (mode === 'revision') {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
      throw new ConfigError(
        'auto-compaction-retention',
        `${JSON.stringify(value)} is not a revision count`,
      );
    }
    return n;
  }
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * hourMs);
  return parseDurationMs('auto-compaction-retention', text);
}

/**
 * A duration as Go writes one (`1h30m`, `90s`, `100ms`, `0`), in milliseconds; `setting`
 * names the flag in the error.
 */
export function parseDurationMs(setting: string, value: string): number {
  const text = value.trim();
  if (text === '0') return 0;
  const unitMs: Record<string, number> = {h: hourMs, m: 60_000, s: 1000, ms: 1};
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map(p => p[0]).join('') !== text) {
    throw new ConfigError(setting, `${JSON.stringify(value)} is not a duration`);
  }
  let total = 0;
  for (const [, amount, unit] of parts) total += Number(amount) * (unitMs[unit ?? ''] ?? 0);
  return Math.round(total);
}

function oneOf<T extends string>(setting: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find(a => a === value);
  if (found === undefined) {
    throw new ConfigError(setting, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
  }
  return found;
}

/**
 * Fills defaults and checks every setting, the way etcd does at start-up: a
 * member that would misbehave with a setting refuses to start and says which.
 */
export function resolveMemberConfig(input: MemberConfigInput = {}): MemberConfig {
  const name = input.name ?? memberDefaults.name;
  if (name === '') throw new ConfigError('name', 'must not be empty');
  const listenClientUrls = parseUrls(
    'listen-client-urls',
    input.listenClientUrls ?? memberDefaults.clientUrl,
  );
  for (const url of listenClientUrls) {
    if (!isIpLiteral(url.hostname)) {
      throw new ConfigError(
        'listen-client-urls',
        `${url.href}: listen on an IP address, not a host name`,
      );
    }
  }
  const listenPeerUrls = parseUrls(
    'listen-peer-urls',
    input.listenPeerUrls ?? memberDefaults.peerUrl,
  );
  for (const url of listenPeerUrls) {
    if (!isIpLiteral(url.hostname)) {
      throw new ConfigError(
        'listen-peer-urls',
        `${url.href}: listen on an IP address, not a host name`,
      );
    }
  }
  const advertiseClientUrls = parseUrls(
    'advertise-client-urls',
    input.advertiseClientUrls ??
      (input.listenClientUrls === undefined
        ? memberDefaults.clientUrl
        : listenClientUrls.map(u => u.origin)),
  );
  const initialAdvertisePeerUrls = parseUrls(
    'initial-advertise-peer-urls',
    input.initialAdvertisePeerUrls ??
      (input.listenPeerUrls === undefined
        ? memberDefaults.peerUrl
        : listenPeerUrls.map(u => u.origin)),
  );
  const initialCluster = parseInitialCluster(
    input.initialCluster ??
      `${name}=${initialAdvertisePeerUrls.map(u => u.origin).join(`,${name}=`)}`,
  );
  const ownPeers = initialCluster.get(name);
  if (ownPeers === undefined) {
    throw new ConfigError('initial-cluster', `does not name this member (${name})`);
  }
  const advertised = new Set(initialAdvertisePeerUrls.map(u => u.origin));
  const listed = new Set(ownPeers.map(u => u.origin));
  if (advertised.size !== listed.size || [...advertised].some(u => !listed.has(u))) {
    throw new ConfigError(
      'initial-cluster',
      `lists ${[...listed].join(',')} for ${name}, but --initial-advertise-peer-urls is ${[...advertised].join(',')}`,
    );
  }
  const heartbeatIntervalMs = positiveInt(
    'heartbeat-interval',
    input.heartbeatIntervalMs ?? memberDefaults.heartbeatIntervalMs,
  );
  const electionTimeoutMs = positiveInt(
    'election-timeout',
    input.electionTimeoutMs ?? memberDefaults.electionTimeoutMs,
  );
  if (electionTimeoutMs < 5 * heartbeatIntervalMs) {
    throw new ConfigError(
      'election-timeout',
      `${electionTimeoutMs} ms must be at least 5 times --heartbeat-interval (${heartbeatIntervalMs} ms)`,
    );
  }
  if (electionTimeoutMs > maxElectionTimeoutMs) {
    throw new ConfigError(
      'election-timeout',
      `${electionTimeoutMs} ms is above the maximum of ${maxElectionTimeoutMs} ms`,
    );
  }
  const autoCompactionMode = oneOf('auto-compaction-mode', input.autoCompactionMode ?? 'periodic', [
    'periodic',
    'revision',
  ] as const);
  const quota = positiveInt('quota-backend-bytes', input.quotaBackendBytes ?? 0, {allowZero: true});
  const batchIntervalMs = parseDurationMs(
    'backend-batch-interval',
    input.backendBatchInterval ?? '0',
  );
  const batchLimit = positiveInt('backend-batch-limit', input.backendBatchLimit ?? 0, {
    allowZero: true,
  });
  const dataDir = input.dataDir ?? `${name}.synod`;
  const {clientTls, peerTls} = resolveTls(input, dataDir, listenClientUrls, listenPeerUrls);
  for (const url of listenClientUrls) {
    if (url.protocol === 'https:' && clientTls === undefined) {
      throw new ConfigError(
        'listen-client-urls',
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${url.origin} with HTTPS scheme`,
      );
    }
  }
  for (const url of listenPeerUrls) {
    if (url.protocol === 'https:' && peerTls === undefined) {
      throw new ConfigError(
        'listen-peer-urls',
        `cannot listen on TLS for ${url.host}: --peer-cert-file and --peer-key-file are not given`,
      );
    }
  }
  return {
    name,
    dataDir,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: oneOf('initial-cluster-state', input.initialClusterState ?? 'new', [
      'new',
      'existing',
    ] as const),
    initialClusterToken: input.initialClusterToken ?? memberDefaults.initialClusterToken,
    snapshotCount: positiveInt(
      'snapshot-count',
      input.snapshotCount ?? memberDefaults.snapshotCount,
    ),
    backendBatchIntervalMs:
      batchIntervalMs === 0 ? memberDefaults.backendBatchIntervalMs : batchIntervalMs,
    backendBatchLimit: batchLimit === 0 ? memberDefaults.backendBatchLimit : batchLimit,
    heartbeatIntervalMs,
    electionTimeoutMs,
    quotaBackendBytes: quota === 0 ? memberDefaults.quotaBackendBytes : quota,
    snapshotStallTimeoutMs: positiveInt(
      'snapshot-stall-timeout-ms',
      input.snapshotStallTimeoutMs ?? 30_000,
    ),
    autoCompactionMode,
    autoCompactionRetention: parseRetention(
      autoCompactionMode,
      input.autoCompactionRetention ?? '0',
    ),
    maxRequestBytes: positiveInt(
      'max-request-bytes',
      input.maxRequestBytes ?? memberDefaults.maxRequestBytes,
    ),
    maxTxnOps: positiveInt('max-txn-ops', input.maxTxnOps ?? memberDefaults.maxTxnOps),
    strictReconfigCheck: input.strictReconfigCheck ?? true,
    forceNewCluster: input.forceNewCluster ?? false,
    logLevel: oneOf('log-level', input.logLevel ?? 'info', [
      'debug',
      'info',
      'warn',
      'error',
    ] as const),
    watchProgressNotifyIntervalMs: positiveInt(
      'watch-progress-notify-interval',
      input.watchProgressNotifyIntervalMs ?? 10 * 60 * 1000,
    ),
    leaseCheckpointIntervalMs: positiveInt(
      'lease-checkpoint-interval',
      input.leaseCheckpointIntervalMs ?? 5 * 60 * 1000,
    ),
    snapshotCatchUpEntries: positiveInt(
      'snapshot-catchup-entries',
      input.snapshotCatchUpEntries ?? 5000,
    ),
    authToken: parseAuthToken(input.authToken ?? 'simple'),
    authTokenTtlSeconds: positiveInt(
      'auth-token-ttl',
      input.authTokenTtlSeconds ?? memberDefaults.authTokenTtlSeconds,
    ),
    bcryptCost: bcryptCost(input.bcryptCost ?? memberDefaults.bcryptCost),
    clientTls,
    peerTls,
    clientHttp2Engine: clientHttp2Engine(input.clientHttp2Engine),
    walFsync: walFsync(input.walFsync),
    ...resolveObservability(input, clientTls),
    ui: input.ui ?? true,
    listenZkUrls: resolveZkUrls(input.listenZkUrls),
    zkSuperDigest: resolveSuperDigest(input.zkSuperDigest),
    zkContainerCheckIntervalMs: positiveInt(
      'zk-container-check-interval-ms',
      input.zkContainerCheckIntervalMs ?? 60_000,
    ),
    zkContainerMaxPerMinute: positiveInt(
      'zk-container-max-per-minute',
      input.zkContainerMaxPerMinute ?? 10_000,
    ),
    zkTls: resolveZkTls(input, clientTls),
  };
}

/**
 * The ZooKeeper TLS port's settings, when `--listen-zk-urls` has an `https://` URL: its own
 * certificate when `--zk-cert-file` or `--zk-key-file` is given, else the client port's, and a
 * trusted CA unless client certificates are not asked for.
 */
function resolveZkTls(
  input: MemberConfigInput,
  clientTls: TlsSettings | undefined,
): ZkTlsConfig | undefined {
  const secure = resolveZkUrls(input.listenZkUrls).filter(u => u.protocol === 'https:');
  const clientAuth = input.zkSslClientAuth ?? 'need';
  if (clientAuth !== 'need' && clientAuth !== 'want' && clientAuth !== 'none') {
    throw new ConfigError('zk-ssl-client-auth', `${clientAuth}: expected need, want or none`);
  }
  const {keyStore, trustStore} = resolveZkStores(input);
  const keystore = keyStore?.file;
  const own =
    input.zkCertFile !== undefined ||
    input.zkKeyFile !== undefined ||
    keystore !== undefined ||
    trustStore !== undefined;
  if (secure.length === 0) {
    const given = own || input.zkTrustedCaFile !== undefined || input.zkCrlFile !== undefined;
    if (given) {
      throw new ConfigError(
        input.zkCertFile !== undefined
          ? 'zk-cert-file'
          : keystore !== undefined
            ? 'zk-keystore-file'
            : trustStore !== undefined
              ? 'zk-truststore-file'
              : 'zk-key-file',
        'the ZooKeeper certificates need an https:// URL in --listen-zk-urls',
      );
    }
    return undefined;
  }
  const origin = secure[0]?.origin ?? '';
  const settings: TlsSettings | undefined = own
    ? {
        side: 'zk',
        certFile: input.zkCertFile,
        keyFile: input.zkKeyFile,
        ...(keyStore === undefined ? {} : {keyStore}),
        ...(trustStore === undefined ? {} : {trustStore}),
        trustedCaFile: input.zkTrustedCaFile,
        clientCertAuth: clientAuth === 'need',
        crlFile: input.zkCrlFile,
        allowedCn: undefined,
        allowedHostname: undefined,
        minVersion: clientTls?.minVersion ?? 'TLSv1.2',
        maxVersion: clientTls?.maxVersion ?? 'TLSv1.3',
        cipherSuites: clientTls?.cipherSuites ?? [],
      }
    : clientTls;
  if (settings === undefined) {
    throw new ConfigError(
      'listen-zk-urls',
      `${origin}: https ZooKeeper URLs need a certificate: give --zk-cert-file and --zk-key-file, or the client port's --cert-file and --key-file (or --auto-tls)`,
    );
  }
  if (
    clientAuth !== 'none' &&
    settings.trustedCaFile === undefined &&
    settings.trustStore === undefined
  ) {
    const ca = own ? 'zk-trusted-ca-file (or --zk-truststore-file)' : 'trusted-ca-file';
    throw new ConfigError(
      'zk-ssl-client-auth',
      `${clientAuth} (the default is need, as ZooKeeper's ssl.clientAuth) checks client certificates against --${ca}: give one, or --zk-ssl-client-auth=none`,
    );
  }
  const superUser = input.zkX509Superuser;
  return {settings, clientAuth, x509SuperUser: superUser === '' ? undefined : superUser};
}

/**
 * `--zk-super-digest`: ZooKeeper takes any string and a malformed one silently matches nobody;
 * Synod refuses what cannot be a digest id, so a typo shows at start-up.
 */
function resolveSuperDigest(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[^:]+:[A-Za-z0-9+/]{27}=$/.test(value)) {
    throw new ConfigError(
      'zk-super-digest',
      `${value}: expected user:base64(sha1(user:password)), e.g. the output of ` +
        "`printf %s super:password | openssl sha1 -binary | base64` after 'super:'",
    );
  }
  return value;
}

/** `--listen-zk-urls`: IP addresses, `http://` for plain TCP, `https://` for TLS. */
function resolveZkUrls(value: string | readonly string[] | undefined): URL[] {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return [];
  const urls = parseUrls('listen-zk-urls', value);
  for (const url of urls) {
    if (!isIpLiteral(url.hostname)) {
      throw new ConfigError(
        'listen-zk-urls',
        `${url.href}: listen on an IP address, not a host name`,
      );
    }
  }
  return urls;
}

/** The metrics listener, the metrics' extent and the slow-request threshold. */
function resolveObservability(
  input: MemberConfigInput,
  clientTls: TlsSettings | undefined,
): Pick<MemberConfig, 'listenMetricsUrls' | 'metrics' | 'warningApplyDurationMs'> {
  const listenMetricsUrls =
    input.listenMetricsUrls === undefined ||
    (typeof input.listenMetricsUrls === 'string' && input.listenMetricsUrls.trim() === '')
      ? []
      : parseUrls('listen-metrics-urls', input.listenMetricsUrls);
  for (const url of listenMetricsUrls) {
    if (!isIpLiteral(url.hostname)) {
      throw new ConfigError(
        'listen-metrics-urls',
        `${url.href}: listen on an IP address, not a host name`,
      );
    }
    if (url.protocol === 'https:' && clientTls === undefined) {
      throw new ConfigError(
        'listen-metrics-urls',
        `${url.origin}: https metrics URLs are served with the client certificate; give --cert-file and --key-file (or --auto-tls)`,
      );
    }
  }
  return {
    listenMetricsUrls,
    metrics: oneOf('metrics', input.metrics ?? 'basic', ['basic', 'extensive'] as const),
    warningApplyDurationMs: parseDurationMs(
      'warning-apply-duration',
      input.warningApplyDuration ?? '100ms',
    ),
  };
}

const tlsVersions: Record<string, tls.SecureVersion> = {'TLS1.2': 'TLSv1.2', 'TLS1.3': 'TLSv1.3'};

/**
 * The client and peer TLS settings; a side without a certificate or key, and without
 * auto-TLS, has none.
 */
function resolveTls(
  input: MemberConfigInput,
  dataDir: string,
  clientUrls: readonly URL[],
  peerUrls: readonly URL[],
): {
  clientTls: TlsSettings | undefined;
  peerTls: TlsSettings | undefined;
} {
  const version = (setting: string, value: string | undefined, fallback: tls.SecureVersion) => {
    if (value === undefined || value === '') return fallback;
    const v = tlsVersions[value];
    if (v === undefined) {
      throw new ConfigError(
        setting,
        `unexpected TLS version ${JSON.stringify(value)} (TLS1.2 or TLS1.3)`,
      );
    }
    return v;
  };
  const minVersion = version('tls-min-version', input.tlsMinVersion, 'TLSv1.2');
  const maxVersion = version('tls-max-version', input.tlsMaxVersion, 'TLSv1.3');
  if (minVersion > maxVersion) {
    throw new ConfigError(
      'tls-max-version',
      `${input.tlsMaxVersion ?? ''} is below --tls-min-version`,
    );
  }
  const cipherSuites = (input.cipherSuites ?? '')
    .split(',')
    .map(c => c.trim())
    .filter(c => c !== '')
    .map(c => {
      const openssl = cipherSuiteNames[c];
      if (openssl === undefined) {
        throw new ConfigError('cipher-suites', `unexpected TLS cipher suite ${JSON.stringify(c)}`);
      }
      return openssl;
    });
  if (cipherSuites.length > 0 && minVersion === 'TLSv1.3') {
    throw new ConfigError(
      'cipher-suites',
      'cipher suites cannot be set when only TLS1.3 is enabled',
    );
  }
  const common = {minVersion, maxVersion, cipherSuites};
  const validityYears = positiveInt('self-signed-cert-validity', input.selfSignedCertValidity ?? 1);
  const selfSigned = (side: 'client' | 'peer', urls: readonly URL[]) => ({
    certFile: join(dataDir, 'fixtures', side, 'cert.pem'),
    keyFile: join(dataDir, 'fixtures', side, 'key.pem'),
    selfSigned: {
      hosts: [...new Set(urls.map(u => u.hostname.replace(/^\[(.*)\]$/, '$1')))],
      validityYears,
    },
  });
  const clientAuto =
    input.autoTls === true && input.certFile === undefined && input.keyFile === undefined;
  const peerAuto =
    input.peerAutoTls === true &&
    input.peerCertFile === undefined &&
    input.peerKeyFile === undefined;
  const clientTls: TlsSettings | undefined = clientAuto
    ? {
        side: 'client',
        ...selfSigned('client', clientUrls),
        trustedCaFile: undefined,
        clientCertAuth: false,
        crlFile: undefined,
        allowedCn: undefined,
        allowedHostname: undefined,
        ...common,
      }
    : input.certFile === undefined && input.keyFile === undefined
      ? undefined
      : {
          side: 'client',
          certFile: input.certFile,
          keyFile: input.keyFile,
          trustedCaFile: input.trustedCaFile,
          clientCertAuth: input.clientCertAuth ?? false,
          crlFile: input.clientCrlFile,
          allowedCn: undefined,
          allowedHostname: input.clientCertAllowedHostname,
          ...common,
        };
  const peerTls: TlsSettings | undefined = peerAuto
    ? {
        side: 'peer',
        ...selfSigned('peer', peerUrls),
        trustedCaFile: undefined,
        clientCertAuth: false,
        crlFile: undefined,
        allowedCn: input.peerCertAllowedCn,
        allowedHostname: input.peerCertAllowedHostname,
        ...common,
      }
    : input.peerCertFile === undefined && input.peerKeyFile === undefined
      ? undefined
      : {
          side: 'peer',
          certFile: input.peerCertFile,
          keyFile: input.peerKeyFile,
          trustedCaFile: input.peerTrustedCaFile,
          clientCertAuth: input.peerClientCertAuth ?? false,
          crlFile: input.peerCrlFile,
          allowedCn: input.peerCertAllowedCn,
          allowedHostname: input.peerCertAllowedHostname,
          ...common,
        };
  return {clientTls, peerTls};
}

function parseAuthToken(value: string): AuthTokenConfig {
  const [kind, ...options] = value.split(',');
  if (kind === 'simple' && options.length === 0) return {kind: 'simple'};
  if (kind !== 'jwt') {
    throw new ConfigError('auth-token', `${JSON.stringify(value)} is not simple or jwt,...`);
  }
  const given = new Map<string, string>();
  for (const option of options) {
    const eq = option.indexOf('=');
    const name = option.slice(0, eq);
    if (eq <= 0 || !['pub-key', 'priv-key', 'sign-method', 'ttl'].includes(name)) {
      throw new ConfigError('auth-token', `unknown jwt option ${JSON.stringify(option)}`);
    }
    given.set(name, option.slice(eq + 1));
  }
  const method = given.get('sign-method');
  const signMethod = jwtSignMethods.find(m => m === method);
  if (signMethod === undefined) {
    throw new ConfigError('auth-token', `jwt needs sign-method=${jwtSignMethods.join('|')}`);
  }
  const publicKeyFile = given.get('pub-key');
  const privateKeyFile = given.get('priv-key');
  if (publicKeyFile === undefined && privateKeyFile === undefined) {
    throw new ConfigError('auth-token', 'jwt needs pub-key or priv-key (or both)');
  }
  const ttl = given.get('ttl') ?? '5m';
  let ttlMs: number;
  try {
    ttlMs = parseRetention('periodic', ttl);
  } catch {
    throw new ConfigError('auth-token', `jwt ttl ${JSON.stringify(ttl)} is not a duration`);
  }
  if (/^\d+(\.\d+)?$/.test(ttl) || ttlMs <= 0) {
    throw new ConfigError('auth-token', `jwt ttl ${JSON.stringify(ttl)} is not a duration`);
  }
  return {kind: 'jwt', signMethod, publicKeyFile, privateKeyFile, ttlMs};
}

function bcryptCost(value: number): number {
  if (!Number.isInteger(value) || value < 4 || value > 31) {
    throw new ConfigError('bcrypt-cost', `${value} is not an integer from 4 to 31`);
  }
  return value;
}

function isIpLiteral(hostname: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname))
    return hostname.split('.').every(o => Number(o) <= 255);
  return hostname.startsWith('[') && hostname.endsWith(']');
}

function walFsync(value: string | undefined): 'inline' | 'threadpool' {
  if (value === undefined || value === 'inline') return 'inline';
  if (value === 'threadpool') return 'threadpool';
  throw new ConfigError(
    'experimental-wal-fsync',
    `${JSON.stringify(value)}: must be inline or threadpool`,
  );
}

function clientHttp2Engine(value: string | undefined): 'synod' | 'node' {
  if (value === undefined || value === 'synod') return 'synod';
  if (value === 'node') return 'node';
  throw new ConfigError(
    'experimental-client-http2-engine',
    `${JSON.stringify(value)}: must be synod or node`,
  );
}
