import net from 'node:net';
import tls from 'node:tls';

import {PeerDefinition, PeerFrame, PeerRefusal} from '@synod/proto';
import type {PeerClient, PeerHello, PeerSnapshotChunk} from '@synod/proto';
import type {Message} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import {crc32c} from '@synod/storage';
import type {Channel} from 'nice-grpc';
import {createClient} from 'nice-grpc';

import {memberRemovedMessage} from '../member/member-removed.js';
import type {TlsCredentials} from '../tls/tls-credentials.js';
import {peerChannel} from './peer-channel.js';
import {PeerProber} from './peer-prober.js';
import {FrameDecoder, raftStreamPreface, writeFrame} from './raft-stream.js';

/** What the transport reports back to raft. */
export interface PeerTransportEvents {
  /** A peer could not be reached; raft should slow down replication to it. */
  unreachable(peerId: number): void;
  /** The outcome of sending a snapshot. */
  snapshotStatus(peerId: number, ok: boolean): void;
  /** A peer refused this member because the cluster has removed it. */
  removed?(peerId: number): void;
}

/** What the transport reports for metrics: etcd's `etcd_network_peer_*` counters. */
export interface PeerTrafficObserver {
  /** A frame of `bytes` went to peer `to`'s stream (or snapshot call). */
  sent(to: number, bytes: number): void;
  /** Peer `to`'s stream broke or could not connect, or a message for it was dropped. */
  sendFailed(to: number): void;
  /** The stream to peer `to`, which was up, broke. */
  disconnected?(to: number): void;
  /** A probe of peer `to` came back after `seconds` (see {@link PeerProber}). */
  roundTrip?(to: number, seconds: number): void;
}

export interface PeerTransportOptions {
  readonly clusterId: number;
  readonly memberId: number;
  readonly events: PeerTransportEvents;
  /** Bytes of snapshot data per chunk. */
  readonly snapshotChunkBytes?: number;
  /** Upper bound on one batch frame, below the receiver's message size limit. */
  readonly maxBatchBytes?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** This member's peer certificates, for peers with `https://` URLs. */
  readonly tls?: TlsCredentials;
  readonly observer?: PeerTrafficObserver;
}

/** Largest gRPC message a member accepts from a peer. */
export const peerMaxMessageBytes = 64 * 1024 * 1024;

const defaultChunkBytes = 1024 * 1024;
const defaultMaxBatchBytes = 8 * 1024 * 1024;
/** Messages queued for one peer beyond which new ones are dropped: raft resends what matters. */
const maxQueuedMessages = 4096;

/**
 * Sends raft messages to the other members. Each peer gets one long-lived Raft
 * stream (a TCP connection to its peer port, see {@link raftStreamPreface});
 * each Ready's messages for a peer go out as one batch frame at once. A broken
 * stream, or one that has not taken bytes for 5 s, is reopened with exponential
 * backoff, and raft is told the peer is unreachable so that it probes instead
 * of streaming. Snapshots go on a gRPC stream of their own, in chunks, with a
 * CRC32C of the whole that the receiver checks.
 */
export class PeerTransport {
  private readonly peers = new Map<number, PeerSender>();

  constructor(private readonly options: PeerTransportOptions) {}

  /** Starts (or re-targets) the connection to a peer. */
  setPeer(id: number, urls: readonly string[]): void {
    const existing = this.peers.get(id);
    if (existing !== undefined && sameUrls(existing.urls, urls)) return;
    existing?.close();
    this.peers.set(id, new PeerSender(id, urls, this.options));
  }

  /** Whether the connection to peer `id` is up now. */
  isConnected(id: number): boolean {
    return this.peers.get(id)?.isConnected() ?? false;
  }

