// Why this file is long (about 1,000 lines): a ZooKeeper connection answers its requests
// strictly in order, and every request handler here reads or changes that connection's own
// state as it runs (its queue of pending requests, its auth ids, its watch table, its session
// and its counters), so the handlers are methods of the one class that owns that state. The
// seam when it is split: the dispatch of each opcode (handleRequest, startWrite, multi,
// multiRead, setWatches) behind a narrow view of the connection (reply, auth, watches,
// session), leaving here the framing, the order of answers, the handshake and the
// notifications. The wire records they share are in zk-wire.ts and jute-*.ts already.
import {randomBytes} from 'node:crypto';
import type {Socket} from 'node:net';

import type {ZkAcl, ZkOp} from '@synod/proto/synodpb';

import {JuteDecodeError, JuteReader} from './jute-reader.js';
import {JuteWriter} from './jute-writer.js';
import {PacketFramer} from './packet-framer.js';
import type {ZkAuthId} from './zk-auth.js';
import {ZkAuth} from './zk-auth.js';
import {ZkConnectionStats} from './zk-connection-stats.js';
import type {ZkConfigNode} from './zk-ensemble-config.js';
import type {ZkMember, ZkProposal} from './zk-member.js';
import {newSecretCandidate, sessionPassword} from './zk-member.js';
import {zkPathError} from './zk-path.js';
import type {ZkSessionToucher} from './zk-session-toucher.js';
import type {ZkServerStats} from './zk-server-stats.js';
import type {ZkError} from '@synod/proto';
import {ZkErrorCode, ZkProtocol} from '@synod/proto';
import type {ZkOpResult} from './zk-state-machine.js';
import type {ZkWatchHub, ZkWatchListener} from './zk-watch-hub.js';
import type {ZkChange} from './zk-watch-table.js';
import {ZkWatchTable} from './zk-watch-table.js';
import {ZkWire} from './zk-wire.js';

const OP = ZkProtocol.op;
const MAX_QUEUED_REQUESTS = 1000;
const RESUME_QUEUED_REQUESTS = 100;
const XID = ZkProtocol.xid;
const CONFIG_PATH = '/zookeeper/config';

/** What every connection of a member's ZooKeeper listener shares. */
export interface ZkConnectionHost {
  readonly member: ZkMember;
  readonly hub: ZkWatchHub;
  /** `/zookeeper/config` as reads see it: the cluster's members. */
  readonly configNode: ZkConfigNode;
  /** `jute.maxbuffer`: the largest packet accepted. */
  readonly maxBufferBytes: number;
  readonly tickTimeMs: number;
  /** Where packets and request latencies are counted for `mntr` and `/metrics`. */
  readonly stats: ZkServerStats;
  /** A monotonic clock in milliseconds, for request latencies. */
  monotonicNowMs(): number;
  /**
   * The super user's `user:base64(sha1(user:password))` (`--zk-super-digest`): a connection
   * that authenticates as it gets ZooKeeper's `super` id, which passes every ACL check.
   */
  readonly superDigest: string | undefined;
  /** Renews the sessions of the member's connections as their packets arrive. */
  readonly sessions: ZkSessionToucher;
  /** Whether ZooKeeper takes these first four bytes of a connection as a four-letter word. */
  isFourLetterWord(word: string): boolean;
  /** Answers a four-letter word sent in place of the first packet; `rest` followed it. */
  fourLetterWord(word: string, rest: Buffer): string;
  closed(connection: ZkConnection): void;
  /** The connection now carries `sessionId`: another connection of it on this member ends. */
  claimed(connection: ZkConnection, sessionId: bigint): void;
  /** Logs what a client cannot be told. */
  warn(message: string, detail: object): void;
}

/** A request the connection answers by closing, as ZooKeeper's server does. */
class CloseConnection extends Error {}

/** A read or write that fails with a ZooKeeper error code in its reply header. */
class ReplyError extends Error {
  constructor(
    readonly code: ZkError,
    /** Written after the header despite the error (a refused multiRead's empty result list). */
    readonly body?: (w: JuteWriter) => void,
  ) {
    super(code);
  }
}

/** How a request that reached the head of the connection's order is answered. */
type Outcome = {ok: true; answer: () => void} | {ok: false; error: unknown};

/**
 * A request received and not yet answered. A `write` (create, delete, setData, setACL,
 * check, multi) is proposed as soon as every request before it is a proposed write, so
 * a client's pipelined writes share Raft rounds; any other request (`serial`: reads,
 * sync, auth, watches, closeSession, and the handshake) starts only once every request
 * before it is answered, so it sees the connection's earlier writes and state.
 */
