import {PeerDefinition} from '@synod/proto';
import type {PeerClient, PeerFrame, PeerHello, PeerSnapshotChunk} from '@synod/proto';
import type {Message} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import {crc32c} from '@synod/storage';
import {connectivityState} from '@grpc/grpc-js';
import type {Channel} from 'nice-grpc';
import {ClientError, createChannel, createClient} from 'nice-grpc';

import {memberRemovedMessage} from '../member/member-removed.js';
import {AsyncQueue} from '../util/async-queue.js';

/** What the transport reports back to raft. */
export interface PeerTransportEvents {
  /** A peer could not be reached; raft should slow down replication to it. */
  unreachable(peerId: number): void;
  /** The outcome of sending a snapshot. */
  snapshotStatus(peerId: number, ok: boolean): void;
  /** A peer refused this member because the cluster has removed it. */
  removed?(peerId: number): void;
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
}

/** Largest gRPC message a member accepts from a peer. */
export const peerMaxMessageBytes = 64 * 1024 * 1024;

const defaultChunkBytes = 1024 * 1024;
const defaultMaxBatchBytes = 8 * 1024 * 1024;
/** Messages queued for one peer beyond which new ones are dropped: raft resends what matters. */
const maxQueuedMessages = 4096;

/**
 * Sends raft messages to the other members. Each peer gets one long-lived
 * client stream; everything queued for a peer while the previous frame was
 * being written goes out as one batch frame. A broken stream is reopened with
 * exponential backoff, and raft is told the peer is unreachable so that it
 * probes instead of streaming. Snapshots go on a stream of their own, in
 * chunks, with a CRC32C of the whole that the receiver checks.
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

function targetOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
}

class PeerSender {
  private queue = new AsyncQueue<PeerFrame>();
  private pending: Message[] = [];
  private flushScheduled = false;
  private closed = false;
  private backoffMs: number;
  private urlIndex = 0;
  private channel: Channel | undefined;
  private client: PeerClient | undefined;
  private readonly abort = new AbortController();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connected = false;

  constructor(
    readonly id: number,
    readonly urls: readonly string[],
    private readonly options: PeerTransportOptions,
  ) {
    this.backoffMs = options.reconnectMinMs ?? 50;
    this.connect();
  }

  isConnected(): boolean {
    return this.channel?.getConnectivityState(false) === connectivityState.READY;
  }

  private hello(): PeerHello {
    return {clusterId: this.options.clusterId, from: this.options.memberId, to: this.id};
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.urls[this.urlIndex % this.urls.length];
    if (url === undefined) return;
    this.channel?.close();
    this.channel = createChannel(targetOf(url), undefined, {
      'grpc.max_send_message_length': peerMaxMessageBytes,
      'grpc.max_receive_message_length': peerMaxMessageBytes,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    });
    this.client = createClient(PeerDefinition, this.channel);
    const queue = new AsyncQueue<PeerFrame>();
    this.queue = queue;
    queue.push({frame: {$case: 'hello', value: this.hello()}});
    this.connected = true;
    this.client.send(queue, {signal: this.abort.signal}).then(
      () => {
        this.onBroken(queue);
      },
      (error: unknown) => {
        if (error instanceof ClientError && error.details.includes(memberRemovedMessage)) {
          this.options.events.removed?.(this.id);
        }
        this.onBroken(queue);
      },
    );
    // Messages queued while disconnected go out first on the new stream.
    this.scheduleFlush();
  }

  private onBroken(queue: AsyncQueue<PeerFrame>): void {
    if (queue !== this.queue || this.closed) return;
    this.connected = false;
    queue.close();
    this.options.events.unreachable(this.id);
    this.urlIndex++;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 2000);
    this.reconnectTimer = setTimeout(() => {
      this.connect();
    }, delay);
  }

  /** Queues `m` for the next {@link flush}; false if it was dropped. */
  enqueue(m: Message): boolean {
    if (this.closed) return false;
    if (this.pending.length >= maxQueuedMessages) {
      this.options.events.unreachable(this.id);
      return false;
    }
    this.pending.push(m);
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends everything queued as batch frames; while disconnected, keeps it for the reconnect. */
  flush(): void {
    if (!this.connected || this.pending.length === 0) return;
    const maxBytes = this.options.maxBatchBytes ?? defaultMaxBatchBytes;
    let batch: Message[] = [];
    let bytes = 0;
    for (const m of this.pending) {
      const size = approximateSize(m);
      if (batch.length > 0 && bytes + size > maxBytes) {
        this.queue.push({frame: {$case: 'batch', value: {messages: batch}}});
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += size;
    }
    if (batch.length > 0) this.queue.push({frame: {$case: 'batch', value: {messages: batch}}});
    this.pending = [];
    // Once the stream is up again, the backoff starts from the minimum.
    this.backoffMs = this.options.reconnectMinMs ?? 50;
  }

  sendSnapshot(m: Message): void {
    const client = this.client;
    const snapshot = m.snapshot;
    if (client === undefined || snapshot === undefined || this.closed) {
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
    client.sendSnapshot(chunks(), {signal: this.abort.signal}).then(
      () => {
        this.options.events.snapshotStatus(this.id, true);
      },
      () => {
        this.options.events.snapshotStatus(this.id, false);
      },
    );
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.queue.close();
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