  removePeer(id: number): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  /**
   * Hands messages to their peers' streams; never waits. Messages for unknown peers are
   * dropped. The caller passes a whole Ready's messages at once, so each peer's share goes out
   * as one frame now, rather than a turn of the event loop later.
   */
  send(messages: readonly Message[]): void {
    const touched = new Set<PeerSender>();
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        if (m.type === MessageType.MsgSnap) this.options.events.snapshotStatus(m.to, false);
        continue;
      }
      if (m.type === MessageType.MsgSnap) peer.sendSnapshot(m);
      else if (peer.enqueue(m)) touched.add(peer);
    }
    for (const peer of touched) peer.flush();
  }

  close(): void {
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

/** How often an idle Raft stream sends an empty frame, so the receiver knows it is alive. */
const keepAliveIntervalMs = 1000;
/**
 * How long a Raft stream may hold unwritten bytes, or take to connect, before it is taken
 * for dead and reopened: a peer cut off by the network never answers with a reset.
 */
const stallTimeoutMs = 5000;

class PeerSender {
  private pending: Message[] = [];
  private closed = false;
  private backoffMs: number;
  private urlIndex = 0;
  /** The Raft stream, while open or opening. */
  private socket: net.Socket | undefined;
  private connected = false;
  private wroteSinceKeepAlive = false;
  /** When the stream last handed a frame to the kernel (or connected), for the stall check. */
  private writtenAtMs = 0;
  private readonly onWritten = () => {
    this.writtenAtMs = performance.now();
  };
  private readonly keepAliveTimer: NodeJS.Timeout;
  /** The gRPC connection for snapshots, opened on the first one. */
  private channel: Channel | undefined;
  private client: PeerClient | undefined;
  private readonly abort = new AbortController();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly prober: PeerProber | undefined;

  constructor(
    readonly id: number,
    readonly urls: readonly string[],
    private readonly options: PeerTransportOptions,
  ) {
    this.backoffMs = options.reconnectMinMs ?? 50;
    this.keepAliveTimer = setInterval(() => {
      this.keepAlive();
    }, keepAliveIntervalMs);
    this.keepAliveTimer.unref();
    const observer = options.observer;
    if (observer?.roundTrip !== undefined && urls[0] !== undefined) {
      this.prober = new PeerProber(urls[0], options.tls, seconds => {
        observer.roundTrip?.(id, seconds);
      });
    }
    this.connect();
  }

  isConnected(): boolean {
    return this.connected;
  }

  private hello(): PeerHello {
    return {clusterId: this.options.clusterId, from: this.options.memberId, to: this.id};
  }

  private url(): string {
    return this.urls[this.urlIndex % this.urls.length] ?? '';
  }

  private connect(): void {
    if (this.closed || this.urls.length === 0) return;
    const {protocol, hostname, port} = new URL(this.url());
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const secure = protocol === 'https:';
    let socket: net.Socket;
    try {
      socket = secure
        ? tls.connect({host, port: Number(port), ...this.tlsOptions(host)}).setNoDelay(true)
        : net.connect({host, port: Number(port), noDelay: true});
    } catch {
      // Certificates that cannot be used: try again later, as for a refused connection.
      socket = new net.Socket();
      setImmediate(() => socket.destroy());
    }
    this.socket = socket;
    this.writtenAtMs = performance.now();
    socket.write(raftStreamPreface);
    writeFrame(socket, PeerFrame.encode({frame: {$case: 'hello', value: this.hello()}}).finish());
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (socket !== this.socket) return;
      this.connected = true;
      this.writtenAtMs = performance.now();
      // Once the stream is up again, the backoff starts from the minimum.
      this.backoffMs = this.options.reconnectMinMs ?? 50;
      // Messages queued while disconnected go out first on the new stream.
      this.flush();
    });
    socket.on('drain', () => {
      this.flush();
    });
    const refusals = new FrameDecoder(peerMaxMessageBytes);
    socket.on('data', chunk => {
      try {
        for (const frame of refusals.push(chunk)) this.onRefused(PeerRefusal.decode(frame).reason);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.onBroken(socket);
    });
  }

  private tlsOptions(host: string): tls.ConnectionOptions {
    const credentials = this.options.tls;
    if (credentials === undefined) {
      throw new Error(`peer ${this.url()} is https, but --peer-cert-file is not given`);
    }
    return credentials.clientOptions(host);
  }

  private onRefused(reason: string): void {
    if (reason.includes(memberRemovedMessage)) this.options.events.removed?.(this.id);
  }

  private onBroken(socket: net.Socket): void {
    if (socket !== this.socket || this.closed) return;
    this.socket = undefined;
    if (this.connected) this.options.observer?.disconnected?.(this.id);
    this.connected = false;
    // A lost or refused stream is a failed send, as etcd counts one when its stream breaks:
    // a member that is down shows as failures at the reconnect rate (etcdMembersDown).
    this.options.observer?.sendFailed(this.id);
    this.options.events.unreachable(this.id);
    this.urlIndex++;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 2000);
    this.reconnectTimer = setTimeout(() => {
      this.connect();
    }, delay);
  }

  /**
   * Keeps an idle stream alive, and gives up on one that has not connected, or not taken
   * bytes, for {@link stallTimeoutMs}.
   */
  private keepAlive(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const stalled = !this.connected || socket.writableLength > 0;
    if (stalled) {
      if (performance.now() - this.writtenAtMs > stallTimeoutMs) socket.destroy();
      return;
    }
    if (!this.wroteSinceKeepAlive) {
      const frame = PeerFrame.encode({frame: {$case: 'batch', value: {messages: []}}}).finish();
      writeFrame(socket, frame, this.onWritten);
      this.options.observer?.sent(this.id, frame.length);
    }
    this.wroteSinceKeepAlive = false;
  }

  /** Queues `m` for the next {@link flush}; false if it was dropped. */
  enqueue(m: Message): boolean {
    if (this.closed) return false;
    if (this.pending.length >= maxQueuedMessages) {
      this.options.observer?.sendFailed(this.id);
      this.options.events.unreachable(this.id);
      return false;
    }
    this.pending.push(m);
    return true;
  }

  /**
   * Writes everything queued as batch frames. While disconnected, or while the
   * stream still holds a full batch of unwritten bytes, keeps it for later.
   */
  flush(): void {
    const socket = this.socket;
    if (!this.connected || socket === undefined || this.pending.length === 0) return;
    const maxBytes = this.options.maxBatchBytes ?? defaultMaxBatchBytes;
    if (socket.writableLength >= maxBytes) return;
    let batch: Message[] = [];
    let bytes = 0;
    const write = () => {
      const frame = PeerFrame.encode({frame: {$case: 'batch', value: {messages: batch}}}).finish();
      writeFrame(socket, frame, this.onWritten);
      this.options.observer?.sent(this.id, frame.length);
    };
    for (const m of this.pending) {
      const size = approximateSize(m);
      if (batch.length > 0 && bytes + size > maxBytes) {
        write();
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += size;
    }
    if (batch.length > 0) write();
    this.pending = [];
    this.wroteSinceKeepAlive = true;
  }

  private snapshotClient(): PeerClient {
    if (this.client === undefined) {
      this.channel = peerChannel(this.url(), this.options.tls, {
        'grpc.max_send_message_length': peerMaxMessageBytes,
        'grpc.max_receive_message_length': peerMaxMessageBytes,
      });
      this.client = createClient(PeerDefinition, this.channel);
    }
    return this.client;
  }

  sendSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    if (snapshot === undefined || this.closed) {
      this.options.events.snapshotStatus(this.id, false);
      return;
    }
    const chunkBytes = this.options.snapshotChunkBytes ?? defaultChunkBytes;
    const data = snapshot.data;
    const header: Message = {...m, snapshot: {...snapshot, data: new Uint8Array(0)}};
    const hello = this.hello();
    const checksum = crc32c(0, data);
    async function* chunks(): AsyncGenerator<PeerSnapshotChunk> {
      let offset = 0;
      do {
        const end = Math.min(offset + chunkBytes, data.length);
        yield {
          hello: offset === 0 ? hello : undefined,
          message: offset === 0 ? header : undefined,
          data: data.subarray(offset, end),
          offset,
          last: end >= data.length,
          checksum: end >= data.length ? checksum : 0,
        };
        offset = end;
        // Let heartbeats and appends to other peers through between chunks.
        await new Promise(resolve => setImmediate(resolve));
      } while (offset < data.length);
    }
    this.snapshotClient()
      .sendSnapshot(chunks(), {signal: this.abort.signal})
      .then(
        () => {
          this.options.observer?.sent(this.id, data.length);
          this.options.events.snapshotStatus(this.id, true);
        },
        () => {
          this.options.observer?.sendFailed(this.id);
          this.options.events.snapshotStatus(this.id, false);
        },
      );
  }

  close(): void {
    this.closed = true;
    this.connected = false;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    clearInterval(this.keepAliveTimer);
    this.prober?.close();
    this.socket?.destroy();
    this.abort.abort();
    this.channel?.close();
  }
}

/** A cheap upper bound of a message's encoded size, for batching. */
function approximateSize(m: Message): number {
  let size = 64;
  for (const e of m.entries) size += e.data.length + 24;
  if (m.snapshot !== undefined) size += m.snapshot.data.length;
  return size + m.context.length;
}