interface Pending {
  readonly packet: Buffer;
  readonly kind: 'connect' | 'write' | 'serial';
  /** When the request was received, on the host's monotonic clock. */
  readonly receivedMs: number;
  /** Set when the request starts; settles when its reply can be written. */
  outcome?: Promise<Outcome>;
  /** The settled outcome, kept until the request is the oldest one unanswered. */
  settled?: Outcome;
  /** Its op's short name and xid, read when it starts, for the connection's `cons` figures. */
  op?: string;
  xid?: number;
}

/** Opcodes proposed through Raft, which may be in flight together on one connection. */
const PIPELINED_OPS = new Set<number>([
  OP.create,
  OP.create2,
  OP.createContainer,
  OP.createTTL,
  OP.delete,
  OP.setData,
  OP.setACL,
  OP.check,
  OP.multi,
]);

/**
 * One client's TCP connection to a member's ZooKeeper port: the handshake that
 * opens or resumes a session, then requests answered strictly in order (as a
 * ZooKeeper server answers a session's requests), pings, and the notifications
 * of the connection's watches, written as the member applies each revision.
 */
export class ZkConnection implements ZkWatchListener {
  private readonly framer: PacketFramer;
  private handshaken = false;
  private closing = false;
  /** Set while this connection closes its own session: its reply goes out before the close. */
  private closingSession = false;
  /**
   * Requests in the order received, oldest first, removed as they are answered.
   * Invariant: a started request follows only started writes; only `pending[0]` may
   * be a started `serial` or `connect` request.
   */
  private readonly pending: Pending[] = [];
  private sawConnect = false;
  /** Set from a packet's write until the end of the tick, while the socket is corked. */
  private corked = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleMs = 0;
  /** When the idle timer closes the connection, on the wall clock (for `dump`). */
  idleDeadlineMs = 0;
  /** This connection's id in its txns' order check, and the number of its last txn. */
  private readonly connectionId = randomBytes(8).readBigUInt64BE() || 1n;
  private txnSeq = 0;
  readonly watches = new ZkWatchTable();
  /**
   * Who the connection is (ZooKeeper's `authInfo`): its address, then what `addauth` added.
   * Every write carries these ids in its ZkRequest, so its ACL checks give the same answer
   * on every member; reads are checked against them here.
   */
  private readonly auth: ZkAuthId[] = [];
  sessionId = 0n;
  timeoutMs = 0;
  /** Requests received and not yet answered. */
  queued = 0;
  readonly counters = new ZkConnectionStats();
  readonly establishedMs: number;

  constructor(
    private readonly socket: Socket,
    private readonly host: ZkConnectionHost,
    /** On a TLS connection, the ids its client certificate proved (`x509`, maybe `super`). */
    private readonly certificateIds: readonly ZkAuthId[] = [],
  ) {
    this.framer = new PacketFramer(host.maxBufferBytes);
    this.establishedMs = Date.now();
    this.auth.push({scheme: 'ip', id: this.remoteIp}, ...certificateIds);
    socket.setNoDelay(true);
    socket.on('data', data => {
      this.onData(data);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.teardown();
    });
    this.resetIdle(host.tickTimeMs * 20);
  }

  /** The client's IPv4 address as ZooKeeper's `ip` scheme knows it (no `::ffff:` prefix). */
  private get remoteIp(): string {
    const address = this.socket.remoteAddress ?? '';
    return address.startsWith('::ffff:') ? address.slice(7) : address;
  }

