import net from 'node:net';

import {ZkProtocol} from '@synod/proto';

/** ZooKeeper's opcodes (`ZooDefs.OpCode`). */
const OP = ZkProtocol.op;

/** KeeperException.Code values the bench tells apart. */
export const ZK_NODE_EXISTS = -110;

/** A reply with a non-zero error code in its header. */
export class ZkReplyError extends Error {
  override name = 'ZkReplyError';
  constructor(
    readonly code: number,
    op: string,
    path: string,
  ) {
    super(`ZooKeeper ${op} ${path}: error ${code}`);
  }
}

/** world:anyone with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`). */
const OPEN_ACL_BYTES = 4 + 4 + 4 + 'world'.length + 4 + 'anyone'.length;

/**
 * One ZooKeeper session over one TCP connection, for load generation: it pipelines requests
 * (any number in flight, matched to replies by xid, which ZooKeeper answers in order), keeps
 * the session alive with pings, and hands watch notifications to {@link onNotification}. It
 * speaks just enough of the 3.8 wire protocol for create, getData (with or without a watch),
 * setData and delete of persistent nodes with an open ACL; requests are encoded straight
 * into one buffer each.
 */
export class ZkSession {
  private nextXid = 1;
  private readonly waiting = new Map<
    number,
    {resolve: (body: Buffer) => void; reject: (e: Error) => void; op: string; path: string}
  >();
  private pending = Buffer.alloc(0);
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Called with each watch notification's event type and path (xid -1). */
  onNotification: ((type: number, path: string) => void) | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly endpoint: string,
  ) {}

  /** Connects to `host:port` and opens a new session of `timeoutMs`. */
  static async connect(endpoint: string, timeoutMs = 30_000): Promise<ZkSession> {
    const colon = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(endpoint.slice(colon + 1));
    const socket = net.connect({host, port});
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const session = new ZkSession(socket, endpoint);
    // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
    const body = Buffer.alloc(4 + 8 + 4 + 8 + 4 + 16 + 1);
    body.writeInt32BE(timeoutMs, 12);
    body.writeInt32BE(16, 24);
    const negotiatedMs = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        session.pending = Buffer.concat([session.pending, chunk]);
        if (session.pending.length < 4) return;
        const length = session.pending.readInt32BE(0);
        if (session.pending.length < 4 + length) return;
        socket.off('data', onData);
        const negotiated = session.pending.readInt32BE(8);
        session.pending = session.pending.subarray(4 + length);
        if (negotiated <= 0) reject(new Error(`ZooKeeper at ${endpoint} refused the session`));
        else resolve(negotiated);
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => {
        reject(new Error(`ZooKeeper at ${endpoint} closed the connection`));
      });
      socket.write(frame(body));
    });
    session.listen(negotiatedMs);
    return session;
  }

  private listen(negotiatedMs: number): void {
    this.socket.on('data', chunk => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.drain();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      clearInterval(this.pingTimer);
      for (const w of this.waiting.values()) w.reject(new Error('ZooKeeper connection closed'));
      this.waiting.clear();
    });
    this.pingTimer = setInterval(() => {
      const ping = Buffer.alloc(8);
      ping.writeInt32BE(-2, 0);
      ping.writeInt32BE(OP.ping, 4);
      this.socket.write(frame(ping));
    }, negotiatedMs / 3);
    this.pingTimer.unref();
  }

  private drain(): void {
    let offset = 0;
    while (this.pending.length - offset >= 4) {
      const length = this.pending.readInt32BE(offset);
      if (this.pending.length - offset < 4 + length) break;
      const packet = this.pending.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      const xid = packet.readInt32BE(0);
      const err = packet.readInt32BE(12);
      if (xid === -1 && this.onNotification !== undefined && packet.length >= 28) {
        // WatcherEvent after the 16-byte reply header: type, state, path.
        const pathLength = packet.readInt32BE(24);
        this.onNotification(
          packet.readInt32BE(16),
          packet.toString('utf8', 28, 28 + Math.max(0, pathLength)),
        );
        continue;
      }
      const waiter = this.waiting.get(xid);
      if (waiter === undefined) continue; // a ping's reply or an unheard watch notification
      this.waiting.delete(xid);
      if (err !== 0) waiter.reject(new ZkReplyError(err, waiter.op, waiter.path));
      else waiter.resolve(packet.subarray(16));
    }
    this.pending = offset === this.pending.length ? Buffer.alloc(0) : this.pending.subarray(offset);
  }

  private send(op: string, path: string, body: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('ZooKeeper connection closed'));
    const xid = this.nextXid++;
    body.writeInt32BE(xid, 4);
    return new Promise((resolve, reject) => {
      this.waiting.set(xid, {resolve, reject, op, path});
      this.socket.write(body);
    });
  }

  /** Creates a persistent node with an open ACL. */
  create(path: string, data: Buffer): Promise<Buffer> {
    const p = Buffer.byteLength(path);
    const w = new Writer(8 + 4 + p + 4 + data.length + OPEN_ACL_BYTES + 4, OP.create);
    w.string(path).buffer(data).int(1).int(31).string('world').string('anyone').int(0);
    return this.send('create', path, w.bytes);
  }

  /** Reads a node; `watch` leaves a one-shot data watch on it (see {@link onNotification}). */
  getData(path: string, watch = false): Promise<Buffer> {
    const w = new Writer(8 + 4 + Buffer.byteLength(path) + 1, OP.getData);
    w.string(path).int8(watch ? 1 : 0);
    return this.send('getData', path, w.bytes);
  }

  setData(path: string, data: Buffer, version = -1): Promise<Buffer> {
    const w = new Writer(8 + 4 + Buffer.byteLength(path) + 4 + data.length + 4, OP.setData);
    w.string(path).buffer(data).int(version);
    return this.send('setData', path, w.bytes);
  }

  delete(path: string, version = -1): Promise<Buffer> {
    const w = new Writer(8 + 4 + Buffer.byteLength(path) + 4, OP.delete);
    w.string(path).int(version);
    return this.send('delete', path, w.bytes);
  }

  /** Ends the session (its ephemerals go) and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    const w = new Writer(8, OP.closeSession);
    await this.send('closeSession', '', w.bytes).catch(() => undefined);
    this.socket.destroy();
  }
}

/** A length-prefixed request: 4 bytes of length, then xid (filled in on send) and opcode. */
class Writer {
  readonly bytes: Buffer;
  private offset = 12;

  constructor(recordBytes: number, opcode: number) {
    this.bytes = Buffer.allocUnsafe(4 + recordBytes);
    this.bytes.writeInt32BE(recordBytes, 0);
    this.bytes.writeInt32BE(opcode, 8);
  }

  int(v: number): this {
    this.offset = this.bytes.writeInt32BE(v, this.offset);
    return this;
  }

  int8(v: number): this {
    this.offset = this.bytes.writeInt8(v, this.offset);
    return this;
  }

  string(s: string): this {
    const n = this.bytes.write(s, this.offset + 4, 'utf8');
    this.bytes.writeInt32BE(n, this.offset);
    this.offset += 4 + n;
    return this;
  }

  buffer(b: Buffer): this {
    this.bytes.writeInt32BE(b.length, this.offset);
    this.offset += 4 + b.copy(this.bytes, this.offset + 4);
    return this;
  }
}

function frame(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}
