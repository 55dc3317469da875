import {appendFileSync} from 'node:fs';

import {
  ZooKeeperClient,
  errorName,
  eventName,
  freePorts,
  startSynod,
  startZooKeeper,
  TEST_CONTAINER_CHECK_INTERVAL_MS,
} from '@synod/testing';
import type {
  ConnectOptions,
  EtcdCluster,
  Inbound,
  Reply,
  WatchEvent,
  ZooKeeperEnsemble,
} from '@synod/testing';
import {afterAll, beforeAll, expect, it} from 'vitest';

/**
 * Differential testing of Synod's ZooKeeper port: a scenario (a story of requests told by one
 * or more clients) runs once against the real ZooKeeper 3.8 and once against a Synod member
 * started with `--listen-zk-urls`, through the same client (`ZooKeeperClient`, which hands
 * back every reply as it came). Each run leaves a transcript; the two transcripts must be
 * equal once what legitimately differs between two servers is normalised away.
 *
 * What is normalised, and why (everything not listed is compared as is: error codes, paths,
 * data, versions, cversions, aversions, data lengths, child counts, ACLs, negotiated session
 * timeouts, event types, states and order, connection closes):
 * - zxids in `Stat`s (`czxid`, `mzxid`, `pzxid`), in watch events, and in the reply header of
 *   a write that changed nodes: the servers count differently (ZooKeeper spends zxids on session
 *   creation and failed writes, Synod's come from its revisions), so each side's zxids
 *   become `zxid#n`, n their rank among the distinct zxids of that transcript. Equal zxids
 *   stay equal and order is kept: a create's reply zxid equals its czxid, a multi's ops share
 *   one, a parent's pzxid is its newest child's czxid. 0 and -1 stay as they are.
 * - the reply-header zxid of every other reply (reads, failed writes, a failed or empty
 *   multi): in ZooKeeper it is the last zxid the server processed or a zxid spent on a
 *   transaction that changed no node (session txns of other sessions, error txns), which a
 *   transcript cannot see, so it becomes `current` when it is at least every zxid the
 *   transcript had shown before it and `stale` (a real fault: a client must never see time go
 *   back) otherwise. A zxid of 0 or below (ZooKeeper's reply to auth) stays as it is:
 *   clients ignore it.
 * - `ctime` and `mtime`: wall clock. A `ctime` becomes `set` when it falls in the test's time
 *   window (`0` stays `0`, others `outside the test: <ms>`); an `mtime` becomes `=ctime`,
 *   `>ctime` or `<ctime`. Their order is checked across the transcript: sorted by their
 *   zxid, times must not go back; the last line lists any pair that does (ZooKeeper: none).
 * - session ids (`ephemeralOwner`, the ConnectResponse's `sessionId`): each server picks its
 *   own, so an id becomes `session(<client name>)` for the client that got it, `0` stays
 *   `0`, any other `session(unknown)`. Passwords become their length (`16 bytes`), or
 *   `16 zero bytes` for a refused session.
 * - child lists (`getChildren`, `getChildren2`, multiRead) and `getEphemerals` lists are
 *   sorted: ZooKeeper returns them in hash-set order and promises no order.
 * - data: text when printable, else `0x<hex>`.
 *
 * Two environment switches help when a comparison fails:
 * - `SYNOD_DIFF_LOG=<file>`: survey mode. Differences are appended to the file instead of
 *   failing; `it.fails` scenarios then report "expected to fail".
 * - `SYNOD_DIFF_TRACE=1`: prints every transcript, one line per step, also of a failed run.
 */

/** One server the scenarios run against: its name and ZooKeeper client address. */
export interface ZkTarget {
  readonly name: 'zookeeper' | 'synod';
  readonly host: string;
  readonly port: number;
}

/** Both servers of a test file: the oracle started before the tests, Synod on first use. */
export interface Servers {
  zookeeper(): ZkTarget;
  /** Rejects (every time) when the Synod member or its ZooKeeper port did not start. */
  synod(): Promise<ZkTarget>;
  /** The oracle's process, for tests that need its 4lw or its pid. */
  readonly oracle: () => ZooKeeperEnsemble;
}

/** How both servers of a test file are configured alike. */
export interface ServerOptions {
  /**
   * The super user's `user:base64(sha1(user:password))`: ZooKeeper's
   * `zookeeper.DigestAuthenticationProvider.superDigest`, Synod's `--zk-super-digest`.
   */
  readonly superDigest?: string;
}

