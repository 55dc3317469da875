import net from 'node:net';
import tls from 'node:tls';

import {CreateMode, JuteReader, JuteWriter, OpCode, openAcl} from './zookeeper-jute.js';
import type {Acl, Stat} from './zookeeper-jute.js';

/**
 * A small ZooKeeper client speaking the 3.8 wire protocol byte for byte, for tests that
 * compare servers: every opcode a 3.8 client may send (create2, createContainer, createTTL,
 * multiRead, addWatch, setWatches2, whoAmI, ... which npm's clients lack), replies handed
 * back as they came (reply-header zxid and error code, decoded body) instead of thrown, and
 * every inbound packet kept in arrival order, so a test can see that a watch event came
 * before the reply that follows it.
 *
 * It does not retry, reconnect or hide anything: a reconnect is a new `connect` with the old
 * session id and password, and watches are carried over by sending setWatches by hand.
 *
 * Example:
 * ```ts
 * const zk = await ZooKeeperClient.connect({host: '127.0.0.1', port: 2181});
 * const created = await zk.create2('/a', 'x', CreateMode.ephemeral);
 * // {kind: 'reply', zxid: 5n, err: 0, value: {path: '/a', stat: {...}}}
 * await zk.close();
 * ```
 */

/** What `connect` sends. */
export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Requested session timeout, 30 s by default (the server clamps it). */
  readonly sessionTimeoutMs?: number;
  /** 0 for a new session, or the id of one to resume. */
  readonly sessionId?: bigint;
  /** The session's password when resuming, 16 zero bytes by default. */
  readonly password?: Buffer;
  readonly lastZxidSeen?: bigint;
  readonly readOnly?: boolean;
  /** Leave out the trailing read-only byte, as clients before 3.3 did. */
  readonly omitReadOnlyByte?: boolean;
  /** How long to wait for each reply (and the handshake), 3 s by default. */
  readonly replyTimeoutMs?: number;
  /** Send pings every third of the negotiated timeout while connected; true by default. */
  readonly keepAlive?: boolean;
  /** Connect over TLS with these options (CA, client certificate and key), to a secure port. */
  readonly tls?: tls.ConnectionOptions;
}

/** The server's `ConnectResponse`. */
export interface ConnectResponse {
  readonly protocolVersion: number;
  readonly timeOutMs: number;
  readonly sessionId: bigint;
  readonly password: Buffer;
  /** Undefined when the server left the byte out. */
  readonly readOnly: boolean | undefined;
}

/**
 * The outcome of one request: the reply (header zxid, error code, decoded body when one
 * came), or the connection closing first, or no answer within the timeout.
 */
export type Reply<T> =
  | {readonly kind: 'reply'; readonly zxid: bigint; readonly err: number; readonly value?: T}
  | {readonly kind: 'closed'}
  | {readonly kind: 'timeout'};

/** A watch notification (xid -1). */
export interface WatchEvent {
  readonly type: number;
  readonly state: number;
  readonly path: string;
  /** The reply header's zxid, -1 for ZooKeeper's notifications. */
  readonly zxid: bigint;
}

/** One packet from the server, in arrival order: a reply (by xid) or a watch event. */
export type Inbound =
  | {readonly reply: number; readonly err: number}
  | {readonly event: WatchEvent}
  | {readonly unparsed: string};

/** One operation of a `multi` (writes) or a `multiRead` (getData, getChildren). */
export type MultiOp =
  | {
      readonly op: 'create' | 'create2' | 'createContainer';
      readonly path: string;
      readonly data?: string | Buffer;
      readonly mode?: number;
      readonly acl?: readonly Acl[];
    }
  | {
      readonly op: 'createTTL';
      readonly path: string;
      readonly data?: string | Buffer;
      readonly mode: number;
      readonly ttlMs: bigint;
      readonly acl?: readonly Acl[];
    }
  | {readonly op: 'delete'; readonly path: string; readonly version?: number}
  | {
      readonly op: 'setData';
      readonly path: string;
      readonly data: string | Buffer;
      readonly version?: number;
    }
  | {readonly op: 'check'; readonly path: string; readonly version: number}
  | {readonly op: 'getData' | 'getChildren'; readonly path: string};

