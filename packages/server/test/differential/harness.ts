import {appendFileSync, readFileSync} from 'node:fs';

import {
  AuthDefinition,
  ClusterDefinition,
  KVDefinition,
  LeaseDefinition,
  MaintenanceDefinition,
  WatchDefinition,
} from '@synod/proto';
import type {WatchRequest, WatchResponse} from '@synod/proto';
import {startEtcd, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdClusterOptions} from '@synod/testing';
import {ChannelCredentials, ClientError, Status, createChannel, createClient} from 'nice-grpc';
import type {Channel, Client} from 'nice-grpc';
import {expect} from 'vitest';

/**
 * Differential testing: one etcd member and one Synod member receive the same requests, and
 * their answers must be equal once the fields that legitimately differ between two servers
 * are normalised away.
 *
 * What is normalised, and why:
 * - `header.cluster_id`, `header.member_id`, `header.raft_term`: ids are random per cluster
 *   and the term depends on how the election went. `header.revision` is kept.
 * - lease ids: each server picks its own. Every non-zero lease id a side reports (fields `ID`
 *   and `lease`) is replaced by `lease#n`, n counting ids in the order that side first
 *   reported them, which is grant order when tests grant before they use.
 * - remaining lease TTLs: a timing, so a positive `TTL` within 2 s below `grantedTTL`
 *   becomes `~granted`.
 * - `LeaseLeases` ids and `LeaseTimeToLive` keys are sorted: etcd lists them in hash-map
 *   order.
 * Everything else is compared as is, including error codes and exact messages.
 *
 * Two environment switches help when a comparison fails:
 * - `SYNOD_DIFF_LOG=<file>`: survey mode. Differences are appended to the file (request
 *   label, etcd's answer, Synod's answer) instead of failing, so one run lists every
 *   discrepancy of a scenario, not only the first. `it.fails` scenarios then report
 *   "expected to fail", which is expected in this mode.
 * - `SYNOD_DIFF_TRACE=1`: prints etcd's answer to every compared call.
 */

/** The raw gRPC clients of one server. */
export interface Side {
  readonly name: 'etcd' | 'synod';
  readonly cluster: EtcdCluster;
  /** `127.0.0.1:<port>` of the member. */
  readonly address: string;
  readonly kv: Client<typeof KVDefinition>;
  readonly watch: Client<typeof WatchDefinition>;
  readonly lease: Client<typeof LeaseDefinition>;
  readonly clusterApi: Client<typeof ClusterDefinition>;
  readonly maintenance: Client<typeof MaintenanceDefinition>;
  readonly auth: Client<typeof AuthDefinition>;
  /** The id this side gave the n-th lease it reported (0-based), for use in requests. */
  leaseId(n: number): bigint;
  /** @internal Lease ids in first-seen order. */
  readonly leaseIds: bigint[];
  /** The channel the clients share, for services without a client here. */
  readonly channel: Channel;
  /** etcdctl flags this side needs besides its endpoint (TLS files), empty in plaintext. */
  readonly ctlFlags: readonly string[];
}

/** A call's outcome in comparable form: the normalised response or the gRPC error. */
export type Outcome = {readonly ok: unknown} | {readonly error: {code: string; details: string}};

/** An etcd and a Synod member started with the same flags. */
export interface Pair {
  readonly etcd: Side;
  readonly synod: Side;
  readonly sides: readonly [Side, Side];
  stop(): Promise<void>;
}

/** A client certificate and the CA to trust, for a pair started on mutual TLS. */
export interface PairTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function makeSide(name: Side['name'], cluster: EtcdCluster, tls: PairTls | undefined): Side {
  const address = cluster.members[0]?.clientAddress ?? '';
  const channel = createChannel(
    address,
    tls === undefined
      ? undefined
      : ChannelCredentials.createSsl(
          readFileSync(tls.ca),
          readFileSync(tls.key),
          readFileSync(tls.cert),
        ),
  );
  const leaseIds: bigint[] = [];
  return {
    name,
    cluster,
    address,
    channel,
    kv: createClient(KVDefinition, channel),
    watch: createClient(WatchDefinition, channel),
    lease: createClient(LeaseDefinition, channel),
    clusterApi: createClient(ClusterDefinition, channel),
    maintenance: createClient(MaintenanceDefinition, channel),
    auth: createClient(AuthDefinition, channel),
    ctlFlags:
      tls === undefined ? [] : [`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`],
    leaseIds,
    leaseId(n) {
      const id = leaseIds[n];
      if (id === undefined) throw new Error(`${name} has reported no lease #${n} yet`);
      return id;
    },
  };
}

/**
 * Starts both servers, one member each, with the same options; with `tls`, the options must
 * start them on TLS and the clients and etcdctl connect with these files.
 */
