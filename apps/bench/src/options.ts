import {checkPerfPrefix} from './check-perf.js';

/** The workloads `synod-bench` runs. */
export const workloads = [
  'put',
  'range',
  'txn',
  'watch',
  'lease',
  'mixed',
  'check-perf',
  'zk-create',
  'zk-get',
  'zk-set',
  'zk-delete',
] as const;
export type Workload = (typeof workloads)[number];

/** Everything one benchmark run needs; every field has a default but the workload. */
export interface BenchOptions {
  readonly workload: Workload;
  /** `host:port` addresses, without scheme. */
  readonly endpoints: readonly string[];
  /**
   * gRPC connections (one TCP connection each), spread over the endpoints round-robin; for
   * the `zk-*` workloads, ZooKeeper sessions (one connection each).
   */
  readonly conns: number;
  /** Requests in flight at once, spread over the connections. */
  readonly clients: number;
  /** Operations per second over all clients; 0 means as fast as the clients go. */
  readonly rate: number;
  /** How long to run; ignored when `total` is set. */
  readonly durationMs: number;
  /** How many operations to run, or undefined to run for `durationMs`. */
  readonly total: number | undefined;
  readonly keySize: number;
  readonly valSize: number;
  /** Keys are drawn from this many distinct keys. */
  readonly keySpace: number;
  /** Walk the key space in order instead of drawing keys at random. */
  readonly sequentialKeys: boolean;
  /** Every key starts with this prefix (it counts towards `keySize`). */
  readonly prefix: string;
  /** `range`: linearizable (l) or serializable (s) reads. */
  readonly consistency: 'l' | 's';
  /** `mixed`: the fraction of operations that are reads, 0..1. */
  readonly readRatio: number;
  /** `watch`: how many watchers, each on its own stream. */
  readonly watchers: number;
  /** `lease`: the TTL of every granted lease, in seconds. */
  readonly leaseTtlSeconds: number;
  /** `lease`: keep-alives sent on each lease before the next grant. */
  readonly keepAlivesPerLease: number;
  /** `check-perf`: s, m, l or xl. */
  readonly load: string;
  /** Load-generating processes; 1 runs the load in this process. */
  readonly workers: number;
  readonly json: boolean;
  /** TLS, as etcd's benchmark tool and etcdctl take it; undefined for plaintext. */
  readonly tls: BenchTls | undefined;
}

/** Files for TLS connections (PEM paths), with etcdctl's flag names. */
export interface BenchTls {
  readonly cacert: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly insecureSkipVerify: boolean;
}