/** One result of a `multi` or `multiRead`, as `MultiResponse` carries it. */
export interface MultiResult {
  /** The opcode of the result record; -1 (`error`) for a failed or rolled-back op. */
  readonly type: number;
  readonly err?: number;
  readonly path?: string;
  readonly stat?: Stat;
  readonly data?: Buffer | null;
  readonly children?: string[];
}

/** Pending watches a reconnecting client re-registers (`SetWatches2`). */
export interface WatchSet {
  readonly data?: readonly string[];
  readonly exist?: readonly string[];
  readonly child?: readonly string[];
  readonly persistent?: readonly string[];
  readonly persistentRecursive?: readonly string[];
}

type Decode<T> = (reader: JuteReader) => T;

interface Pending {
  readonly decode: Decode<unknown>;
  readonly resolve: (reply: Reply<unknown>) => void;
  readonly timer: NodeJS.Timeout;
}

const xidNotification = -1;
const xidPing = -2;
const xidAuth = -4;
const xidSetWatches = -8;

function bytesOf(data: string | Buffer | null | undefined): Buffer | null {
  if (data === null) return null;
  if (data === undefined) return Buffer.alloc(0);
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

const decodeStat: Decode<{stat: Stat}> = r => ({stat: r.stat()});
const decodePath: Decode<{path: string}> = r => ({path: r.string() ?? ''});
const decodePathStat: Decode<{path: string; stat: Stat}> = r => ({
  path: r.string() ?? '',
  stat: r.stat(),
});
const decodeData: Decode<{data: Buffer | null; stat: Stat}> = r => ({
  data: r.buffer(),
  stat: r.stat(),
});
const decodeChildren: Decode<{children: string[]}> = r => ({children: r.strings()});
const decodeNothing: Decode<undefined> = () => undefined;

/** Splits a byte stream into length-prefixed frames. */
class FrameReader {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readInt32BE(0);
      if (length < 0 || this.pending.length < 4 + length) break;
      frames.push(this.pending.subarray(4, 4 + length));
      this.pending = this.pending.subarray(4 + length);
    }
    return frames;
  }
}

