import {readFileSync} from 'node:fs';
import {parseArgs} from 'node:util';

import {parse as parseYaml} from 'yaml';

import type {MemberConfigInput} from '@synod/server';

/**
 * The command-line flags `synod` takes: etcd's names and meanings, so that a
 * script that starts etcd starts Synod. Each flag can also be given as an
 * environment variable: etcd's own, `ETCD_` + the flag name in upper case with
 * `_` for `-` (`--data-dir` is `ETCD_DATA_DIR`), so container manifests and
 * systemd units written for etcd work unchanged, or `SYNOD_DATA_DIR`. As in etcd,
 * an `ETCD_` variable and its flag may not both be given; a `SYNOD_` variable
 * gives way to its flag. `--config-file` reads etcd's YAML configuration file
 * instead of all flags and variables.
 */
const flagSpecs = {
  name: {kind: 'string', help: 'human-readable name of this member'},
  'data-dir': {kind: 'string', help: 'path to the data directory (default: ${name}.synod)'},
  'listen-client-urls': {
    kind: 'string',
    help: 'URLs to serve clients on (default: http://127.0.0.1:2379)',
  },
  'advertise-client-urls': {
    kind: 'string',
    help: "this member's client URLs to advertise to the cluster",
  },
  'listen-peer-urls': {
    kind: 'string',
    help: 'URLs to accept peer traffic on (default: http://127.0.0.1:2380)',
  },
  'initial-advertise-peer-urls': {
    kind: 'string',
    help: "this member's peer URLs to advertise to the cluster",
  },
  'initial-cluster': {
    kind: 'string',
    help: 'bootstrap configuration: name=peerURL,name=peerURL,...',
  },
  'initial-cluster-state': {
    kind: 'string',
    help: 'new (bootstrap a cluster) or existing (join one)',
  },
  'initial-cluster-token': {
    kind: 'string',
    help: 'bootstrap token, distinct per cluster (default: etcd-cluster)',
  },
  'snapshot-count': {
    kind: 'int',
    help: 'committed entries between raft snapshots (default: 10000)',
  },
  'backend-batch-interval': {
    kind: 'string',
    help: 'longest wait before applied writes are committed to the backend (default: 100ms)',
  },
  'backend-batch-limit': {
    kind: 'int',
    help: 'applied writes that make the backend commit at once (default: 10000)',
  },
  'experimental-snapshot-catchup-entries': {
    kind: 'int',
    help: 'entries kept behind a snapshot for slow followers to catch up from (default: 5000)',
  },
  'heartbeat-interval': {kind: 'int', help: 'time between heartbeats, in ms (default: 100)'},
  'election-timeout': {kind: 'int', help: 'election timeout, in ms (default: 1000)'},
  'quota-backend-bytes': {
    kind: 'int',
    help: 'backend size that raises the NOSPACE alarm (0: 2 GiB)',
  },
  'snapshot-stall-timeout-ms': {
    kind: 'int',
    help: 'how long a snapshot client may leave a message unread before the snapshot is stopped and its read transaction released (default: 30000)',
  },
  'auto-compaction-mode': {kind: 'string', help: 'periodic or revision (default: periodic)'},
  'auto-compaction-retention': {
    kind: 'string',
    help: 'periodic: 1h, 30m, ...; revision: a count; 0 is off',
  },
  'max-request-bytes': {kind: 'int', help: 'largest client request accepted (default: 1572864)'},
  'max-txn-ops': {kind: 'int', help: 'most operations in one txn (default: 128)'},
  'strict-reconfig-check': {
    kind: 'bool',
    help: 'refuse membership changes that could lose quorum (default: true)',
  },
  'force-new-cluster': {
    kind: 'bool',
    help: 'start on the existing data as a cluster of this member alone, every other member removed (default: false)',
  },
  'log-level': {kind: 'string', help: 'debug, info, warn or error (default: info)'},
  'auth-token': {
    kind: 'string',
    help: 'simple, or jwt,pub-key=<file>,priv-key=<file>,sign-method=<RS256|ES256|...>,ttl=5m',
  },
  'auth-token-ttl': {kind: 'int', help: 'seconds an unused simple token lives (default: 300)'},
  'bcrypt-cost': {kind: 'int', help: 'bcrypt cost of password hashes, 4 to 31 (default: 10)'},
  'config-file': {
    kind: 'string',
    help: "path to etcd's YAML configuration file; other flags and variables are then ignored",
  },
  'cert-file': {kind: 'string', help: 'path to the client server TLS cert file'},
  'key-file': {kind: 'string', help: 'path to the client server TLS key file'},
  'trusted-ca-file': {kind: 'string', help: 'path to the client server TLS trusted CA cert file'},
  'client-cert-auth': {kind: 'bool', help: 'enable client cert authentication'},
  'client-crl-file': {
    kind: 'string',
    help: 'path to the client certificate revocation list file',
  },
  'client-cert-allowed-hostname': {
    kind: 'string',
    help: 'allowed TLS hostname for client cert authentication',
  },
  'cipher-suites': {
    kind: 'string',
    help: 'comma-separated list of supported TLS cipher suites between client/server and peers (empty: Node.js defaults)',
  },
  'tls-min-version': {
    kind: 'string',
    help: 'minimum TLS version: TLS1.2 or TLS1.3 (default: TLS1.2)',
  },
  'tls-max-version': {
    kind: 'string',
    help: 'maximum TLS version: TLS1.2 or TLS1.3 (default: TLS1.3)',
  },
  'auto-tls': {kind: 'bool', help: 'client TLS using generated certificates'},
  'experimental-wal-fsync': {
    kind: 'string',
    help: "where the WAL's fdatasync runs: inline (on the event loop, default) or threadpool",
  },
  'experimental-client-http2-engine': {
    kind: 'string',
    help: "the client port's HTTP/2 implementation: synod (Synod's own, default) or node (Node's http2)",
  },
  'self-signed-cert-validity': {
    kind: 'int',
    help: 'validity period of the client and peer certificates made by auto-TLS, in years (default: 1)',
  },
  'peer-cert-file': {kind: 'string', help: 'path to the peer server TLS cert file'},
  'peer-key-file': {kind: 'string', help: 'path to the peer server TLS key file'},
  'peer-trusted-ca-file': {kind: 'string', help: 'path to the peer server TLS trusted CA file'},
  'peer-client-cert-auth': {kind: 'bool', help: 'enable peer client cert authentication'},
  'peer-crl-file': {kind: 'string', help: 'path to the peer certificate revocation list file'},
  'peer-cert-allowed-cn': {
    kind: 'string',
    help: 'required CN for client certs connecting to the peer endpoint',
  },
  'peer-cert-allowed-hostname': {
    kind: 'string',
    help: 'allowed TLS hostname for inter peer authentication',
  },
  'peer-auto-tls': {
    kind: 'bool',
    help: 'peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided',
  },
  ui: {kind: 'bool', help: 'serve the web console at /ui on the client URLs (default: true)'},
  'listen-zk-urls': {
    kind: 'string',
    help: 'URLs to serve ZooKeeper 3.8 clients on, e.g. http://127.0.0.1:2181, https://127.0.0.1:2281 for TLS with the client certificates (default: none)',
  },
  'zk-super-digest': {
    kind: 'string',
    help: "ZooKeeper super user as user:base64(sha1(user:password)), ZooKeeper's zookeeper.DigestAuthenticationProvider.superDigest (default: none)",
  },
  'zk-container-check-interval-ms': {
    kind: 'int',
    help: "how often the leader deletes empty containers and expired TTL nodes, ZooKeeper's znode.container.checkIntervalMs (default: 60000)",
  },
  'zk-container-max-per-minute': {
    kind: 'int',
    help: "container and TTL node deletions a minute at most, ZooKeeper's znode.container.maxPerMinute (default: 10000)",
  },
  'zk-ssl-client-auth': {
    kind: 'string',
    help: "client certificates on the https:// --listen-zk-urls, ZooKeeper's ssl.clientAuth: need (default), want or none",
  },
  'zk-x509-superuser': {
    kind: 'string',
    help: "subject name of the client certificate that is the ZooKeeper super user, ZooKeeper's zookeeper.X509AuthenticationProvider.superUser (default: none)",
  },
  'zk-cert-file': {
    kind: 'string',
    help: "certificate of the https:// --listen-zk-urls, when not --cert-file's (ZooKeeper's ssl.keyStore)",
  },
  'zk-key-file': {kind: 'string', help: 'key of --zk-cert-file'},
  'zk-keystore-file': {
    kind: 'string',
    help: "JKS, PKCS#12 or PEM key store with the key and certificate of the https:// --listen-zk-urls, in place of --zk-cert-file and --zk-key-file (ZooKeeper's ssl.keyStore.location)",
  },
  'zk-keystore-password': {
    kind: 'string',
    help: "password of --zk-keystore-file (ZooKeeper's ssl.keyStore.password)",
  },
  'zk-keystore-type': {
    kind: 'string',
    help: "JKS, PKCS12 or PEM (ZooKeeper's ssl.keyStore.type; default: from the file name's .jks, .p12, .pfx or .pem)",
  },
  'zk-truststore-file': {
    kind: 'string',
    help: "JKS, PKCS#12 or PEM trust store that verifies ZooKeeper clients' certificates, in place of --zk-trusted-ca-file (ZooKeeper's ssl.trustStore.location)",
  },
  'zk-truststore-password': {
    kind: 'string',
    help: "password of --zk-truststore-file (ZooKeeper's ssl.trustStore.password)",
  },
  'zk-truststore-type': {
    kind: 'string',
    help: "JKS, PKCS12 or PEM (ZooKeeper's ssl.trustStore.type; default: from the file name)",
  },
  'zk-trusted-ca-file': {
    kind: 'string',
    help: "CA bundle that verifies ZooKeeper clients' certificates, with --zk-cert-file (ZooKeeper's ssl.trustStore)",
  },
  'zk-crl-file': {
    kind: 'string',
    help: "certificate revocation list for ZooKeeper clients' certificates, with --zk-cert-file",
  },
  'listen-metrics-urls': {
    kind: 'string',
    help: 'more URLs to serve /metrics and the health endpoints on (https: with the client certificates)',
  },
  metrics: {
    kind: 'string',
    help: 'basic or extensive (adds per-method gRPC latency histograms) (default: basic)',
  },
  'warning-apply-duration': {
    kind: 'string',
    help: 'log a request slower than this with its trace; 0 is off (default: 100ms)',
  },
  'experimental-warning-apply-duration': {
    kind: 'string',
    help: "etcd 3.5's name of --warning-apply-duration",
  },
} as const satisfies Record<string, {kind: 'string' | 'int' | 'bool'; help: string}>;

