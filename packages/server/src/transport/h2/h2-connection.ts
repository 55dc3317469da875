// Over 400 lines on purpose: one HTTP/2 connection is one state machine (RFC 9113's
// connection and stream states, both directions' flow control, GOAWAY), and its frame handlers
// share that state. The parts that stand alone live beside it: h2-stream.ts, hpack-decoder.ts,
// request-head.ts, h2-protocol.ts.

import type net from 'node:net';
import type {Duplex} from 'node:stream';

import {HpackError} from '../hpack-cursor.js';
import {FrameFlag, frameHeaderBytes, FrameType} from '../http2-frame-header.js';
import {HpackDecoder} from './hpack-decoder.js';
import {
  defaultWindowBytes,
  H2ErrorCode,
  H2Setting,
  largestFramePayloadBytes,
  largestWindowBytes,
} from './h2-protocol.js';
import {checkRequestHead, checkTrailers} from './request-head.js';
import {H2Stream} from './h2-stream.js';
import type {H2StreamHost} from './h2-stream.js';

/** The client connection preface (RFC 9113 §3.4). */
const clientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The frame payload size this side reads, SETTINGS_MAX_FRAME_SIZE's default, which it keeps. */
const maxReadFramePayloadBytes = 16_384;
/** Past this many octets waiting to be written, writers are asked to wait. */
const congestedOutBytes = 1024 * 1024;
/** Gathered frames smaller than this together are copied into one buffer for one write. */
const joinedWriteBytes = 64 * 1024;

/** What an {@link H2Connection} advertises and enforces. */
export interface H2ConnectionOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: more open streams are refused (REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a request with more is reset. */
  readonly maxHeaderListBytes: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: what each stream may send before a WINDOW_UPDATE. */
  readonly streamWindowBytes: number;
  /** What the whole connection may send before a WINDOW_UPDATE. */
  readonly connectionWindowBytes: number;
}

export const defaultH2ConnectionOptions: H2ConnectionOptions = {
  maxConcurrentStreams: 2 ** 32 - 1,
  maxHeaderListBytes: 16 * 1024 * 1024,
  streamWindowBytes: 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
};

/** A fault that ends the connection: GOAWAY with its code. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A header block being read: its HEADERS frame's facts and the fragments so far. */
interface OpenHeaderBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  sizeBytes: number;
}

/**
 * The server side of one HTTP/2 connection (RFC 9113) on a socket, for the client port: it
 * reads frames, decodes header blocks (HPACK, RFC 7541), keeps stream states and both
 * directions' flow control, and hands each request to `onStream` as an {@link H2Stream}.
 *
 * Writes are gathered: every frame produced during one event-loop turn goes out in one socket
 * write at the end of it (`setImmediate`), so the answers to many calls that complete together
 * share one system call.
 *
 * Faults are answered as Go's HTTP/2 server (etcd's) answers them: a connection error sends
 * GOAWAY with the last stream id read and the error code, then closes; a stream error resets
 * the stream (RST_STREAM). Frames of unknown types are ignored, PRIORITY is read and ignored.
 */
export class H2Connection implements H2StreamHost {
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder = new HpackDecoder();
  /** The highest stream id a client request used. Invariant: never decreases. */
  private lastStreamId = 0;
  private prefaceLeftBytes = clientPreface.length;
  private pending: Buffer | undefined;
  private openBlock: OpenHeaderBlock | undefined;
  private receiveWindowBytes = defaultWindowBytes;
  private unacknowledgedBytes = 0;
  private sendWindowBytes = defaultWindowBytes;
  /** The client's settings for what this side sends. */
  private peerStreamWindowBytes = defaultWindowBytes;
  private peerMaxFrameBytes = 16_384;
  /** Streams with data waiting for the connection's send window, oldest first. */
  private readonly blocked = new Set<H2Stream>();
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private goingAway = false;
  private ended = false;
  private readonly closeListeners: (() => void)[] = [];
  private readonly secure: boolean;
  private readonly flushNow = () => {
    this.flush();
  };