export async function startPair(options: EtcdClusterOptions = {}, tls?: PairTls): Promise<Pair> {
  const [etcd, synod] = await Promise.allSettled([startEtcd(options), startSynod(options)]);
  if (etcd.status === 'rejected' || synod.status === 'rejected') {
    if (etcd.status === 'fulfilled') await etcd.value.stop();
    if (synod.status === 'fulfilled') await synod.value.stop();
    throw etcd.status === 'rejected' ? etcd.reason : (synod as PromiseRejectedResult).reason;
  }
  const sides = [makeSide('etcd', etcd.value, tls), makeSide('synod', synod.value, tls)] as const;
  return {
    etcd: sides[0],
    synod: sides[1],
    sides,
    async stop() {
      for (const side of sides) side.channel.close();
      await Promise.all(sides.map(side => side.cluster.stop()));
    },
  };
}

function printable(buf: Buffer): string {
  const text = buf.toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : `0x${buf.toString('hex')}`;
}

function leaseName(side: Side, id: bigint): string {
  let n = side.leaseIds.indexOf(id);
  if (n < 0) {
    side.leaseIds.push(id);
    n = side.leaseIds.length - 1;
  }
  return `lease#${n}`;
}

/** Turns a response into plain, comparable data with per-server values normalised. */
export function normalise(side: Side, value: unknown, key = ''): unknown {
  if (typeof value === 'bigint') {
    if ((key === 'ID' || key === 'lease') && value !== 0n) return leaseName(side, value);
    return Number(value);
  }
  if (Buffer.isBuffer(value)) return printable(value);
  if (Array.isArray(value)) {
    const items = value.map(item => normalise(side, item, key));
    if (key === 'leases' || key === 'keys')
      items.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    return items;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (key === 'header' && (k === 'clusterId' || k === 'memberId' || k === 'raftTerm')) continue;
      out[k] = normalise(side, v, k);
    }
    const ttl = out.TTL;
    const granted = out.grantedTTL;
    if (typeof ttl === 'number' && typeof granted === 'number' && ttl > 0) {
      if (ttl <= granted && ttl >= granted - 2) out.TTL = `~${granted}`;
    }
    return out;
  }
  return value;
}

/** Runs one call and captures its outcome, normalised. */
export async function outcome(side: Side, call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return {ok: normalise(side, await call())};
  } catch (error) {
    if (error instanceof ClientError) {
      return {error: {code: Status[error.code], details: error.details}};
    }
    throw error;
  }
}

/** Runs the same operation on both servers, at the same time, and returns both outcomes. */
export async function both(
  pair: Pair,
  op: (side: Side) => Promise<unknown>,
): Promise<[Outcome, Outcome]> {
  const [e, s] = await Promise.all(pair.sides.map(side => outcome(side, () => op(side))));
  return [e as Outcome, s as Outcome];
}

function jsonOf(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

/**
 * With `SYNOD_DIFF_LOG=<file>` set, differences are appended to that file instead of failing
 * the test, so that one run surveys every discrepancy of a scenario, not just the first.
 * Returns whether the difference was recorded (and the assertion should be skipped).
 */
export function recordDifference(label: string, etcd: unknown, synod: unknown): boolean {
  const file = process.env.SYNOD_DIFF_LOG;
  if (file === undefined || file === '') return false;
  const e = jsonOf(etcd);
  const s = jsonOf(synod);
  if (e !== s) {
    const test = expect.getState().currentTestName ?? '';
    appendFileSync(file, `### ${test} :: ${label}\netcd:  ${e}\nsynod: ${s}\n\n`);
  }
  return true;
}

/** Runs the operation on both servers and expects equal outcomes; returns etcd's. */
export async function same(
  pair: Pair,
  op: (side: Side) => Promise<unknown>,
  label = '',
): Promise<Outcome> {
  const [e, s] = await both(pair, op);
  if (process.env.SYNOD_DIFF_TRACE !== undefined) console.log(label, jsonOf(e));
  if (!recordDifference(label, e, s)) {
    expect(s, `synod differs from etcd${label === '' ? '' : ` at ${label}`}`).toEqual(e);
  }
  return e;
}

/**
 * Drops the headers of the responses nested in a txn answer. etcd fills them with the
 * revision the txn had reached at that op (and 0 for a nested txn), Synod with the final
 * revision; kv.test.ts pins that difference; elsewhere it would hide every other one.
 */
export function withoutInnerHeaders(result: Outcome): Outcome {
  if (!('ok' in result)) return result;
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'responses' ? stripOps(v) : strip(v)]),
    );
  };
  const stripOps = (ops: unknown): unknown =>
    (ops as {response: {$case: string; value: Record<string, unknown>}}[]).map(op => {
      const {header: _header, ...rest} = op.response.value;
      return {response: {$case: op.response.$case, value: strip(rest)}};
    });
  return {ok: strip(result.ok)};
}