type FlagName = keyof typeof flagSpecs;

/**
 * What the command line asks for: run a member with these settings (and tell the operator
 * the `warnings`), or print something and exit.
 */
export type Command =
  | {readonly kind: 'run'; readonly config: MemberConfigInput; readonly warnings?: string[]}
  | {readonly kind: 'help'}
  | {readonly kind: 'version'};

/** A command line that cannot be understood; the message says which flag and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function usage(): string {
  const lines = Object.entries(flagSpecs).map(([flag, spec]) => {
    const arg = spec.kind === 'bool' ? '' : spec.kind === 'int' ? ' <n>' : ' <value>';
    return `  --${`${flag}${arg}`.padEnd(36)} ${spec.help}`;
  });
  return [
    'Usage: synod [flags]',
    '       synod snapshot restore|status <file> [flags]   (synod snapshot --help)',
    '       synod zk import <zookeeper data dir> [flags]   (synod zk --help)',
    '       synod skip-entry --data-dir <dir> --index <n>   (synod skip-entry --help)',
    '',
    'Runs a Synod member, serving the etcd v3 API. With no flags: one member on',
    '127.0.0.1:2379 (peers on 127.0.0.1:2380) with its data in ./default.synod.',
    '',
    ...lines,
    `  ${'--help'.padEnd(38)} show this help`,
    `  ${'--version'.padEnd(38)} print the version`,
    '',
    'Every flag can also be set as ETCD_<FLAG> (e.g. ETCD_DATA_DIR, not together with',
    'its flag) or SYNOD_<FLAG> (a flag wins over it).',
    '',
  ].join('\n');
}

function envName(prefix: 'ETCD_' | 'SYNOD_', flag: string): string {
  return `${prefix}${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** etcd's YAML keys under `client-transport-security` and `peer-transport-security`. */