/** One connection to a ZooKeeper server, after a handshake. */
export class ZooKeeperClient {
  /** What the server answered to the handshake. */
  readonly session: ConnectResponse;
  /** Every packet received after the handshake, pings excepted, in arrival order. */
  readonly inbound: Inbound[] = [];
  private readonly events: WatchEvent[] = [];
  private eventsTaken = 0;
  private wakeEvents: (() => void) | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextXid = 1;
  private pingTimer: NodeJS.Timeout | undefined;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    frames: FrameReader,
    session: ConnectResponse,
    private readonly replyTimeoutMs: number,
    keepAlive: boolean,
  ) {
    this.session = session;
    this.closedPromise = new Promise(resolve => {
      socket.once('close', () => {
        this.isClosed = true;
        clearInterval(this.pingTimer);
        for (const [xid, pending] of this.pending) {
          clearTimeout(pending.timer);
          this.pending.delete(xid);
          pending.resolve({kind: 'closed'});
        }
        this.wakeEvents?.();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) this.handleFrame(frame);
    });
    if (keepAlive && session.timeOutMs > 0) {
      this.pingTimer = setInterval(
        () => {
          if (!this.isClosed) socket.write(new JuteWriter().int(xidPing).int(OpCode.ping).frame());
        },
        Math.max(100, Math.floor(session.timeOutMs / 3)),
      );
      this.pingTimer.unref();
    }
  }

  /**
   * Opens a connection and sends a `ConnectRequest`. Resolves once the `ConnectResponse` is
   * read, also when it refuses the session (timeout 0): the server then closes the
   * connection, which {@link closed} reports. Rejects when the connection closes or stays
   * silent before any answer.
   */
  static async connect(options: ConnectOptions): Promise<ZooKeeperClient> {
    const replyTimeoutMs = options.replyTimeoutMs ?? 3000;
    const socket = await openSocket(options.host, options.port, replyTimeoutMs, options.tls);
    const frames = new FrameReader();
    const request = new JuteWriter()
      .int(0)
      .long(options.lastZxidSeen ?? 0n)
      .int(options.sessionTimeoutMs ?? 30_000)
      .long(options.sessionId ?? 0n)
      .buffer(options.password ?? Buffer.alloc(16));
    if (options.omitReadOnlyByte !== true) request.bool(options.readOnly ?? false);
    const response = await new Promise<{session: ConnectResponse; rest: Buffer[]}>(
      (resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          socket.destroy();
          reject(new Error(`no ConnectResponse within ${replyTimeoutMs} ms`));
        }, replyTimeoutMs);
        const onData = (chunk: Buffer): void => {
          const [first, ...rest] = frames.push(chunk);
          if (first === undefined) return;
          cleanup();
          try {
            resolve({session: decodeConnectResponse(first), rest});
          } catch (error) {
            socket.destroy();
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        };
        const onClose = (): void => {
          cleanup();
          reject(new Error('the server closed the connection before a ConnectResponse'));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          socket.off('data', onData);
          socket.off('close', onClose);
        };
        socket.on('data', onData);
        socket.on('close', onClose);
        socket.write(request.frame());
      },
    );
    const client = new ZooKeeperClient(
      socket,
      frames,
      response.session,
      replyTimeoutMs,
      options.keepAlive ?? true,
    );
    for (const frame of response.rest) client.handleFrame(frame);
    return client;
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves true once the connection closes, or false after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.closedPromise.then(() => true),
      new Promise<boolean>(resolve => {
        timer = setTimeout(() => {
          resolve(false);
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return closed;
  }

  private handleFrame(frame: Buffer): void {
    let xid: number;
    let zxid: bigint;
    let err: number;
    const reader = new JuteReader(frame);
    try {
      xid = reader.int();
      zxid = reader.long();
      err = reader.int();
    } catch {
      this.inbound.push({unparsed: frame.toString('hex')});
      return;
    }
    if (xid === xidPing) return;
    if (xid === xidNotification) {
      const event = {type: reader.int(), state: reader.int(), path: reader.string() ?? '', zxid};
      this.inbound.push({event});
      this.events.push(event);
      this.wakeEvents?.();
      return;
    }
    this.inbound.push({reply: xid, err});
    const pending = this.pending.get(xid);
    if (pending === undefined) return;
    this.pending.delete(xid);
    clearTimeout(pending.timer);
    let value: unknown;
    if (reader.remaining > 0) {
      try {
        value = pending.decode(reader);
      } catch {
        value = {undecodable: frame.toString('hex')};
      }
    }
    pending.resolve(
      value === undefined ? {kind: 'reply', zxid, err} : {kind: 'reply', zxid, err, value},
    );
  }

  /**
   * Sends one request and waits for its reply. `xid` defaults to the next positive one; the
   * protocol's reserved xids (auth -4, setWatches -8) are passed by their methods.
   */
  call<T>(op: number, body: JuteWriter, decode: Decode<T>, xid?: number): Promise<Reply<T>> {
    const id = xid ?? this.nextXid++;
    const frame = new JuteWriter().int(id).int(op).raw(body.bytes()).frame();
    return this.send(id, frame, decode);
  }

  /**
   * Sends bytes as they are and waits for a reply with `xid`: for requests no well-behaved
   * client sends (unknown opcodes, lying lengths, truncated records).
   */
  sendRaw(frame: Buffer, xid: number): Promise<Reply<Buffer>> {
    return this.send(xid, frame, r => r.rest());
  }

  private send<T>(xid: number, frame: Buffer, decode: Decode<T>): Promise<Reply<T>> {
    if (this.isClosed) return Promise.resolve({kind: 'closed'});
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        resolve({kind: 'timeout'});
      }, this.replyTimeoutMs);
      this.pending.set(xid, {decode, resolve: resolve as (reply: Reply<unknown>) => void, timer});
      this.socket.write(frame);
    });
  }

  /**
   * Waits until `count` watch events arrived since the last take (or `timeoutMs` passed),
   * then `quietMs` more for unexpected extra ones, and returns every event since the last take.
   */
  async takeEvents(count: number, timeoutMs = 3000, quietMs = 100): Promise<WatchEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (
      this.events.length - this.eventsTaken < count &&
      Date.now() < deadline &&
      !this.isClosed
    ) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>(resolve => {
        this.wakeEvents = resolve;
        timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
      clearTimeout(timer);
    }
    if (quietMs > 0) await new Promise(resolve => setTimeout(resolve, quietMs));
    const taken = this.events.slice(this.eventsTaken);
    this.eventsTaken = this.events.length;
    return taken;
  }

  create(
    path: string,
    data: string | Buffer | null = '',
    mode: number = CreateMode.persistent,
    acl: readonly Acl[] = openAcl,
  ): Promise<Reply<{path: string}>> {
    const body = new JuteWriter().string(path).buffer(bytesOf(data)).acls(acl).int(mode);
    return this.call(OpCode.create, body, decodePath);
  }

  create2(
    path: string,
    data: string | Buffer | null = '',
    mode: number = CreateMode.persistent,
    acl: readonly Acl[] = openAcl,
  ): Promise<Reply<{path: string; stat: Stat}>> {
    const body = new JuteWriter().string(path).buffer(bytesOf(data)).acls(acl).int(mode);
    return this.call(OpCode.create2, body, decodePathStat);
  }

  createContainer(
    path: string,
    data: string | Buffer | null = '',
    acl: readonly Acl[] = openAcl,
  ): Promise<Reply<{path: string; stat: Stat}>> {
    const body = new JuteWriter()
      .string(path)
      .buffer(bytesOf(data))
      .acls(acl)
      .int(CreateMode.container);
    return this.call(OpCode.createContainer, body, decodePathStat);
  }

  createTTL(
    path: string,
    data: string | Buffer | null,
    mode: number,
    ttlMs: bigint,
    acl: readonly Acl[] = openAcl,
  ): Promise<Reply<{path: string; stat: Stat}>> {
    const body = new JuteWriter()
      .string(path)
      .buffer(bytesOf(data))
      .acls(acl)
      .int(mode)
      .long(ttlMs);
    return this.call(OpCode.createTTL, body, decodePathStat);
  }

  delete(path: string, version = -1): Promise<Reply<undefined>> {
    return this.call(OpCode.delete, new JuteWriter().string(path).int(version), decodeNothing);
  }

  exists(path: string, watch = false): Promise<Reply<{stat: Stat}>> {
    return this.call(OpCode.exists, new JuteWriter().string(path).bool(watch), decodeStat);
  }

  getData(path: string, watch = false): Promise<Reply<{data: Buffer | null; stat: Stat}>> {
    return this.call(OpCode.getData, new JuteWriter().string(path).bool(watch), decodeData);
  }

  setData(path: string, data: string | Buffer | null, version = -1): Promise<Reply<{stat: Stat}>> {
    const body = new JuteWriter().string(path).buffer(bytesOf(data)).int(version);
    return this.call(OpCode.setData, body, decodeStat);
  }

  getACL(path: string): Promise<Reply<{acl: Acl[]; stat: Stat}>> {
    return this.call(OpCode.getACL, new JuteWriter().string(path), r => ({
      acl: r.acls(),
      stat: r.stat(),
    }));
  }

  setACL(path: string, acl: readonly Acl[], version = -1): Promise<Reply<{stat: Stat}>> {
    const body = new JuteWriter().string(path).acls(acl).int(version);
    return this.call(OpCode.setACL, body, decodeStat);
  }

  getChildren(path: string, watch = false): Promise<Reply<{children: string[]}>> {
    return this.call(OpCode.getChildren, new JuteWriter().string(path).bool(watch), decodeChildren);
  }

  getChildren2(path: string, watch = false): Promise<Reply<{children: string[]; stat: Stat}>> {
    return this.call(OpCode.getChildren2, new JuteWriter().string(path).bool(watch), r => ({
      children: r.strings(),
      stat: r.stat(),
    }));
  }

  getAllChildrenNumber(path: string): Promise<Reply<{totalNumber: number}>> {
    return this.call(OpCode.getAllChildrenNumber, new JuteWriter().string(path), r => ({
      totalNumber: r.int(),
    }));
  }

  getEphemerals(prefixPath: string): Promise<Reply<{ephemerals: string[]}>> {
    return this.call(OpCode.getEphemerals, new JuteWriter().string(prefixPath), r => ({
      ephemerals: r.strings(),
    }));
  }

  sync(path: string): Promise<Reply<{path: string}>> {
    return this.call(OpCode.sync, new JuteWriter().string(path), decodePath);
  }

  check(path: string, version: number): Promise<Reply<undefined>> {
    return this.call(OpCode.check, new JuteWriter().string(path).int(version), decodeNothing);
  }

  multi(ops: readonly MultiOp[]): Promise<Reply<MultiResult[]>> {
    return this.call(OpCode.multi, encodeMulti(ops), decodeMulti);
  }

  multiRead(ops: readonly MultiOp[]): Promise<Reply<MultiResult[]>> {
    return this.call(OpCode.multiRead, encodeMulti(ops), decodeMulti);
  }

  addWatch(path: string, mode: number): Promise<Reply<undefined>> {
    return this.call(OpCode.addWatch, new JuteWriter().string(path).int(mode), decodeNothing);
  }

  removeWatches(path: string, watcherType: number): Promise<Reply<undefined>> {
    const body = new JuteWriter().string(path).int(watcherType);
    return this.call(OpCode.removeWatches, body, decodeNothing);
  }

  checkWatches(path: string, watcherType: number): Promise<Reply<undefined>> {
    const body = new JuteWriter().string(path).int(watcherType);
    return this.call(OpCode.checkWatches, body, decodeNothing);
  }

  /** `SetWatches` (101) with xid -8, as a 3.5 client re-registers data, exist and child watches. */
  setWatches(relativeZxid: bigint, watches: WatchSet): Promise<Reply<undefined>> {
    const body = new JuteWriter()
      .long(relativeZxid)
      .strings(watches.data ?? [])
      .strings(watches.exist ?? [])
      .strings(watches.child ?? []);
    return this.call(OpCode.setWatches, body, decodeNothing, xidSetWatches);
  }

  /** `SetWatches2` (105) with xid -8, as a 3.6+ client re-registers, persistent watches too. */
  setWatches2(relativeZxid: bigint, watches: WatchSet): Promise<Reply<undefined>> {
    const body = new JuteWriter()
      .long(relativeZxid)
      .strings(watches.data ?? [])
      .strings(watches.exist ?? [])
      .strings(watches.child ?? [])
      .strings(watches.persistent ?? [])
      .strings(watches.persistentRecursive ?? []);
    return this.call(OpCode.setWatches2, body, decodeNothing, xidSetWatches);
  }

  /** `AuthPacket` with xid -4. */
  auth(scheme: string, credentials: string | Buffer): Promise<Reply<undefined>> {
    const body = new JuteWriter().int(0).string(scheme).buffer(bytesOf(credentials));
    return this.call(OpCode.auth, body, decodeNothing, xidAuth);
  }

  whoAmI(): Promise<Reply<{clientInfo: {authScheme: string; user: string}[]}>> {
    return this.call(OpCode.whoAmI, new JuteWriter(), r => {
      const count = r.int();
      return {
        clientInfo: Array.from({length: Math.max(count, 0)}, () => ({
          authScheme: r.string() ?? '',
          user: r.string() ?? '',
        })),
      };
    });
  }

  /** `reconfig` with no change asked: servers with reconfig disabled refuse it. */
  reconfig(): Promise<Reply<{data: Buffer | null; stat: Stat}>> {
    const body = new JuteWriter().string(null).string(null).string(null).long(-1n);
    return this.call(OpCode.reconfig, body, decodeData);
  }

  /** Sends `closeSession`, waits for its reply, then closes the connection. */
  async close(): Promise<Reply<undefined>> {
    const reply = await this.call(OpCode.closeSession, new JuteWriter(), decodeNothing);
    this.disconnect();
    await this.closedPromise;
    return reply;
  }

  /** Closes the connection without ending the session, as a network failure would. */
  disconnect(): void {
    clearInterval(this.pingTimer);
    this.socket.destroy();
  }
}