  /** `cons`' interest set: 1 while the connection reads requests, 0 while it does not. */
  get interestOps(): number {
    return this.closing || this.socket.isPaused() ? 0 : 1;
  }

  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    this.socket.destroySoon();
  }

  private teardown(): void {
    this.closing = true;
    clearTimeout(this.idleTimer);
    this.host.hub.delete(this);
    this.watches.clear();
    this.host.closed(this);
  }

  /** A connection that hears nothing for its session timeout is closed, as ZooKeeper does. */
  private resetIdle(ms: number): void {
    this.idleDeadlineMs = Date.now() + ms;
    // Restarting the same timer is cheaper than a new one, and it happens on every request.
    if (this.idleTimer !== undefined && ms === this.idleMs) {
      this.idleTimer.refresh();
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleMs = ms;
    this.idleTimer = setTimeout(() => {
      this.close();
    }, ms);
    this.idleTimer.unref();
  }

  private onData(data: Buffer): void {
    if (this.closing) return;
    if (!this.handshaken && this.counters.received === 0 && this.framer.pendingBytes === 0) {
      const answered = this.maybeFourLetterWord(data);
      if (answered) return;
    }
    let packets: Buffer[];
    try {
      packets = this.framer.push(data);
    } catch (error) {
      this.host.warn('closing a ZooKeeper connection', {remote: this.remote, error: String(error)});
      this.socket.destroy();
      return;
    }
    for (const packet of packets) {
      this.counters.received++;
      this.host.stats.packetReceived();
      this.queued++;
      // Backpressure: a client that sends faster than its requests are answered stops being
      // read until the queue drains, so it cannot make the member buffer without bound.
      if (this.queued === MAX_QUEUED_REQUESTS) this.socket.pause();
      const connect = !this.sawConnect;
      this.sawConnect = true;
      const type = packet.length >= 8 ? packet.readInt32BE(4) : -1;
      const kind = connect ? 'connect' : PIPELINED_OPS.has(type) ? 'write' : 'serial';
      this.pending.push({packet, kind, receivedMs: this.host.monotonicNowMs()});
    }
    this.startReady();
  }

  /** Starts every request the order allows: the oldest, and writes behind started writes. */
  private startReady(): void {
    for (let i = 0; i < this.pending.length && !this.closing; i++) {
      const p = this.pending[i];
      if (p === undefined) break;
      if (p.outcome === undefined) {
        if (p.kind !== 'write' && i > 0) return;
        p.outcome = this.start(p).then(
          answer => ({ok: true as const, answer}),
          (error: unknown) => ({ok: false as const, error}),
        );
        void p.outcome.then(outcome => {
          p.settled = outcome;
          this.answerReady();
        });
      }
      if (p.kind !== 'write') return;
    }
  }

  /** Answers the oldest requests whose outcomes are in, in the order they were received. */
  private answerReady(): void {
    for (;;) {
      const head = this.pending[0];
      if (head?.settled === undefined) break;
      this.pending.shift();
      this.queued--;
      const nowMs = this.host.monotonicNowMs();
      if (head.kind !== 'connect') this.host.stats.requestAnswered(nowMs - head.receivedMs);
      this.counters.responded(head.op ?? 'SESS', head.xid ?? 0, head.receivedMs, nowMs);
      if (this.queued === RESUME_QUEUED_REQUESTS && !this.closing) this.socket.resume();
      if (this.closing) continue;
      try {
        if (head.settled.ok) head.settled.answer();
        else this.answerError(head, head.settled.error);
      } catch (error) {
        this.failed(error);
      }
    }
    this.startReady();
  }

  private failed(error: unknown): void {
    if (!(error instanceof CloseConnection) && !(error instanceof JuteDecodeError)) {
      this.host.warn('ZooKeeper request failed', {
        remote: this.remote,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
    this.close();
  }

  private maybeFourLetterWord(data: Buffer): boolean {
    if (data.length < 4) return false;
    const word = data.subarray(0, 4).toString('latin1');
    if (!this.host.isFourLetterWord(word)) return false;
    // As ZooKeeper: the word is a packet received, and the connection asking shows as idle.
    this.counters.received++;
    this.host.stats.packetReceived();
    this.closing = true;
    this.socket.end(this.host.fourLetterWord(word, data.subarray(4)));
    this.counters.sent++;
    this.host.stats.packetSent();
    return true;
  }

  private write(w: JuteWriter): void {
    if (this.socket.destroyed) return;
    this.counters.sent++;
    this.host.stats.packetSent();
    this.send(w.packet());
  }

  /**
   * Writes a packet, coalesced with the other packets this connection writes before the
   * current run of callbacks and promise reactions ends: the replies of a batch's pipelined
   * writes (each settles in a promise reaction of its own), or a burst of notifications, leave
   * in one `writev` instead of one system call each.
   */
  private send(packet: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(packet);
  }

  private reply(
    xid: number,
    zxid: number,
    err: number,
    body?: (w: JuteWriter) => void,
    errorBody?: (w: JuteWriter) => void,
  ): void {
    const w = new JuteWriter();
    ZkWire.writeReplyHeader(w, xid, zxid, err);
    if (err === 0) body?.(w);
    else errorBody?.(w);
    this.counters.lastZxid = zxid;
    this.write(w);
  }

  /**
   * Starts a request. A write is proposed now and answered later; any other request
   * runs now (it is the oldest unanswered) and writes its own reply.
   */
  private async start(p: Pending): Promise<() => void> {
    if (p.kind === 'connect') {
      await this.handleConnect(new JuteReader(p.packet));
      return noAnswer;
    }
    if (!this.handshaken) throw new CloseConnection();
    this.resetIdle(this.timeoutMs);
    this.host.sessions.touch(this.sessionId);
    const r = new JuteReader(p.packet);
    const xid = r.int();
    const type = r.int();
    p.op = opName(type);
    p.xid = xid;
    if (p.kind === 'write') return this.startWrite(xid, type, r);
    await this.handleRequest(xid, type, r);
    return noAnswer;
  }

  /** Answers a request that failed with a ZooKeeper error; any other failure closes. */
  private answerError(p: Pending, error: unknown): void {
    // A handshake that fails for any reason closes the connection without a reply.
    if (p.kind === 'connect') throw error;
    const packet = p.packet;
    // A record ZooKeeper cannot read is answered with MarshallingError, as its server does.
    const code =
      error instanceof JuteDecodeError
        ? 'marshallingError'
        : error instanceof ReplyError
          ? error.code
          : undefined;
    if (code === undefined || packet.length < 4) throw error;
    const xid = packet.readInt32BE(0);
    const zxid = code === 'unimplemented' ? -1 : this.host.member.store().rev();
    this.reply(
      xid,
      zxid,
      ZkErrorCode[code],
      () => undefined,
      error instanceof ReplyError ? error.body : undefined,
    );
    // ZooKeeper closes the connection after answering a request it does not implement.
    if (code === 'sessionExpired' || code === 'unimplemented') throw new CloseConnection();
  }

  // ---- handshake ----------------------------------------------------------------------

  private async handleConnect(r: JuteReader): Promise<void> {
    const m = this.host.member;
    r.int(); // protocolVersion
    const lastZxidSeen = Number(r.long());
    const requestedTimeoutMs = r.int();
    const sessionId = r.long();
    const passwd = r.buffer() ?? Buffer.alloc(0);
    const hasReadOnly = r.remaining > 0;
    if (hasReadOnly) r.bool();
    if (lastZxidSeen > m.store().rev()) {
      // The client saw a newer state elsewhere: catch up, or refuse as ZooKeeper does.
      await m.linearizableRead().catch(() => undefined);
      if (lastZxidSeen > m.store().rev()) {
        this.host.warn('refusing a ZooKeeper client that has seen a newer zxid', {
          remote: this.remote,
          lastZxidSeen,
          applied: m.store().rev(),
        });
        throw new CloseConnection();
      }
    }
    const tick = this.host.tickTimeMs;
    const timeoutMs = Math.min(Math.max(requestedTimeoutMs, 2 * tick), 20 * tick);
    if (sessionId === 0n) {
      const id = m.newSessionId();
      const applied = await m.propose({
        sessionId: id,
        timeMs: BigInt(m.nowMs()),
        request: {
          $case: 'createSession',
          value: {timeoutMs, secretCandidate: newSecretCandidate()},
        },
        auth: [],
      });
      const secret = m.state().sessionSecret();
      if (applied.kind !== 'session' || secret === undefined) throw new CloseConnection();
      this.open(id, timeoutMs, sessionPassword(secret, id), hasReadOnly);
      return;
    }
    let found = m.state().reader().sessionTimeoutMs(sessionId);
    if (found === undefined) {
      // A session made a moment ago through another member may not be applied here yet.
      await m.linearizableRead().catch(() => undefined);
      found = m.state().reader().sessionTimeoutMs(sessionId);
    }
    const secret = m.state().sessionSecret();
    const valid =
      secret !== undefined &&
      passwd.length === 16 &&
      sessionPassword(secret, sessionId).equals(passwd);
    if (found === undefined || !valid) {
      // ZooKeeper's answer to an expired or unknown session: timeout 0, id 0, a zero password.
      const w = new JuteWriter().int(0).int(0).long(0).buffer(Buffer.alloc(16));
      if (hasReadOnly) w.bool(false);
      this.write(w);
      throw new CloseConnection();
    }
    // This member owns the session from now on (ZooKeeper's revalidation with its leader):
    // writes another member proposes for it, such as those still in flight on the client's
    // old connection, get SessionMoved. Applying it changes nothing if the owner stays.
    const moved = await m
      .propose({
        sessionId,
        timeMs: BigInt(m.nowMs()),
        request: {$case: 'moveSession', value: {}},
        auth: [],
      })
      .catch(() => undefined);
    if (moved?.kind !== 'session') throw new CloseConnection();
    this.open(sessionId, found, passwd, hasReadOnly);
    this.host.sessions.renewNow(sessionId);
  }

  private open(id: bigint, timeoutMs: number, passwd: Buffer, readOnlyField: boolean): void {
    this.sessionId = id;
    this.timeoutMs = timeoutMs;
    this.handshaken = true;
    this.counters.lastZxid = this.host.member.store().rev();
    const w = new JuteWriter().int(0).int(timeoutMs).long(id).buffer(passwd);
    if (readOnlyField) w.bool(false);
    this.write(w);
    this.host.hub.add(this);
    this.host.claimed(this, id);
    this.resetIdle(timeoutMs);
  }

  // ---- watches ------------------------------------------------------------------------

  get watching(): boolean {
    return this.watches.size > 0 && !this.closing;
  }

  changes(_revision: number, changes: readonly ZkChange[]): void {
    if (this.watches.size === 0 || this.closing) return;
    for (const change of changes) {
      for (const n of this.watches.trigger(change)) this.notify(n.type, n.path);
    }
  }

  sessionEnded(sessionId: bigint): void {
    if (sessionId === this.sessionId && this.handshaken && !this.closingSession) this.close();
  }

  storeClosed(): void {
    this.close();
  }

  private notify(type: number, path: string): void {
    const w = new JuteWriter();
    ZkWire.writeReplyHeader(w, XID.notification, -1, 0);
    w.int(type).int(ZkProtocol.keeperState.syncConnected).string(path);
    this.write(w);
  }

  // ---- requests -----------------------------------------------------------------------

  /** Proposes a write; resolves with the function that writes its reply. */
  private startWrite(xid: number, type: number, r: JuteReader): Promise<() => void> {
    switch (type) {
      case OP.create:
      case OP.create2:
      case OP.createContainer:
      case OP.createTTL:
        return this.write1(xid, readCreate(r, type));
      case OP.delete:
        return this.write1(xid, {
          op: {$case: 'delete', value: {path: r.string() ?? '', version: r.int()}},
        });
      case OP.setData:
        return this.write1(xid, readSetData(r));
      case OP.setACL:
        return this.write1(xid, {
          op: {
            $case: 'setAcl',
            value: {path: r.string() ?? '', acl: ZkWire.readAcls(r), version: r.int()},
          },
        });
      case OP.check:
        return this.write1(xid, {
          op: {$case: 'check', value: {path: r.string() ?? '', version: r.int()}},
        });
      case OP.multi:
        return this.multi(xid, r);
      default:
        throw new Error(`opcode ${type} is not a write`);
    }
  }

  private async handleRequest(xid: number, type: number, r: JuteReader): Promise<void> {
    const m = this.host.member;
    switch (type) {
      case OP.ping:
        this.reply(xid, m.store().rev(), 0);
        return;
      case OP.exists: {
        const path = r.string() ?? '';
        const watch = r.bool();
        const node = this.readNode(path);
        const zxid = m.store().rev();
        if (watch && zkPathError(path) === undefined) this.watches.data.add(path);
        if (node === undefined) throw new ReplyError('noNode');
        this.reply(xid, zxid, 0, w => {
          ZkWire.writeStat(w, node.stat);
        });
        return;
      }
      case OP.getData: {
        const path = r.string() ?? '';
        const watch = r.bool();
        const node = this.readNode(path);
        if (node === undefined) throw new ReplyError('noNode');
        this.checkAcl(node.record.acl, ZkAuth.perms.read);
        if (watch) this.watches.data.add(path);
        this.reply(xid, m.store().rev(), 0, w => {
          w.buffer(node.record.nullData === true ? null : node.record.data);
          ZkWire.writeStat(w, node.stat);
        });
        return;
      }
      case OP.getACL: {
        const node = this.readNode(r.string() ?? '');
        if (node === undefined) throw new ReplyError('noNode');
        // READ or ADMIN may read an ACL; without ADMIN, digest hashes are hidden.
        const {acl} = node.record;
        this.checkAcl(acl, ZkAuth.perms.read | ZkAuth.perms.admin);
        const shown = ZkAuth.allows(acl, ZkAuth.perms.admin, this.auth)
          ? acl
          : ZkAuth.redactDigests(acl);
        this.reply(xid, m.store().rev(), 0, w => {
          ZkWire.writeAcls(w, shown);
          ZkWire.writeStat(w, node.stat);
        });
        return;
      }
      case OP.getChildren:
      case OP.getChildren2: {
        const path = r.string() ?? '';
        const watch = r.bool();
        const node = this.readNode(path);
        if (node === undefined) throw new ReplyError('noNode');
        this.checkAcl(node.record.acl, ZkAuth.perms.read);
        const children = m
          .state()
          .reader()
          .children(path === '' ? '/' : path);
        if (watch) this.watches.child.add(path);
        this.reply(xid, m.store().rev(), 0, w => {
          w.strings(children);
          if (type === OP.getChildren2) ZkWire.writeStat(w, node.stat);
        });
        return;
      }
      case OP.getAllChildrenNumber: {
        const path = r.string() ?? '';
        const node = this.readNode(path);
        if (node === undefined) throw new ReplyError('noNode');
        this.checkAcl(node.record.acl, ZkAuth.perms.read);
        const n = m.state().reader().countDescendants(path);
        this.reply(xid, m.store().rev(), 0, w => w.int(n));
        return;
      }
      case OP.getEphemerals: {
        const prefix = r.string() ?? '/';
        const list = m.state().ephemerals(this.sessionId, prefix);
        this.reply(xid, m.store().rev(), 0, w => w.strings(list));
        return;
      }
      case OP.sync: {
        const path = r.string() ?? '';
        await m.linearizableRead();
        this.reply(xid, m.store().rev(), 0, w => w.string(path));
        return;
      }
      case OP.multiRead:
        this.multiRead(xid, r);
        return;
      case OP.setWatches:
      case OP.setWatches2:
        this.setWatches(xid, type, r);
        return;
      case OP.addWatch: {
        const path = r.string() ?? '';
        const mode = r.int();
        if (mode === ZkProtocol.addWatchMode.persistentRecursive) this.watches.recursive.add(path);
        else this.watches.persistent.add(path);
        // ZooKeeper answers addWatch with an ErrorResponse{0}; the Java client reads it.
        this.reply(xid, m.store().rev(), 0, w => w.int(0));
        return;
      }
      case OP.checkWatches:
      case OP.removeWatches: {
        const path = r.string() ?? '';
        const watcherType = r.int();
        if (!this.watches.remove(path, watcherType, type === OP.checkWatches)) {
          throw new ReplyError('noWatcher');
        }
        this.reply(xid, m.store().rev(), 0);
        return;
      }
      case OP.auth: {
        r.int(); // type
        const scheme = r.string() ?? '';
        const auth = r.buffer() ?? Buffer.alloc(0);
        const ids = ZkAuth.authenticate(
          scheme,
          auth,
          this.remoteIp,
          this.host.superDigest,
          this.certificateIds,
        );
        if (ids === undefined) {
          // ZooKeeper answers AuthFailed and closes the connection.
          this.reply(XID.auth, 0, ZkErrorCode.authFailed);
          throw new CloseConnection();
        }
        for (const id of ids) {
          if (!this.auth.some(x => x.scheme === id.scheme && x.id === id.id)) this.auth.push(id);
        }
        this.reply(XID.auth, 0, 0);
        return;
      }
      case OP.whoAmI: {
        const ids = ZkAuth.inJavaSetOrder(this.auth);
        this.reply(xid, m.store().rev(), 0, w => {
          w.int(ids.length);
          for (const id of ids) w.string(id.scheme).string(ZkAuth.userOf(id));
        });
        return;
      }
      case OP.sasl:
        // No SASL here: a clean AuthFailed (with SetSASLResponse's null token) and a close,
        // as ZooKeeper ends a failed SASL exchange.
        this.reply(xid, 0, ZkErrorCode.authFailed, undefined, w => w.buffer(null));
        throw new CloseConnection();
      case OP.reconfig:
        throw new ReplyError('reconfigDisabled');
      case OP.closeSession: {
        this.closingSession = true;
        const applied = await m.propose({
          sessionId: this.sessionId,
          timeMs: BigInt(m.nowMs()),
          request: {$case: 'closeSession', value: {}},
          auth: [],
        });
        this.reply(xid, applied.zxid, 0);
        throw new CloseConnection();
      }
      default:
        throw new ReplyError('unimplemented');
    }
  }

  /** ZooKeeper's `checkACL` for a read, against this connection's ids. */
  private checkAcl(acl: readonly ZkAcl[], perm: number): void {
    if (!ZkAuth.allows(acl, perm, this.auth)) throw new ReplyError('noAuth');
  }

  /** A read's node; an invalid path reads as missing, as ZooKeeper's server answers NoNode. */
  private readNode(path: string) {
    // ZooKeeper's tree also knows the root as "".
    if (path === '') return this.host.member.state().reader().node('/');
    if (zkPathError(path) !== undefined) return undefined;
    const node = this.host.member.state().reader().node(path);
    return path === CONFIG_PATH && node !== undefined ? this.host.configNode.serve(node) : node;
  }

  private async propose(ops: ZkOp[], multi: boolean) {
    const m = this.host.member;
    const request: ZkProposal = {
      sessionId: this.sessionId,
      timeMs: BigInt(m.nowMs()),
      request: {
        $case: 'txn',
        value: {ops, multi},
      },
      auth: this.auth,
      connectionId: this.connectionId,
      seq: ++this.txnSeq,
    };
    let applied;
    try {
      applied = await m.propose(request);
    } catch (error) {
      // No leader, or the write timed out: its outcome is unknown. ZooKeeper's client
      // learns that as a lost connection, and so it does here.
      this.host.warn('closing a ZooKeeper connection after a failed write', {
        remote: this.remote,
        error: String(error),
      });
      throw new CloseConnection();
    }
    // The session's client has since connected to another member: ZooKeeper closes this
    // connection, without a reply (FinalRequestProcessor's SessionMovedException).
    // Or an earlier write of this connection was lost on its way to the leader, and this one
    // was refused so as not to apply before it: the connection goes, as a lost one does.
    if (
      applied.kind === 'failed' &&
      (applied.error === 'sessionMoved' || applied.error === 'connectionLoss')
    ) {
      throw new CloseConnection();
    }
    return applied;
  }

  private async write1(xid: number, op: ZkOp): Promise<() => void> {
    const applied = await this.propose([op], false);
    if (applied.kind === 'failed') throw new ReplyError(applied.error);
    if (applied.kind !== 'txn') throw new Error(`unexpected ${applied.kind}`);
    if (applied.error !== undefined) throw new ReplyError(applied.error);
    const result = applied.results[0];
    return () => {
      this.reply(xid, applied.zxid, 0, w => {
        if (result !== undefined) writeSingleResult(w, result);
      });
    };
  }

  private async multi(xid: number, r: JuteReader): Promise<() => void> {
    const ops: ZkOp[] = [];
    for (;;) {
      const type = r.int();
      const done = r.bool();
      r.int();
      if (done) break;
      switch (type) {
        case OP.create:
        case OP.create2:
        case OP.createContainer:
        case OP.createTTL:
          ops.push(readCreate(r, type));
          break;
        case OP.delete:
          ops.push({op: {$case: 'delete', value: {path: r.string() ?? '', version: r.int()}}});
          break;
        case OP.setData:
          ops.push(readSetData(r));
          break;
        case OP.check:
          ops.push({op: {$case: 'check', value: {path: r.string() ?? '', version: r.int()}}});
          break;
        default:
          throw new ReplyError('marshallingError');
      }
    }
    const applied = ops.length === 0 ? undefined : await this.propose(ops, true);
    if (applied?.kind === 'failed') throw new ReplyError(applied.error);
    const results = applied?.kind === 'txn' ? applied.results : [];
    return () => {
      const zxid = applied?.zxid ?? this.host.member.store().rev();
      this.reply(xid, zxid, 0, w => {
        for (const result of results) writeMultiResult(w, result);
        w.int(-1).bool(true).int(-1);
      });
    };
  }

  private multiRead(xid: number, r: JuteReader): void {
    const m = this.host.member;
    const w = new JuteWriter();
    ZkWire.writeReplyHeader(w, xid, m.store().rev(), 0);
    for (;;) {
      const type = r.int();
      const done = r.bool();
      r.int();
      if (done) break;
      const path = r.string() ?? '';
      const watch = r.bool();
      if (type !== OP.getChildren && type !== OP.getData) {
        throw new ReplyError('marshallingError', e => e.int(-1).bool(true).int(-1));
      }
      const node = this.readNode(path);
      if (node === undefined) {
        w.int(-1).bool(false).int(ZkErrorCode.noNode).int(ZkErrorCode.noNode);
        continue;
      }
      if (!ZkAuth.allows(node.record.acl, ZkAuth.perms.read, this.auth)) {
        w.int(-1).bool(false).int(ZkErrorCode.noAuth).int(ZkErrorCode.noAuth);
        continue;
      }
      if (type === OP.getChildren) {
        if (watch) this.watches.child.add(path);
        w.int(OP.getChildren).bool(false).int(0).strings(m.state().reader().children(path));
      } else {
        if (watch) this.watches.data.add(path);
        w.int(OP.getData)
          .bool(false)
          .int(0)
          .buffer(node.record.nullData === true ? null : node.record.data);
        ZkWire.writeStat(w, node.stat);
      }
    }
    w.int(-1).bool(true).int(-1);
    this.write(w);
  }

  /**
   * Re-arms the watches a client had before it reconnected, firing at once those
   * whose node changed after `relativeZxid` (the last zxid the client saw), as
   * ZooKeeper's `DataTree.setWatches` does. The reply carries the request's xid: ZooKeeper's
   * Java client (3.5 and later) numbers setWatches like any request, not -8, and drops the
   * connection on a reply whose xid it did not expect.
   */
  private setWatches(xid: number, type: number, r: JuteReader): void {
    const relativeZxid = Number(r.long());
    const data = r.strings();
    const exist = r.strings();
    const child = r.strings();
    const persistent = type === OP.setWatches2 ? r.strings() : [];
    const recursive = type === OP.setWatches2 ? r.strings() : [];
    const reader = this.host.member.state().reader();
    const E = ZkProtocol.eventType;
    const fire: {type: number; path: string}[] = [];
    for (const path of data) {
      const node = zkPathError(path) === undefined ? reader.node(path) : undefined;
      if (node === undefined) fire.push({type: E.nodeDeleted, path});
      else if (node.stat.mzxid > relativeZxid) fire.push({type: E.nodeDataChanged, path});
      else this.watches.data.add(path);
    }
    for (const path of exist) {
      const node = zkPathError(path) === undefined ? reader.node(path) : undefined;
      if (node !== undefined) fire.push({type: E.nodeCreated, path});
      else this.watches.data.add(path);
    }
    for (const path of child) {
      const node = zkPathError(path) === undefined ? reader.node(path) : undefined;
      if (node === undefined) fire.push({type: E.nodeDeleted, path});
      else if (node.stat.pzxid > relativeZxid) fire.push({type: E.nodeChildrenChanged, path});
      else this.watches.child.add(path);
    }
    for (const path of persistent) this.watches.persistent.add(path);
    for (const path of recursive) this.watches.recursive.add(path);
    this.reply(xid, this.host.member.store().rev(), 0);
    for (const f of fire) this.notify(f.type, f.path);
  }
}

function noAnswer(): void {
  // The request wrote its reply when it ran.
}

function readCreate(r: JuteReader, opcode: number): ZkOp {
  const path = r.string() ?? '';
  const raw = r.buffer();
  const acl: ZkAcl[] = ZkWire.readAcls(r);
  const mode = r.int();
  const ttlMs = opcode === OP.createTTL ? r.long() : 0n;
  const data = raw ?? Buffer.alloc(0);
  return {
    op: {$case: 'create', value: {path, data, acl, mode, ttlMs, opcode, dataNull: raw === null}},
  };
}

function readSetData(r: JuteReader): ZkOp {
  const path = r.string() ?? '';
  const raw = r.buffer();
  const version = r.int();
  return {
    op: {
      $case: 'setData',
      value: {path, data: raw ?? Buffer.alloc(0), version, dataNull: raw === null},
    },
  };
}

function writeSingleResult(w: JuteWriter, result: ZkOpResult): void {
  switch (result.type) {
    case 'create':
      w.string(result.path);
      if (result.opcode !== OP.create) ZkWire.writeStat(w, result.stat);
      return;
    case 'setData':
    case 'setACL':
      ZkWire.writeStat(w, result.stat);
      return;
    default:
      return;
  }
}

/** One `MultiResponse` element: `MultiHeader{type, done, err}` and its record. */
function writeMultiResult(w: JuteWriter, result: ZkOpResult): void {
  switch (result.type) {
    case 'create':
      // ZooKeeper 3.8 answers a create2 inside a multi as a plain create (path only).
      if (result.opcode === OP.create || result.opcode === OP.create2) {
        w.int(OP.create).bool(false).int(0).string(result.path);
      } else {
        w.int(OP.create2).bool(false).int(0).string(result.path);
        ZkWire.writeStat(w, result.stat);
      }
      return;
    case 'delete':
      w.int(OP.delete).bool(false).int(0);
      return;
    case 'setData':
      w.int(OP.setData).bool(false).int(0);
      ZkWire.writeStat(w, result.stat);
      return;
    case 'setACL':
      w.int(OP.setACL).bool(false).int(0);
      ZkWire.writeStat(w, result.stat);
      return;
    case 'check':
      w.int(OP.check).bool(false).int(0);
      return;
    case 'error': {
      const code = result.error === 'ok' ? 0 : ZkErrorCode[result.error];
      w.int(-1).bool(false).int(code).int(code);
      return;
    }
  }
}

const opNames = new Map<number, string>([
  [OP.ping, 'PING'],
  [OP.create, 'CREA'],
  [OP.create2, 'CREA'],
  [OP.createContainer, 'CREA'],
  [OP.createTTL, 'CREA'],
  [OP.delete, 'DELE'],
  [OP.exists, 'EXIS'],
  [OP.getData, 'GETD'],
  [OP.setData, 'SETD'],
  [OP.getACL, 'GETA'],
  [OP.setACL, 'SETA'],
  [OP.getChildren, 'GETC'],
  [OP.getChildren2, 'GETC'],
  [OP.sync, 'SYNC'],
  [OP.multi, 'MULT'],
  [OP.multiRead, 'MLTR'],
  [OP.closeSession, 'CLOS'],
  [OP.setWatches, 'SETW'],
  [OP.setWatches2, 'STW2'],
  [OP.addWatch, 'ADDW'],
]);

/** ZooKeeper's abbreviation of an op for `cons` (`Request.op2String`'s short form). */
function opName(type: number): string {
  return opNames.get(type) ?? 'NA';
}