const transportSecurityKeys: Record<'client' | 'peer', Record<string, FlagName>> = {
  client: {
    'cert-file': 'cert-file',
    'key-file': 'key-file',
    'client-cert-auth': 'client-cert-auth',
    'trusted-ca-file': 'trusted-ca-file',
    'auto-tls': 'auto-tls',
    'crl-file': 'client-crl-file',
    'allowed-hostname': 'client-cert-allowed-hostname',
  },
  peer: {
    'cert-file': 'peer-cert-file',
    'key-file': 'peer-key-file',
    'client-cert-auth': 'peer-client-cert-auth',
    'trusted-ca-file': 'peer-trusted-ca-file',
    'auto-tls': 'peer-auto-tls',
    'crl-file': 'peer-crl-file',
    'allowed-cn': 'peer-cert-allowed-cn',
    'allowed-hostname': 'peer-cert-allowed-hostname',
  },
};

/** A YAML scalar (or, for cipher-suites, a list) as the flag's text; undefined for an empty key. */
function yamlValue(file: string, key: string, value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (Array.isArray(value)) return value.map(v => String(v)).join(',');
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new UsageError(`${file}: ${key} must be a value, not a mapping`);
}

/**
 * The settings in etcd's YAML configuration file: top-level keys are flag names, TLS
 * settings sit under `client-transport-security` and `peer-transport-security`. Keys etcd
 * knows that Synod does not are reported and skipped.
 */