  /**
   * @param transport What the connection is read from and written to (the socket).
   * @param socket The client's socket, for its address and certificate.
   */
  constructor(
    private readonly transport: Duplex,
    readonly socket: net.Socket | undefined,
    private readonly onStream: (stream: H2Stream) => void,
    private readonly options: H2ConnectionOptions = defaultH2ConnectionOptions,
  ) {
    this.secure = (socket as {encrypted?: boolean} | undefined)?.encrypted === true;
  }

  /** Starts the connection: sends this side's SETTINGS, then reads `seen` and the rest. */
  start(seen: Buffer): void {
    const {options} = this;
    const settings: [number, number][] = [
      [H2Setting.maxConcurrentStreams, Math.min(options.maxConcurrentStreams, 2 ** 32 - 1)],
      [H2Setting.initialWindowSize, options.streamWindowBytes],
      [H2Setting.maxHeaderListSize, options.maxHeaderListBytes],
    ];
    const payload = Buffer.allocUnsafe(settings.length * 6);
    settings.forEach(([id, value], i) => {
      payload.writeUInt16BE(id, i * 6);
      payload.writeUInt32BE(value, i * 6 + 2);
    });
    this.sendFrame(FrameType.settings, 0, 0, payload);
    const raise = options.connectionWindowBytes - defaultWindowBytes;
    if (raise > 0) {
      this.receiveWindowBytes += raise;
      this.sendWindowUpdate(0, raise);
    }
    this.transport.on('data', (chunk: Buffer) => {
      this.read(chunk);
    });
    this.transport.on('error', () => {
      this.transport.destroy();
    });
    this.transport.once('end', () => {
      this.transport.end();
    });
    this.transport.once('close', () => {
      this.closed();
    });
    this.transport.on('drain', () => {
      this.wakeWriters();
    });
    if (seen.length > 0) this.read(seen);
    this.transport.resume();
  }

  /** Calls `listener` once the connection is gone. */
  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  /** Says GOAWAY (NO_ERROR) and closes the connection now, ending its streams. */
  close(): void {
    if (this.ended) return;
    this.sendGoaway(H2ErrorCode.noError, '');
    this.flush();
    this.transport.destroy();
  }

  /** A method, not the field: frame handlers may end the connection mid-read. */
  private isOpen(): boolean {
    return !this.ended;
  }

  get congested(): boolean {
    return this.outBytes > congestedOutBytes || this.transport.writableNeedDrain;
  }

  // ---- reading