/** Like {@link same}, but ignoring the headers of responses nested in a txn answer. */
export async function sameIgnoringInnerHeaders(
  pair: Pair,
  op: (side: Side) => Promise<unknown>,
  label = '',
): Promise<Outcome> {
  const [rawE, rawS] = await both(pair, op);
  const e = withoutInnerHeaders(rawE);
  const s = withoutInnerHeaders(rawS);
  if (!recordDifference(label, e, s)) {
    expect(s, `synod differs from etcd${label === '' ? '' : ` at ${label}`}`).toEqual(e);
  }
  return e;
}

/** Returns a value from a successful outcome, failing the test on an error outcome. */
export function okValue(result: Outcome): Record<string, unknown> {
  if ('error' in result) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.ok as Record<string, unknown>;
}

/** Current revision of a side. */
export async function revisionOf(side: Side): Promise<bigint> {
  const res = await side.kv.range({
    key: Buffer.from('\0'),
    rangeEnd: Buffer.from('\0'),
    countOnly: true,
  });
  return res.header?.revision ?? 0n;
}

/**
 * Brings both servers to the same revision by writing on the one behind, so that one
 * discrepancy in how many revisions an operation takes does not make every later scenario
 * differ too. The padding key is deleted again when the gap allows (a gap of 1 leaves it),
 * so that it stays out of later ranges.
 */
export async function align(pair: Pair): Promise<void> {
  const [e, s] = await Promise.all(pair.sides.map(revisionOf));
  const behind = (e ?? 0n) < (s ?? 0n) ? pair.etcd : pair.synod;
  const gap = Math.abs(Number((e ?? 0n) - (s ?? 0n)));
  const key = Buffer.from('\0pad');
  const puts = gap >= 2 ? gap - 1 : gap;
  for (let i = 0; i < puts; i++) {
    await behind.kv.put({key, value: Buffer.from(String(i))});
  }
  if (gap >= 2) await behind.kv.deleteRange({key});
}

/** Shorthand for a Buffer from a string. */
export function b(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** The range end that selects every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0xff;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A bidirectional watch stream with a request queue and a response buffer. */
export class WatchStream {
  private readonly pending: WatchRequest[] = [];
  private wakeSender: (() => void) | undefined;
  private readonly received: WatchResponse[] = [];
  private wakeReader: (() => void) | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  /** The error that ended the stream, if any. */
  failure: unknown;

  constructor(private readonly side: Side) {
    void this.pump();
  }

  private async *requests(): AsyncGenerator<WatchRequest> {
    while (!this.closed) {
      const next = this.pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      await new Promise<void>(resolve => {
        this.wakeSender = resolve;
      });
    }
  }

  private async pump(): Promise<void> {
    try {
      for await (const res of this.side.watch.watch(this.requests(), {signal: this.abort.signal})) {
        this.received.push(res);
        this.wakeReader?.();
      }
    } catch (error) {
      if (!this.closed) this.failure = error;
    }
    this.wakeReader?.();
  }

  send(request: Partial<WatchRequest>): void {
    this.pending.push({requestUnion: undefined, ...request});
    this.wakeSender?.();
  }

  /**
   * Waits until `count` responses are buffered (or `timeoutMs` passes), then waits `quietMs`
   * more for unexpected extra responses, and returns everything buffered, normalised.
   */
  async take(count: number, timeoutMs = 3000, quietMs = 150): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count && Date.now() < deadline && this.failure === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>(resolve => {
        this.wakeReader = resolve;
        timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
      clearTimeout(timer);
    }
    if (quietMs > 0) await new Promise(resolve => setTimeout(resolve, quietMs));
    const taken = this.received.splice(0, this.received.length);
    return taken.map(res => normalise(this.side, res));
  }

  close(): void {
    this.closed = true;
    this.wakeSender?.();
    this.abort.abort();
  }
}

/** One watch stream per side. */
export function watchBoth(pair: Pair): [WatchStream, WatchStream] {
  return [new WatchStream(pair.etcd), new WatchStream(pair.synod)];
}

/** Sends the same watch request on both streams. */
export function sendBoth(streams: readonly WatchStream[], request: Partial<WatchRequest>): void {
  for (const stream of streams) stream.send(request);
}

/** Collects the responses of both streams and expects the same sequence. */
export async function sameWatch(
  streams: readonly [WatchStream, WatchStream],
  count: number,
  label = '',
  timeoutMs = 3000,
): Promise<unknown[]> {
  // Responses of different watchers may interleave in any order; each watcher's own order
  // is kept (the sort is stable).
  const byWatcher = (responses: unknown[]) =>
    responses.sort((x, y) => (x as {watchId: number}).watchId - (y as {watchId: number}).watchId);
  const [e, s] = await Promise.all(
    streams.map(async stream => byWatcher(await stream.take(count, timeoutMs))),
  );
  if (process.env.SYNOD_DIFF_TRACE !== undefined) console.log(label, jsonOf(e));
  if (recordDifference(label, e, s)) return e ?? [];
  expect(s, `synod watch differs from etcd${label === '' ? '' : ` at ${label}`}`).toEqual(e);
  return e ?? [];
}