function readConfigFile(file: string, warnings: string[]): Map<FlagName, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read --config-file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`--config-file ${file} is not YAML: ${(err as Error).message}`);
  }
  const raw = new Map<FlagName, string>();
  if (doc === null || doc === undefined) return raw;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError(`--config-file ${file} must hold a mapping of settings`);
  }
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const side =
      key === 'client-transport-security'
        ? 'client'
        : key === 'peer-transport-security'
          ? 'peer'
          : undefined;
    if (side !== undefined) {
      if (value === null || value === undefined) continue;
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new UsageError(`${file}: ${key} must be a mapping`);
      }
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        const flag = transportSecurityKeys[side][inner];
        const text = yamlValue(file, `${key}.${inner}`, innerValue);
        if (flag === undefined) {
          if (text !== undefined && text !== 'false') {
            warnings.push(`${file}: ${key}.${inner} is not supported by synod; ignored`);
          }
          continue;
        }
        if (text !== undefined) raw.set(flag, text);
      }
      continue;
    }
    const text = yamlValue(file, key, value);
    if (key in flagSpecs && key !== 'config-file') {
      if (text !== undefined) raw.set(key as FlagName, text);
    } else if (text !== undefined && text !== 'false') {
      warnings.push(`${file}: ${key} is not supported by synod; ignored`);
    }
  }
  return raw;
}

function toInt(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim()))
    throw new UsageError(`invalid value ${JSON.stringify(text)} for --${flag}: not an integer`);
  return Number(text);
}

function toBool(flag: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new UsageError(`invalid value ${JSON.stringify(text)} for --${flag}: use true or false`);
}