/** What {@link exchangeRaw} saw. */
export interface RawExchange {
  /** Every byte the server sent, in order. */
  readonly received: Buffer;
  /** Whether the server closed the connection within the wait. */
  readonly closed: boolean;
}

/**
 * Opens a connection, sends `bytes` as they are (no handshake unless they hold one), and
 * collects what the server sends back until it closes the connection or `waitMs` passes.
 * With `endAfter`, the client half-closes after sending, as a client that gave up would.
 */
export async function exchangeRaw(
  host: string,
  port: number,
  bytes: Buffer,
  options: {readonly waitMs?: number; readonly endAfter?: boolean} = {},
): Promise<RawExchange> {
  const socket = await openSocket(host, port, 3000);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<boolean>(resolve =>
    socket.once('close', () => {
      resolve(true);
    }),
  );
  socket.write(bytes);
  if (options.endAfter === true) socket.end();
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    closed,
    new Promise<boolean>(resolve => {
      timer = setTimeout(() => {
        resolve(false);
      }, options.waitMs ?? 2000);
    }),
  ]);
  clearTimeout(timer);
  socket.destroy();
  return {received: Buffer.concat(chunks), closed: result};
}

function openSocket(
  host: string,
  port: number,
  timeoutMs: number,
  secure?: tls.ConnectionOptions,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      secure === undefined ? net.connect({host, port}) : tls.connect({...secure, host, port});
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`could not connect to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(secure === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      // Resets after close are the server's business; the close event reports them.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function decodeConnectResponse(frame: Buffer): ConnectResponse {
  const r = new JuteReader(frame);
  const protocolVersion = r.int();
  const timeOutMs = r.int();
  const sessionId = r.long();
  const password = r.buffer() ?? Buffer.alloc(0);
  const readOnly = r.remaining > 0 ? r.bool() : undefined;
  return {protocolVersion, timeOutMs, sessionId, password, readOnly};
}

const multiOpCodes: Record<MultiOp['op'], number> = {
  create: OpCode.create,
  create2: OpCode.create2,
  createContainer: OpCode.createContainer,
  createTTL: OpCode.createTTL,
  delete: OpCode.delete,
  setData: OpCode.setData,
  check: OpCode.check,
  getData: OpCode.getData,
  getChildren: OpCode.getChildren,
};

/** `MultiOperationRecord`: each op behind a `MultiHeader{type, false, -1}`, then `{-1, true, -1}`. */
function encodeMulti(ops: readonly MultiOp[]): JuteWriter {
  const w = new JuteWriter();
  for (const op of ops) {
    w.int(multiOpCodes[op.op]).bool(false).int(-1);
    switch (op.op) {
      case 'create':
      case 'create2':
      case 'createContainer':
        w.string(op.path)
          .buffer(bytesOf(op.data))
          .acls(op.acl ?? openAcl)
          .int(op.op === 'createContainer' ? CreateMode.container : (op.mode ?? 0));
        break;
      case 'createTTL':
        w.string(op.path)
          .buffer(bytesOf(op.data))
          .acls(op.acl ?? openAcl)
          .int(op.mode)
          .long(op.ttlMs);
        break;
      case 'delete':
        w.string(op.path).int(op.version ?? -1);
        break;
      case 'setData':
        w.string(op.path)
          .buffer(bytesOf(op.data))
          .int(op.version ?? -1);
        break;
      case 'check':
        w.string(op.path).int(op.version);
        break;
      case 'getData':
      case 'getChildren':
        w.string(op.path).bool(false);
        break;
    }
  }
  return w.int(-1).bool(true).int(-1);
}

/** `MultiResponse`: each result behind a `MultiHeader{type, done, err}`, until `done`. */
function decodeMulti(r: JuteReader): MultiResult[] {
  const results: MultiResult[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) return results;
    switch (type) {
      case OpCode.create:
        results.push({type, path: r.string() ?? ''});
        break;
      case OpCode.create2:
      case OpCode.createContainer:
      case OpCode.createTTL:
        results.push({type, path: r.string() ?? '', stat: r.stat()});
        break;
      case OpCode.setData:
        results.push({type, stat: r.stat()});
        break;
      case OpCode.getData:
        results.push({type, data: r.buffer(), stat: r.stat()});
        break;
      case OpCode.getChildren:
        results.push({type, children: r.strings()});
        break;
      case OpCode.error:
        results.push({type, err: r.int()});
        break;
      default:
        results.push({type, ...(err === -1 ? {} : {err})});
    }
  }
}