/**
 * Starts the ZooKeeper oracle in `beforeAll` and a Synod member, with a ZooKeeper port, when
 * a test first asks for it; stops both in `afterAll`. Call once at the top of a test file.
 */
export function useServers(options: ServerOptions = {}): Servers {
  let oracle: ZooKeeperEnsemble | undefined;
  let synod: Promise<{cluster: EtcdCluster; target: ZkTarget}> | undefined;
  beforeAll(async () => {
    oracle = await startZooKeeper(
      options.superDigest === undefined ? {} : {superDigest: options.superDigest},
    );
  }, 90_000);
  afterAll(async () => {
    await oracle?.stop();
    const started = await synod?.catch(() => undefined);
    await started?.cluster.stop();
  });
  return {
    zookeeper() {
      const server = oracle?.servers[0];
      if (server === undefined) throw new Error('the ZooKeeper oracle did not start');
      return {name: 'zookeeper', host: server.host, port: server.clientPort};
    },
    oracle() {
      if (oracle === undefined) throw new Error('the ZooKeeper oracle did not start');
      return oracle;
    },
    async synod() {
      synod ??= startSynodWithZooKeeperPort(options);
      return (await synod).target;
    },
  };
}

async function startSynodWithZooKeeperPort(
  options: ServerOptions,
): Promise<{cluster: EtcdCluster; target: ZkTarget}> {
  const [port = 0] = await freePorts(1);
  const cluster = await startSynod({
    extraArgs: [
      `--listen-zk-urls=http://127.0.0.1:${port}`,
      // The oracle's container manager runs this often: containers and TTL nodes go alike.
      `--zk-container-check-interval-ms=${TEST_CONTAINER_CHECK_INTERVAL_MS}`,
      ...(options.superDigest === undefined ? [] : [`--zk-super-digest=${options.superDigest}`]),
    ],
  });
  const target: ZkTarget = {name: 'synod', host: '127.0.0.1', port};
  // The etcd health check passed; the ZooKeeper listener may open a moment later.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const probe = await ZooKeeperClient.connect({...target, keepAlive: false});
      await probe.close();
      return {cluster, target};
    } catch (error) {
      if (Date.now() > deadline) {
        await cluster.stop();
        throw new Error(`Synod's ZooKeeper port ${port} never answered a handshake`, {
          cause: error,
        });
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
}

/** One line of a transcript: what was done, and what came back. */
interface Line {
  readonly step: string;
  /** A reply, for request lines. */
  readonly reply?: Reply<unknown>;
  /** Whether the request was a write, whose reply zxid is its transaction's. */
  readonly write?: boolean;
  /** Anything else the scenario noted (events, inbound order, probes). */
  readonly value?: unknown;
}

/** The client methods a story records, and which of them write. */
const recordedMethods = new Set([
  'create',
  'create2',
  'createContainer',
  'createTTL',
  'delete',
  'exists',
  'getData',
  'setData',
  'getACL',
  'setACL',
  'getChildren',
  'getChildren2',
  'getAllChildrenNumber',
  'getEphemerals',
  'sync',
  'check',
  'multi',
  'multiRead',
  'addWatch',
  'removeWatches',
  'checkWatches',
  'setWatches',
  'setWatches2',
  'auth',
  'whoAmI',
  'reconfig',
  'close',
  'sendRaw',
]);
const writeMethods = new Set([
  'create',
  'create2',
  'createContainer',
  'createTTL',
  'delete',
  'setData',
  'setACL',
  'multi',
]);

function describeArg(arg: unknown): string {
  if (Buffer.isBuffer(arg)) return arg.length > 32 ? `<${arg.length} bytes>` : printable(arg);
  if (typeof arg === 'bigint') return `${arg}n`;
  if (typeof arg === 'string') return JSON.stringify(arg);
  return JSON.stringify(arg, (_k, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : Buffer.isBuffer(v) ? printable(v) : v,
  );
}

function printable(buf: Buffer): string {
  const text = buf.toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : `0x${buf.toString('hex')}`;
}

/**
 * One run of a scenario against one server: it connects named clients, whose requests are
 * recorded as they are made, and notes events and probes, into a transcript.
 */
export class Story {
  private readonly lines: Line[] = [];
  private readonly sessions = new Map<bigint, string>();
  private readonly clients: ZooKeeperClient[] = [];
  private readonly inboundMarks = new Map<ZooKeeperClient, number>();
  private readonly unrecorded = new WeakMap<ZooKeeperClient, ZooKeeperClient>();
  private readonly startedAtMs = Date.now();

  constructor(
    readonly target: ZkTarget,
    /** The scenario's own subtree, the same path on both servers. */
    readonly root: string,
  ) {}

  /** A path under the scenario's root: `path('/a')` is `<root>/a`. */
  path(relative = ''): string {
    return `${this.root}${relative}`;
  }

  /**
   * Connects a client named `name` and records its ConnectResponse. The client's requests
   * are recorded as `<name>.<method>(<args>)`.
   */
  async connect(
    name: string,
    options: Omit<ConnectOptions, 'host' | 'port'> & {readonly port?: number} = {},
  ): Promise<ZooKeeperClient> {
    const client = await ZooKeeperClient.connect({
      ...options,
      host: this.target.host,
      port: options.port ?? this.target.port,
    });
    this.clients.push(client);
    const {sessionId} = client.session;
    if (sessionId !== 0n && !this.sessions.has(sessionId)) this.sessions.set(sessionId, name);
    this.lines.push({step: `connect ${name}`, value: client.session});
    return this.recorded(name, client);
  }

  /**
   * Connects without recording or naming the client: for setting up, or when only what
   * others see of it matters. Its session id still gets the alias `name`.
   */
  async connectQuietly(name: string): Promise<ZooKeeperClient> {
    const client = await ZooKeeperClient.connect({host: this.target.host, port: this.target.port});
    this.clients.push(client);
    this.sessions.set(client.session.sessionId, name);
    return client;
  }

  private recorded(name: string, client: ZooKeeperClient): ZooKeeperClient {
    const proxy = new Proxy(client, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof property !== 'string' || typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (!recordedMethods.has(property)) return method.bind(target);
        return async (...args: unknown[]) => {
          const reply = (await method.apply(target, args)) as Reply<unknown>;
          // A relative zxid is each server's own number: the label says what it is instead.
          const shown = property.startsWith('setWatches')
            ? ['<last zxid seen>', ...args.slice(1)]
            : args;
          const step = `${name}.${property}(${shown.map(describeArg).join(', ')})`;
          this.lines.push({step, reply, write: writeMethods.has(property)});
          return reply;
        };
      },
    });
    this.unrecorded.set(proxy, client);
    return proxy;
  }

  /** Notes a value the scenario observed. */
  note(step: string, value: unknown): void {
    this.lines.push({step, value});
  }

  /** Waits for `count` watch events on `client` and notes every event since the last take. */
  async events(name: string, client: ZooKeeperClient, count: number): Promise<WatchEvent[]> {
    const events = await client.takeEvents(count);
    this.lines.push({step: `${name} events`, value: events});
    return events;
  }

  /**
   * Notes what `client` received since the last call, replies (by xid) and events
   * interleaved in arrival order: how events are ordered against replies.
   */
  inbound(name: string, client: ZooKeeperClient): Inbound[] {
    const from = this.inboundMarks.get(client) ?? 0;
    const received = client.inbound.slice(from);
    this.inboundMarks.set(client, client.inbound.length);
    this.lines.push({step: `${name} received`, value: received});
    return received;
  }

  /**
   * Polls `probe` until `done` holds of its result (or `timeoutMs` passes) and notes only
   * whether it came to hold: how many polls it took is timing, not behaviour. The probe gets
   * the unrecorded client behind `client`.
   */
  async until<T>(
    step: string,
    client: ZooKeeperClient,
    probe: (quiet: ZooKeeperClient) => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs = 10_000,
  ): Promise<boolean> {
    const quiet = this.unrecorded.get(client) ?? client;
    const deadline = Date.now() + timeoutMs;
    let held = done(await probe(quiet));
    while (!held && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100));
      held = done(await probe(quiet));
    }
    this.lines.push({step, value: held ? 'came to hold' : `did not hold within ${timeoutMs} ms`});
    return held;
  }

  /** Disconnects every client still connected (without closing sessions). */
  end(): void {
    for (const client of this.clients) client.disconnect();
  }

  /** The transcript, normalised as described at the top of this file. */
  transcript(): unknown[] {
    return normaliseTranscript(this.lines, this.sessions, {
      fromMs: this.startedAtMs - 2000,
      toMs: Date.now() + 2000,
    });
  }
}