function flagValue(
  values: Record<string, string | boolean | undefined>,
  flag: string,
): string | undefined {
  const v = values[flag];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Each flag's text from the command line, else from `SYNOD_<FLAG>`, else from etcd's
 * `ETCD_<FLAG>`. An `ETCD_` variable beside its own flag is refused with etcd's message;
 * `ETCD_` variables that name no flag Synod has are reported, as etcd reports them.
 */
function fromFlagsAndEnvironment(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  warnings: string[],
): Map<FlagName, string> {
  const raw = new Map<FlagName, string>();
  const known = new Set<string>();
  for (const flag of Object.keys(flagSpecs) as FlagName[]) {
    if (flag === 'config-file') continue;
    const etcdName = envName('ETCD_', flag);
    known.add(etcdName);
    const fromFlag = flagValue(values, flag);
    const fromSynod = env[envName('SYNOD_', flag)];
    const fromEtcd = env[etcdName];
    if (fromFlag !== undefined && fromEtcd !== undefined) {
      throw new UsageError(
        `conflicting environment variable "${etcdName}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      );
    }
    const value = fromFlag ?? fromSynod ?? fromEtcd;
    if (value !== undefined) raw.set(flag, value);
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('ETCD_') && !known.has(name) && name !== 'ETCD_CONFIG_FILE') {
      warnings.push(`unrecognized environment variable ${name}=${value ?? ''}`);
    }
  }
  return raw;
}

/** Parses `synod`'s arguments and environment into a command. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  // A bare boolean flag means true; etcd also takes --flag=false.
  const normalised = argv.map(arg => {
    const flag = arg.startsWith('--') ? arg.slice(2) : '';
    return flag in flagSpecs && flagSpecs[flag as FlagName].kind === 'bool' ? `${arg}=true` : arg;
  });
  let parsed;
  try {
    parsed = parseArgs({
      args: normalised,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          Object.keys(flagSpecs).map(flag => [flag, {type: 'string' as const}]),
        ),
        help: {type: 'boolean', short: 'h'},
        version: {type: 'boolean'},
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return {kind: 'help'};
  if (values.version === true) return {kind: 'version'};

  const warnings: string[] = [];
  const configFile =
    flagValue(values, 'config-file') ?? env.ETCD_CONFIG_FILE ?? env.SYNOD_CONFIG_FILE;
  if (configFile !== undefined) {
    warnings.push(
      `loading server configuration from ${JSON.stringify(configFile)}; other configuration command line flags and environment variables are ignored`,
    );
  }
  const raw =
    configFile === undefined
      ? fromFlagsAndEnvironment(values, env, warnings)
      : readConfigFile(configFile, warnings);
  const str = (flag: FlagName) => raw.get(flag);
  const int = (flag: FlagName) => {
    const v = raw.get(flag);
    return v === undefined ? undefined : toInt(flag, v);
  };
  const bool = (flag: FlagName) => {
    const v = raw.get(flag);
    return v === undefined ? undefined : toBool(flag, v);
  };
  const config: MemberConfigInput = {
    name: str('name'),
    dataDir: str('data-dir'),
    listenClientUrls: str('listen-client-urls'),
    advertiseClientUrls: str('advertise-client-urls'),
    listenPeerUrls: str('listen-peer-urls'),
    initialAdvertisePeerUrls: str('initial-advertise-peer-urls'),
    initialCluster: str('initial-cluster'),
    initialClusterState: str('initial-cluster-state'),
    initialClusterToken: str('initial-cluster-token'),
    snapshotCount: int('snapshot-count'),
    backendBatchInterval: str('backend-batch-interval'),
    backendBatchLimit: int('backend-batch-limit'),
    snapshotCatchUpEntries: int('experimental-snapshot-catchup-entries'),
    heartbeatIntervalMs: int('heartbeat-interval'),
    electionTimeoutMs: int('election-timeout'),
    quotaBackendBytes: int('quota-backend-bytes'),
    snapshotStallTimeoutMs: int('snapshot-stall-timeout-ms'),
    autoCompactionMode: str('auto-compaction-mode'),
    autoCompactionRetention: str('auto-compaction-retention'),
    maxRequestBytes: int('max-request-bytes'),
    maxTxnOps: int('max-txn-ops'),
    strictReconfigCheck: bool('strict-reconfig-check'),
    forceNewCluster: bool('force-new-cluster'),
    logLevel: str('log-level'),
    authToken: str('auth-token'),
    authTokenTtlSeconds: int('auth-token-ttl'),
    bcryptCost: int('bcrypt-cost'),
    certFile: str('cert-file'),
    keyFile: str('key-file'),
    trustedCaFile: str('trusted-ca-file'),
    clientCertAuth: bool('client-cert-auth'),
    clientCrlFile: str('client-crl-file'),
    clientCertAllowedHostname: str('client-cert-allowed-hostname'),
    cipherSuites: str('cipher-suites'),
    tlsMinVersion: str('tls-min-version'),
    tlsMaxVersion: str('tls-max-version'),
    peerCertFile: str('peer-cert-file'),
    peerKeyFile: str('peer-key-file'),
    peerTrustedCaFile: str('peer-trusted-ca-file'),
    peerClientCertAuth: bool('peer-client-cert-auth'),
    peerCrlFile: str('peer-crl-file'),
    peerCertAllowedCn: str('peer-cert-allowed-cn'),
    peerCertAllowedHostname: str('peer-cert-allowed-hostname'),
    autoTls: bool('auto-tls'),
    peerAutoTls: bool('peer-auto-tls'),
    selfSignedCertValidity: int('self-signed-cert-validity'),
    ui: bool('ui'),
    clientHttp2Engine: str('experimental-client-http2-engine'),
    walFsync: str('experimental-wal-fsync'),
    listenMetricsUrls: str('listen-metrics-urls'),
    listenZkUrls: str('listen-zk-urls'),
    zkSuperDigest: str('zk-super-digest'),
    zkContainerCheckIntervalMs: int('zk-container-check-interval-ms'),
    zkContainerMaxPerMinute: int('zk-container-max-per-minute'),
    zkSslClientAuth: str('zk-ssl-client-auth'),
    zkX509Superuser: str('zk-x509-superuser'),
    zkCertFile: str('zk-cert-file'),
    zkKeyFile: str('zk-key-file'),
    zkTrustedCaFile: str('zk-trusted-ca-file'),
    zkCrlFile: str('zk-crl-file'),
    zkKeystoreFile: str('zk-keystore-file'),
    zkKeystorePassword: str('zk-keystore-password'),
    zkKeystoreType: str('zk-keystore-type'),
    zkTruststoreFile: str('zk-truststore-file'),
    zkTruststorePassword: str('zk-truststore-password'),
    zkTruststoreType: str('zk-truststore-type'),
    metrics: str('metrics'),
    warningApplyDuration:
      str('warning-apply-duration') ?? str('experimental-warning-apply-duration'),
  };
  // Leave out what was not given, so the member's defaults apply.
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  return warnings.length === 0
    ? {kind: 'run', config: given}
    : {kind: 'run', config: given, warnings};
}