/** A command line that cannot be understood; the message says which flag and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const usage = `Usage: synod-bench <workload> [flags]

A load generator for any etcd v3 endpoint (etcd or Synod), or any ZooKeeper port
(ZooKeeper's, or Synod's --listen-zk-urls) with the zk-* workloads.

Workloads:
  put          put random (or sequential) keys
  range        read keys (--consistency l|s)
  txn          compare-and-swap: compare the key's mod_revision, then put
  watch        --watchers on the prefix, one writer at --rate puts/s; reports
               put-to-delivery latency and checks that every watcher saw every
               event exactly once and in order
  lease        grant a lease, then --keep-alives-per-lease keep-alives on it
  mixed        reads and writes, --read-ratio of them reads
  check-perf   etcdctl check perf: --load s|m|l|xl; exit 0 on PASS, 1 on FAIL
  zk-create    ZooKeeper: create new persistent nodes of --val-size bytes under --prefix
  zk-get       ZooKeeper: getData of --key-space nodes made beforehand
  zk-set       ZooKeeper: setData of --key-space nodes made beforehand
  zk-delete    ZooKeeper: delete nodes made beforehand (--total of them, default
               --key-space); --conns sessions carry the --clients' requests pipelined

Flags:
  --endpoints=a,b,c          default 127.0.0.1:2379
  --conns=N                  gRPC connections (default 1)
  --clients=N                requests in flight (default 1)
  --rate=N                   ops/s limit over all clients, 0 = unlimited (default 0;
                             watch: the writer's rate, default 1000)
  --duration=D               10s, 500ms, 2m or seconds (default 10s; check-perf 60s)
  --total=N                  run N operations instead of a duration
  --key-size=N               bytes per key, prefix included (default 32)
  --val-size=N               bytes per value (default 256)
  --key-space=N              distinct keys (default 10000)
  --sequential-keys          walk the key space in order
  --prefix=P                 key prefix (default /synod-bench/;
                             check-perf /etcdctl-check-perf/)
  --consistency=l|s          range: linearizable or serializable (default l)
  --read-ratio=F             mixed: fraction of reads (default 0.9)
  --watchers=N               watch: watchers (default 10)
  --lease-ttl=N              lease: TTL in seconds (default 30)
  --keep-alives-per-lease=N  lease: keep-alives per grant (default 10)
  --load=s|m|l|xl            check-perf: load model (default s)
  --workers=N                split the load over N processes (default 1; watch:
                             worker 0 writes, the others watch)
  --cacert=F --cert=F --key=F  TLS: CA bundle, client certificate and key (PEM files)
  --insecure-skip-tls-verify TLS without checking the server's certificate
  --json                     print one JSON object instead of a table
  --help
`;

type Raw = Map<string, string>;

const flagNames = new Set([
  'endpoints',
  'conns',
  'clients',
  'rate',
  'duration',
  'total',
  'key-size',
  'val-size',
  'key-space',
  'sequential-keys',
  'prefix',
  'consistency',
  'read-ratio',
  'watchers',
  'lease-ttl',
  'keep-alives-per-lease',
  'load',
  'workers',
  'json',
  'cacert',
  'cert',
  'key',
  'insecure-skip-tls-verify',
]);
const booleanFlags = new Set(['sequential-keys', 'json', 'insecure-skip-tls-verify']);

/**
 * Parses `synod-bench <workload> [flags]`. Flags take `--name=value` or `--name value`.
 * Throws {@link UsageError} naming the flag at fault.
 */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const [workloadArg, ...rest] = argv;
  if (workloadArg === undefined || workloadArg.startsWith('-')) {
    throw new UsageError(`a workload is required first: one of ${workloads.join(', ')}`);
  }
  const workload = workloads.find(w => w === workloadArg);
  if (workload === undefined) {
    throw new UsageError(`unknown workload "${workloadArg}": use one of ${workloads.join(', ')}`);
  }
  const raw: Raw = new Map();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!flagNames.has(name)) throw new UsageError(`unknown flag --${name}`);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (booleanFlags.has(name)) value = 'true';
    else {
      const next = rest[i + 1];
      if (next === undefined) throw new UsageError(`flag --${name} needs a value`);
      value = next;
      i += 1;
    }
    raw.set(name, value);
  }

  const endpoints = (raw.get('endpoints') ?? '127.0.0.1:2379')
    .split(',')
    .map(e => e.trim().replace(/^https?:\/\//, ''))
    .filter(e => e !== '');
  if (endpoints.length === 0) throw new UsageError('--endpoints lists no endpoint');
  const consistency = raw.get('consistency') ?? 'l';
  if (consistency !== 'l' && consistency !== 's') {
    throw new UsageError(`--consistency must be l or s, not "${consistency}"`);
  }
  const readRatio = float(raw, 'read-ratio', 0.9);
  if (readRatio < 0 || readRatio > 1) throw new UsageError('--read-ratio must be within 0..1');
  const prefix =
    raw.get('prefix') ?? (workload === 'check-perf' ? checkPerfPrefix : '/synod-bench/');
  const keySize = int(raw, 'key-size', 32, 1);
  const totalRaw = raw.get('total');
  return {
    workload,
    endpoints,
    conns: int(raw, 'conns', 1, 1),
    clients: int(raw, 'clients', 1, 1),
    rate: int(raw, 'rate', workload === 'watch' ? 1000 : 0, 0),
    durationMs: parseDurationMs(raw.get('duration') ?? (workload === 'check-perf' ? '60s' : '10s')),
    total: totalRaw === undefined ? undefined : int(raw, 'total', 0, 1),
    keySize,
    valSize: int(raw, 'val-size', 256, 0),
    keySpace: int(raw, 'key-space', 10_000, 1),
    sequentialKeys: bool(raw, 'sequential-keys'),
    prefix,
    consistency,
    readRatio,
    watchers: int(raw, 'watchers', 10, 1),
    leaseTtlSeconds: int(raw, 'lease-ttl', 30, 1),
    keepAlivesPerLease: int(raw, 'keep-alives-per-lease', 10, 0),
    load: raw.get('load') ?? 's',
    workers: int(raw, 'workers', 1, 1),
    json: bool(raw, 'json'),
    tls: tlsOf(raw),
  };
}

function tlsOf(raw: Raw): BenchTls | undefined {
  const cacert = raw.get('cacert');
  const cert = raw.get('cert');
  const key = raw.get('key');
  const insecureSkipVerify = bool(raw, 'insecure-skip-tls-verify');
  if (cacert === undefined && cert === undefined && key === undefined && !insecureSkipVerify) {
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  return {cacert, cert, key, insecureSkipVerify};
}

/** Parses `10s`, `500ms`, `2m` or a plain number of seconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(`--duration "${text}" is not a duration: use 10s, 500ms, 2m or seconds`);
  }
  const value = Number(match[1]);
  const unitMs = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}[match[2] ?? 's'] ?? 1000;
  const ms = value * unitMs;
  if (ms <= 0) throw new UsageError(`--duration must be positive, not "${text}"`);
  return ms;
}

function int(raw: Raw, name: string, fallback: number, min: number): number {
  const text = raw.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, not "${text}"`);
  }
  return value;
}

function float(raw: Raw, name: string, fallback: number): number {
  const text = raw.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, not "${text}"`);
  }
  return value;
}

function bool(raw: Raw, name: string): boolean {
  const text = raw.get(name);
  if (text === undefined) return false;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new UsageError(`--${name} is true or false, not "${text}"`);
}