const statZxidKeys = new Set(['czxid', 'mzxid', 'pzxid']);

function isStat(value: object): value is Record<string, unknown> & {czxid: bigint} {
  return 'czxid' in value && 'pzxid' in value && 'ephemeralOwner' in value;
}

function isEvent(value: object): value is WatchEvent {
  return 'type' in value && 'state' in value && 'path' in value && 'zxid' in value;
}

/**
 * Whether a line is a write that changed nodes: its reply zxid names that change. A failed
 * multi (err 0, but results of type -1) and an empty one change nothing.
 */
function changedNodes(line: Line): line is Line & {reply: {kind: 'reply'; zxid: bigint}} {
  const r = line.reply;
  if (line.write !== true || r?.kind !== 'reply' || r.err !== 0) return false;
  if (!Array.isArray(r.value)) return true;
  const results = r.value as {type: number}[];
  return results.length > 0 && results.every(result => result.type !== -1);
}

/** The normalisation, in one place: see the comment at the top of this file. */
function normaliseTranscript(
  lines: readonly Line[],
  sessions: ReadonlyMap<bigint, string>,
  window: {readonly fromMs: number; readonly toMs: number},
): unknown[] {
  // Pass 1: every zxid that names a change (Stat fields, events, successful writes' replies).
  const dataZxids = new Set<bigint>();
  const collect = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return;
    if (Array.isArray(value)) {
      value.forEach(collect);
      return;
    }
    if (isStat(value)) {
      for (const key of statZxidKeys) dataZxids.add(value[key] as bigint);
    } else if (isEvent(value)) {
      dataZxids.add(value.zxid);
    }
    Object.values(value).forEach(collect);
  };
  for (const line of lines) {
    collect(line.value);
    if (line.reply?.kind === 'reply') {
      collect(line.reply.value);
      if (changedNodes(line)) dataZxids.add(line.reply.zxid);
    }
  }
  const ranked = [...dataZxids].filter(z => z > 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const zxidName = (zxid: bigint): string | number =>
    zxid <= 0n ? Number(zxid) : `zxid#${ranked.indexOf(zxid) + 1}`;
  const sessionName = (id: bigint): string | number =>
    id === 0n ? 0 : `session(${sessions.get(id) ?? 'unknown'})`;
  const times: {zxid: bigint; ms: bigint; what: string}[] = [];
  let newestSeen = 0n;

  const stat = (s: Record<string, unknown>, where: string): Record<string, unknown> => {
    const czxid = s.czxid as bigint;
    const mzxid = s.mzxid as bigint;
    const ctime = s.ctime as bigint;
    const mtime = s.mtime as bigint;
    for (const key of statZxidKeys) {
      const z = s[key] as bigint;
      if (z > newestSeen) newestSeen = z;
    }
    if (ctime !== 0n) times.push({zxid: czxid, ms: ctime, what: `${where} ctime`});
    if (mtime !== 0n) times.push({zxid: mzxid, ms: mtime, what: `${where} mtime`});
    const inWindow = ctime >= BigInt(window.fromMs) && ctime <= BigInt(window.toMs);
    return {
      czxid: zxidName(czxid),
      mzxid: zxidName(mzxid),
      pzxid: zxidName(s.pzxid as bigint),
      ctime: ctime === 0n ? 0 : inWindow ? 'set' : `outside the test: ${ctime}`,
      mtime: mtime === ctime ? '=ctime' : mtime > ctime ? '>ctime' : '<ctime',
      version: s.version,
      cversion: s.cversion,
      aversion: s.aversion,
      ephemeralOwner: sessionName(s.ephemeralOwner as bigint),
      dataLength: s.dataLength,
      numChildren: s.numChildren,
    };
  };

  const value = (v: unknown, key: string, where: string): unknown => {
    if (typeof v === 'bigint') return Number(v);
    if (Buffer.isBuffer(v)) {
      if (key === 'password') {
        return v.every(byte => byte === 0) ? `${v.length} zero bytes` : `${v.length} bytes`;
      }
      return printable(v);
    }
    if (Array.isArray(v)) {
      const items = v.map(item => value(item, key, where));
      if (key === 'children' || key === 'ephemerals') items.sort();
      return items;
    }
    if (v === null || typeof v !== 'object') return v;
    if (isStat(v)) return stat(v, where);
    if (isEvent(v)) {
      if (v.zxid > newestSeen) newestSeen = v.zxid;
      return {type: eventName(v.type), state: v.state, path: v.path, zxid: zxidName(v.zxid)};
    }
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (k === 'sessionId') out[k] = sessionName(item as bigint);
      else if (k === 'err' && typeof item === 'number') out[k] = errorName(item);
      else out[k] = value(item, k, where);
    }
    return out;
  };

  const reply = (r: Reply<unknown>, changed: boolean, where: string): unknown => {
    if (r.kind === 'closed') return 'connection closed before a reply';
    if (r.kind === 'timeout') return 'no reply in time';
    const body = r.value === undefined ? {} : {value: value(r.value, '', where)};
    let zxid: string | number;
    if (r.zxid <= 0n) {
      zxid = Number(r.zxid);
    } else if (changed) {
      zxid = zxidName(r.zxid);
    } else {
      zxid = r.zxid >= newestSeen ? 'current' : `stale (${r.zxid} < ${newestSeen})`;
    }
    if (r.zxid > newestSeen) newestSeen = r.zxid;
    return {err: errorName(r.err), zxid, ...body};
  };

  const out: unknown[] = lines.map(line =>
    line.reply === undefined
      ? {step: line.step, value: value(line.value, '', line.step)}
      : {step: line.step, reply: reply(line.reply, changedNodes(line), line.step)},
  );
  times.sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
  const backwards: string[] = [];
  for (let i = 1; i < times.length; i++) {
    const before = times[i - 1];
    const after = times[i];
    if (before !== undefined && after !== undefined && after.ms < before.ms) {
      backwards.push(`${after.what} is before ${before.what}`);
    }
  }
  out.push({step: 'times follow zxid order', value: backwards});
  return out;
}