  private read(chunk: Buffer): void {
    if (this.ended) return;
    let bytes = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    let at = 0;
    try {
      if (this.prefaceLeftBytes > 0) {
        const n = Math.min(this.prefaceLeftBytes, bytes.length);
        const offset = clientPreface.length - this.prefaceLeftBytes;
        if (!bytes.subarray(0, n).equals(clientPreface.subarray(offset, offset + n))) {
          throw new ConnectionError(H2ErrorCode.protocolError, 'invalid connection preface');
        }
        this.prefaceLeftBytes -= n;
        at = n;
      }
      while (bytes.length - at >= frameHeaderBytes && this.isOpen()) {
        const length = bytes.readUIntBE(at, 3);
        if (length > maxReadFramePayloadBytes) {
          throw new ConnectionError(H2ErrorCode.frameSizeError, 'frame too large');
        }
        const end = at + frameHeaderBytes + length;
        if (end > bytes.length) break;
        const type = bytes[at + 3] ?? 0;
        const flags = bytes[at + 4] ?? 0;
        const streamId = bytes.readUInt32BE(at + 5) & 0x7fff_ffff;
        this.handleFrame(type, flags, streamId, bytes.subarray(at + frameHeaderBytes, end));
        at = end;
      }
    } catch (error) {
      if (!(error instanceof ConnectionError)) throw error;
      this.failConnection(error.code, error.message);
      return;
    }
    if (at < bytes.length && this.isOpen()) {
      bytes = bytes.subarray(at);
      // A few bytes of a large read buffer are copied, so the buffer can go.
      this.pending = bytes.length < 1024 ? Buffer.from(bytes) : bytes;
    }
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.openBlock !== undefined && type !== FrameType.continuation) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'expected CONTINUATION');
    }
    switch (type) {
      case FrameType.data:
        this.handleData(flags, streamId, payload);
        return;
      case FrameType.headers:
        this.handleHeaders(flags, streamId, payload);
        return;
      case FrameType.priority:
        if (streamId === 0) throw new ConnectionError(H2ErrorCode.protocolError, 'PRIORITY on 0');
        if (payload.length !== 5) this.resetId(streamId, H2ErrorCode.frameSizeError);
        return;
      case FrameType.rstStream:
        this.handleRstStream(streamId, payload);
        return;
      case FrameType.settings:
        this.handleSettings(flags, streamId, payload);
        return;
      case FrameType.pushPromise:
        throw new ConnectionError(H2ErrorCode.protocolError, 'PUSH_PROMISE from a client');
      case FrameType.ping:
        if (streamId !== 0)
          throw new ConnectionError(H2ErrorCode.protocolError, 'PING on a stream');
        if (payload.length !== 8)
          throw new ConnectionError(H2ErrorCode.frameSizeError, 'PING size');
        if ((flags & FrameFlag.ack) === 0)
          this.sendFrame(FrameType.ping, FrameFlag.ack, 0, payload);
        return;
      case FrameType.goaway:
        if (streamId !== 0)
          throw new ConnectionError(H2ErrorCode.protocolError, 'GOAWAY on a stream');
        this.goingAway = true;
        this.maybeEndAfterGoaway();
        return;
      case FrameType.windowUpdate:
        this.handleWindowUpdate(streamId, payload);
        return;
      case FrameType.continuation:
        this.handleContinuation(flags, streamId, payload);
        return;
      default:
      // Unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  /** The payload less its padding (RFC 9113 §6.1, §6.2). */
  private unpadded(flags: number, payload: Buffer): Buffer {
    if ((flags & FrameFlag.padded) === 0) return payload;
    const padBytes = payload[0];
    if (padBytes === undefined || padBytes >= payload.length) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'padding too long');
    }
    return payload.subarray(1, payload.length - padBytes);
  }

  private handleData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2ErrorCode.protocolError, 'DATA on stream 0');
    if (streamId > this.lastStreamId) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'DATA on an idle stream');
    }
    // The whole frame counts against the windows, padding included.
    if (payload.length > this.receiveWindowBytes) {
      throw new ConnectionError(H2ErrorCode.flowControlError, 'connection window exceeded');
    }
    this.receiveWindowBytes -= payload.length;
    this.acknowledge(undefined, payload.length);
    const data = this.unpadded(flags, payload);
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.state === 'halfClosedRemote' || stream.state === 'closed') {
      this.resetId(streamId, H2ErrorCode.streamClosed);
      return;
    }
    if (payload.length > stream.receiveWindowBytes) {
      this.resetStream(stream, H2ErrorCode.flowControlError);
      return;
    }
    stream.receiveWindowBytes -= payload.length;
    stream.receiveData(data);
    if (stream.closed) return;
    this.acknowledge(stream, payload.length);
    if ((flags & FrameFlag.endStream) !== 0) this.endRemote(stream);
  }

  /**
   * Gives the bytes handed on back to the client's window, in one WINDOW_UPDATE once half the
   * window is used (the application takes data as it comes, so received is consumed).
   */
  private acknowledge(stream: H2Stream | undefined, bytes: number): void {
    if (stream === undefined) {
      this.unacknowledgedBytes += bytes;
      if (this.unacknowledgedBytes >= this.options.connectionWindowBytes / 2) {
        this.receiveWindowBytes += this.unacknowledgedBytes;
        this.sendWindowUpdate(0, this.unacknowledgedBytes);
        this.unacknowledgedBytes = 0;
      }
      return;
    }
    stream.unacknowledgedBytes += bytes;
    if (stream.unacknowledgedBytes >= this.options.streamWindowBytes / 2) {
      stream.receiveWindowBytes += stream.unacknowledgedBytes;
      this.sendWindowUpdate(stream.id, stream.unacknowledgedBytes);
      stream.unacknowledgedBytes = 0;
    }
  }

  private handleHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'HEADERS on an invalid stream id');
    }
    let fragment = this.unpadded(flags, payload);
    if ((flags & FrameFlag.priority) !== 0) {
      if (fragment.length < 5) {
        throw new ConnectionError(H2ErrorCode.frameSizeError, 'HEADERS priority fields cut short');
      }
      fragment = fragment.subarray(5);
    }
    const block: OpenHeaderBlock = {
      streamId,
      endStream: (flags & FrameFlag.endStream) !== 0,
      fragments: [fragment],
      sizeBytes: fragment.length,
    };
    if ((flags & FrameFlag.endHeaders) === 0) {
      this.openBlock = block;
      return;
    }
    this.headerBlockComplete(block);
  }

  private handleContinuation(flags: number, streamId: number, payload: Buffer): void {
    const block = this.openBlock;
    if (block === undefined || block.streamId !== streamId) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'unexpected CONTINUATION');
    }
    block.fragments.push(payload);
    block.sizeBytes += payload.length;
    // Hpack may expand a block, never shrink one below a fifth: a block this large is over.
    if (block.sizeBytes > this.options.maxHeaderListBytes + maxReadFramePayloadBytes) {
      throw new ConnectionError(H2ErrorCode.enhanceYourCalm, 'header block too large');
    }
    if ((flags & FrameFlag.endHeaders) === 0) return;
    this.openBlock = undefined;
    this.headerBlockComplete(block);
  }

  private headerBlockComplete(block: OpenHeaderBlock): void {
    const bytes =
      block.fragments.length === 1
        ? (block.fragments[0] ?? Buffer.alloc(0))
        : Buffer.concat(block.fragments);
    const size = {listSizeBytes: 0};
    let fields;
    try {
      // Every block is decoded, a refused stream's too, to keep the table in step.
      fields = this.decoder.decode(bytes, size);
    } catch (error) {
      if (error instanceof HpackError) {
        throw new ConnectionError(H2ErrorCode.compressionError, error.message);
      }
      throw error;
    }
    const {streamId} = block;
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers: they must end the stream.
      if (existing.state !== 'open' && existing.state !== 'halfClosedLocal') {
        this.resetStream(existing, H2ErrorCode.streamClosed);
        return;
      }
      if (!block.endStream || !checkTrailers(fields)) {
        this.resetStream(existing, H2ErrorCode.protocolError);
        return;
      }
      this.endRemote(existing);
      return;
    }
    if (streamId <= this.lastStreamId) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'HEADERS on a closed stream');
    }
    this.lastStreamId = streamId;
    if (this.goingAway) return;
    if (this.streams.size >= this.options.maxConcurrentStreams) {
      this.resetId(streamId, H2ErrorCode.refusedStream);
      return;
    }
    if (size.listSizeBytes > this.options.maxHeaderListBytes) {
      this.resetId(streamId, H2ErrorCode.protocolError);
      return;
    }
    if (!checkRequestHead(fields, this.secure)) {
      this.resetId(streamId, H2ErrorCode.protocolError);
      return;
    }
    const stream = new H2Stream(
      streamId,
      fields,
      this,
      this.options.streamWindowBytes,
      this.peerStreamWindowBytes,
    );
    this.streams.set(streamId, stream);
    if (block.endStream) stream.receiveEnd();
    this.onStream(stream);
  }

  private endRemote(stream: H2Stream): void {
    stream.receiveEnd();
    if (stream.state === 'closed') this.forget(stream);
  }

  private handleRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2ErrorCode.protocolError, 'RST_STREAM on 0');
    if (payload.length !== 4)
      throw new ConnectionError(H2ErrorCode.frameSizeError, 'RST_STREAM size');
    if (streamId > this.lastStreamId) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'RST_STREAM on an idle stream');
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.forget(stream);
    stream.markClosed();
  }

  private handleSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0)
      throw new ConnectionError(H2ErrorCode.protocolError, 'SETTINGS on a stream');
    if ((flags & FrameFlag.ack) !== 0) {
      if (payload.length !== 0)
        throw new ConnectionError(H2ErrorCode.frameSizeError, 'SETTINGS ack size');
      return;
    }
    if (payload.length % 6 !== 0)
      throw new ConnectionError(H2ErrorCode.frameSizeError, 'SETTINGS size');
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case H2Setting.enablePush:
          if (value > 1) throw new ConnectionError(H2ErrorCode.protocolError, 'ENABLE_PUSH');
          break;
        case H2Setting.initialWindowSize: {
          if (value > largestWindowBytes) {
            throw new ConnectionError(H2ErrorCode.flowControlError, 'INITIAL_WINDOW_SIZE');
          }
          const delta = value - this.peerStreamWindowBytes;
          this.peerStreamWindowBytes = value;
          for (const stream of this.streams.values()) {
            stream.sendWindowBytes += delta;
            if (stream.sendWindowBytes > largestWindowBytes) {
              throw new ConnectionError(H2ErrorCode.flowControlError, 'window overflow');
            }
          }
          if (delta > 0) for (const stream of this.streams.values()) this.flushData(stream);
          break;
        }
        case H2Setting.maxFrameSize:
          if (value < 16_384 || value > largestFramePayloadBytes) {
            throw new ConnectionError(H2ErrorCode.protocolError, 'MAX_FRAME_SIZE');
          }
          this.peerMaxFrameBytes = value;
          break;
        default:
        // HEADER_TABLE_SIZE: this side's encoder never uses the dynamic table.
        // MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_SIZE: the server starts no streams and
        // sends small header lists.
      }
    }
    this.sendFrame(FrameType.settings, FrameFlag.ack, 0, Buffer.alloc(0));
  }

  private handleWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4)
      throw new ConnectionError(H2ErrorCode.frameSizeError, 'WINDOW_UPDATE size');
    const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
    if (streamId === 0) {
      if (increment === 0)
        throw new ConnectionError(H2ErrorCode.protocolError, 'WINDOW_UPDATE of 0');
      this.sendWindowBytes += increment;
      if (this.sendWindowBytes > largestWindowBytes) {
        throw new ConnectionError(H2ErrorCode.flowControlError, 'connection window overflow');
      }
      const blocked = [...this.blocked];
      this.blocked.clear();
      for (const stream of blocked) this.flushData(stream);
      return;
    }
    if (streamId > this.lastStreamId) {
      throw new ConnectionError(H2ErrorCode.protocolError, 'WINDOW_UPDATE on an idle stream');
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) {
      this.resetStream(stream, H2ErrorCode.protocolError);
      return;
    }
    stream.sendWindowBytes += increment;
    if (stream.sendWindowBytes > largestWindowBytes) {
      this.resetStream(stream, H2ErrorCode.flowControlError);
      return;
    }
    this.flushData(stream);
  }

  // ---- writing

  sendHeaderBlock(stream: H2Stream, block: Buffer, endStream: boolean): void {
    if (this.ended) return;
    const max = this.peerMaxFrameBytes;
    let offset = Math.min(block.length, max);
    this.sendFrame(
      FrameType.headers,
      (endStream ? FrameFlag.endStream : 0) | (offset === block.length ? FrameFlag.endHeaders : 0),
      stream.id,
      block.subarray(0, offset),
    );
    while (offset < block.length) {
      const end = Math.min(block.length, offset + max);
      this.sendFrame(
        FrameType.continuation,
        end === block.length ? FrameFlag.endHeaders : 0,
        stream.id,
        block.subarray(offset, end),
      );
      offset = end;
    }
    if (endStream) this.endLocal(stream);
  }

  flushData(stream: H2Stream): void {
    if (this.ended || stream.state === 'closed') return;
    while (stream.outQueuedBytes > 0) {
      const allowed = Math.min(
        stream.sendWindowBytes,
        this.sendWindowBytes,
        this.peerMaxFrameBytes,
      );
      if (allowed <= 0) {
        if (this.sendWindowBytes <= 0) this.blocked.add(stream);
        return;
      }
      const n = Math.min(allowed, stream.outQueuedBytes);
      const endsHere =
        n === stream.outQueuedBytes &&
        stream.endPending !== undefined &&
        stream.endPending.trailers === undefined;
      this.queueFrameHeader(n, FrameType.data, endsHere ? FrameFlag.endStream : 0, stream.id);
      let left = n;
      while (left > 0) {
        const head = stream.outQueue[0];
        if (head === undefined) break;
        const available = head.length - stream.outOffset;
        if (available <= left) {
          this.queueBytes(stream.outOffset === 0 ? head : head.subarray(stream.outOffset));
          stream.outQueue.shift();
          stream.outOffset = 0;
          left -= available;
        } else {
          this.queueBytes(head.subarray(stream.outOffset, stream.outOffset + left));
          stream.outOffset += left;
          left = 0;
        }
      }
      stream.outQueuedBytes -= n;
      stream.sendWindowBytes -= n;
      this.sendWindowBytes -= n;
      if (endsHere) {
        this.finishEnd(stream, false);
        return;
      }
    }
    if (stream.endPending !== undefined) {
      const {trailers} = stream.endPending;
      if (trailers === undefined)
        this.sendFrame(FrameType.data, FrameFlag.endStream, stream.id, Buffer.alloc(0));
      else this.sendHeaderBlock(stream, trailers, true);
      this.finishEnd(stream, trailers === undefined);
      return;
    }
    if (stream.hasWriters) stream.notifyWritable();
  }

  /** The response's end went out: half-close, and reset a stream the client still sends on. */
  private finishEnd(stream: H2Stream, endLocalNeeded: boolean): void {
    const resetAfter = stream.endPending?.resetAfter === true;
    stream.endPending = undefined;
    if (endLocalNeeded || stream.state !== 'closed') {
      if (!stream.localEnded) this.endLocal(stream);
    }
    if (resetAfter && stream.state !== 'closed' && !stream.requestEnded) {
      this.resetStream(stream, H2ErrorCode.noError);
    }
  }

  private endLocal(stream: H2Stream): void {
    stream.localEnded = true;
    if (stream.state === 'open') stream.state = 'halfClosedLocal';
    else if (stream.state === 'halfClosedRemote') {
      this.forget(stream);
      stream.markClosed();
    }
  }

  resetStream(stream: H2Stream, code: number): void {
    if (stream.state === 'closed') return;
    this.resetId(stream.id, code);
    this.forget(stream);
    stream.markClosed();
  }

  private resetId(streamId: number, code: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(code, 0);
    this.sendFrame(FrameType.rstStream, 0, streamId, payload);
  }

  private forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.maybeEndAfterGoaway();
  }

  private maybeEndAfterGoaway(): void {
    if (this.goingAway && this.streams.size === 0 && !this.ended) {
      this.flush();
      this.transport.end();
    }
  }

  private sendWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.sendFrame(FrameType.windowUpdate, 0, streamId, payload);
  }

  private sendGoaway(code: number, debug: string): void {
    const payload = Buffer.allocUnsafe(8 + Buffer.byteLength(debug));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(debug, 8);
    this.sendFrame(FrameType.goaway, 0, 0, payload);
  }

  /** A connection error: GOAWAY with the code, then the connection closes. */
  private failConnection(code: number, debug: string): void {
    if (this.ended) return;
    this.sendGoaway(code, debug);
    this.flush();
    this.ended = true;
    this.transport.end();
    this.endStreams();
    // The socket closes once the client has read the GOAWAY, or soon anyway.
    setTimeout(() => this.transport.destroy(), 1000).unref();
  }

  private sendFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.queueFrameHeader(payload.length, type, flags, streamId);
    if (payload.length > 0) this.queueBytes(payload);
  }

  private queueFrameHeader(length: number, type: number, flags: number, streamId: number): void {
    const header = Buffer.allocUnsafe(frameHeaderBytes);
    header[0] = length >>> 16;
    header[1] = (length >>> 8) & 0xff;
    header[2] = length & 0xff;
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(streamId, 5);
    this.queueBytes(header);
  }

  private queueBytes(bytes: Buffer): void {
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Writes what the turn gathered: one write, one buffer when small. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.transport.destroyed || this.transport.writableEnded) return;
    if (out.length === 1 || bytes <= joinedWriteBytes) {
      this.transport.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, bytes));
    } else {
      this.transport.cork();
      for (const piece of out) this.transport.write(piece);
      this.transport.uncork();
    }
    if (!this.transport.writableNeedDrain) this.wakeWriters();
  }

  private wakeWriters(): void {
    for (const stream of this.streams.values()) if (stream.hasWriters) stream.notifyWritable();
  }

  private closed(): void {
    this.ended = true;
    this.out = [];
    this.outBytes = 0;
    this.endStreams();
    const listeners = this.closeListeners.splice(0);
    for (const listener of listeners) listener();
  }

  private endStreams(): void {
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.blocked.clear();
    for (const stream of streams) stream.markClosed();
  }
}