/** One line per transcript line, for reading a story. */
function traceOf(transcript: readonly unknown[]): string {
  return transcript.map(line => JSON.stringify(line)).join('\n');
}

function jsonOf(value: unknown): string {
  return JSON.stringify(value, null, 1);
}

/** The transcripts ZooKeeper gave, by scenario name, for the Synod run that follows. */
const oracleTranscripts = new Map<string, unknown[]>();

function slug(name: string): string {
  return `/${name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)}`;
}

async function tell(
  target: ZkTarget,
  name: string,
  run: (story: Story) => Promise<void>,
): Promise<unknown[]> {
  const story = new Story(target, slug(name));
  try {
    await run(story);
  } finally {
    story.end();
    if (process.env.SYNOD_DIFF_TRACE !== undefined) {
      console.log(`${target.name}: ${name}\n${traceOf(story.transcript())}`);
    }
  }
  return story.transcript();
}

/** How a scenario's Synod run is expected to end. */
export interface SynodExpectation {
  /** Why Synod does not yet answer this scenario as ZooKeeper does: the run is `it.fails`. */
  readonly fails?: string;
}

/**
 * Declares one scenario as two tests: `<name> (ZooKeeper)` runs it on the oracle and keeps
 * the transcript; `<name> (Synod = ZooKeeper)` runs it on Synod and expects the same
 * transcript. The scenario's own `expect`s hold on both servers.
 */
export function scenario(
  servers: Servers,
  name: string,
  run: (story: Story) => Promise<void>,
  synod: SynodExpectation = {},
  timeoutMs = 30_000,
): void {
  it(
    `${name} (ZooKeeper)`,
    async () => {
      const transcript = await tell(servers.zookeeper(), name, run);
      oracleTranscripts.set(name, transcript);
    },
    timeoutMs,
  );
  const synodTest = synod.fails === undefined ? it : it.fails;
  synodTest(
    `${name} (Synod = ZooKeeper)${synod.fails === undefined ? '' : `: fails, ${synod.fails}`}`,
    async () => {
      const expected = oracleTranscripts.get(name);
      if (expected === undefined) throw new Error(`the ZooKeeper run of "${name}" did not finish`);
      const actual = await tell(await servers.synod(), name, run);
      sameTranscript(name, expected, actual);
    },
    timeoutMs,
  );
}

/** Expects Synod's transcript to equal ZooKeeper's (or, in survey mode, logs the difference). */
export function sameTranscript(label: string, zookeeper: unknown, synod: unknown): void {
  const file = process.env.SYNOD_DIFF_LOG;
  if (file !== undefined && file !== '') {
    const z = jsonOf(zookeeper);
    const s = jsonOf(synod);
    if (z !== s) appendFileSync(file, `### ${label}\nzookeeper: ${z}\nsynod:     ${s}\n\n`);
    return;
  }
  expect(synod, `Synod differs from ZooKeeper in "${label}"`).toEqual(zookeeper);
}
