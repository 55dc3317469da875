import type http2 from 'node:http2';
import type net from 'node:net';
import {Duplex} from 'node:stream';

import {HeaderBlockFrames} from './header-block-frames.js';
import {HeaderBlockRewriter} from './header-block-rewriter.js';
import {frameHeaderBytes, FrameType, readFrameHeader} from './http2-frame-header.js';
import type {Http2FrameHeader} from './http2-frame-header.js';

/** The client connection preface (RFC 9113 §3.4), which passes first, unchanged. */
const clientPrefaceBytes = 24;
/**
 * A header block larger than this is passed on as it came, and everything after it: the
 * rewriter holds a block whole before the server sees any of it, and must not hold more.
 */
const largestHeldBlockBytes = 256 * 1024;

/**
 * Stands between a client's HTTP/2 connection and Node's HTTP/2 server, for the connections
 * whose requests carry headers the server refuses where etcd serves them (etcdctl 3.4 sends
 * the endpoint URL as `:authority`; other grpc-go clients may leave out `:scheme` or the
 * leading slash of `:path`): the server reads this stream instead of the socket.
 *
 * Client to server, frames pass unchanged except header blocks (HEADERS and CONTINUATION),
 * which {@link HeaderBlockRewriter} rewrites, by the rules of etcd's server for a TLS
 * connection when the socket is one, and which are framed again when it changed them: same
 * END_STREAM and priority fields, no padding, split into CONTINUATION frames at 16,384
 * octets, which every server accepts. A HEADERS frame on a stream newer than any before it
 * starts a request; one on an older stream carries trailers. Server to client, bytes pass
 * untouched.
 *
 * Back-pressure, end, errors and destruction travel both ways as between the server and a
 * socket. Node's server reads a JavaScript stream through a socket of its own, so the
 * session's `socket` would show neither the client's address nor its certificate: see
 * {@link showClientSocketsToGrpc}.
 *
 * The cost is one pass over every byte from the client in JavaScript, and Node's
 * JavaScript stream bridge in both directions; clients that need no rewriting are handed
 * the socket itself.
 */
export class AuthorityRewriter extends Duplex {
  private readonly headerBlocks: HeaderBlockRewriter;
  /** The newest stream a request started on: client streams only ever grow (RFC 9113 §5.1.1). */
  private newestStreamId = 0;
  private prefaceLeftBytes = clientPrefaceBytes;
  /** A frame header split across chunks, until its 9 octets are in. */
  private partialHeader: Buffer | undefined;
  /** Payload octets still to pass through of the frame being passed on. */
  private passLeftBytes = 0;
  /** A HEADERS or CONTINUATION frame being read whole: its header and the chunks so far. */
  private holding: {header: Http2FrameHeader; parts: Buffer[]; missingBytes: number} | undefined;
  /** A header block still waiting for CONTINUATION frames. */
  private openBlock: HeaderBlockFrames | undefined;
  /** Set after something this class does not follow: every byte from then on passes as is. */
  private passEverything = false;
  /** What one chunk turns into, adjacent slices of one buffer merged. */
  private outgoing: Buffer[] = [];

  /**
   * @param socket The client's connection, paused.
   * @param replay What was already read from it, from the connection preface on.
   */
  constructor(
    readonly socket: net.Socket,
    replay: Buffer,
  ) {
    super();
    this.headerBlocks = new HeaderBlockRewriter({secure: isEncrypted(socket)});
    socket.on('data', (chunk: Buffer) => {
      if (!this.pushAll(this.translate(chunk))) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.on('error', error => this.destroy(error));
    socket.once('close', () => this.destroy());
    this.pushAll(this.translate(replay));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** What ALPN chose on a TLS connection, which Node's HTTP/2 server checks first. */
  get alpnProtocol(): string | false | undefined {
    return (this.socket as {alpnProtocol?: string | false}).alpnProtocol;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.whenFlushed(this.socket.write(chunk), done);
  }

  override _writev(
    chunks: {chunk: Buffer; encoding: BufferEncoding}[],
    done: (error?: Error | null) => void,
  ): void {
    this.socket.cork();
    let flushed = true;
    for (const {chunk} of chunks) flushed = this.socket.write(chunk);
    this.socket.uncork();
    this.whenFlushed(flushed, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(() => {
      done();
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    done(error);
  }

  /** Calls `done` now, or once the socket drains if its last write asked the writer to wait. */
  private whenFlushed(flushed: boolean, done: () => void): void {
    if (flushed) done();
    else this.socket.once('drain', done);
  }

  private pushAll(pieces: readonly Buffer[]): boolean {
    let flowing = true;
    for (const piece of pieces) flowing = this.push(piece) && flowing;
    return flowing;
  }

  /** What the server must read for this chunk from the client. */
  private translate(chunk: Buffer): Buffer[] {
    this.outgoing = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.passEverything) {
        this.queue(chunk.subarray(at));
        break;
      }
      if (this.prefaceLeftBytes > 0 || this.passLeftBytes > 0) {
        const n = Math.min(chunk.length - at, this.prefaceLeftBytes || this.passLeftBytes);
        this.queue(chunk.subarray(at, at + n));
        if (this.prefaceLeftBytes > 0) this.prefaceLeftBytes -= n;
        else this.passLeftBytes -= n;
        at += n;
        continue;
      }
      if (this.holding !== undefined) {
        const n = Math.min(chunk.length - at, this.holding.missingBytes);
        this.holding.parts.push(chunk.subarray(at, at + n));
        this.holding.missingBytes -= n;
        at += n;
        if (this.holding.missingBytes === 0) this.frameHeld();
        continue;
      }
      at = this.readFrameHeaderAt(chunk, at);
    }
    return this.outgoing;
  }

  /** Reads (part of) a frame header at `at`; returns where reading goes on. */
  private readFrameHeaderAt(chunk: Buffer, at: number): number {
    const missing = frameHeaderBytes - (this.partialHeader?.length ?? 0);
    if (chunk.length - at < missing) {
      const part = chunk.subarray(at);
      this.partialHeader =
        this.partialHeader === undefined
          ? Buffer.from(part)
          : Buffer.concat([this.partialHeader, part]);
      return chunk.length;
    }
    const headerBytes =
      this.partialHeader === undefined
        ? chunk.subarray(at, at + missing)
        : Buffer.concat([this.partialHeader, chunk.subarray(at, at + missing)]);
    this.partialHeader = undefined;
    const header = readFrameHeader(headerBytes);
    if (header.type === FrameType.headers || header.type === FrameType.continuation) {
      this.holding = {header, parts: [headerBytes], missingBytes: header.length};
      if (header.length === 0) this.frameHeld();
    } else if (this.openBlock !== undefined) {
      // RFC 9113 §6.10: nothing may come between a block's frames; the server ends the
      // connection, and this class follows no further.
      this.giveUp();
      this.queue(headerBytes);
    } else {
      this.queue(headerBytes);
      this.passLeftBytes = header.length;
    }
    return at + missing;
  }

  /** A HEADERS or CONTINUATION frame is in whole. */
  private frameHeld(): void {
    const held = this.holding;
    if (held === undefined) return;
    this.holding = undefined;
    const frame =
      held.parts.length === 1 ? (held.parts[0] ?? Buffer.alloc(0)) : Buffer.concat(held.parts);
    if (held.header.type === FrameType.headers && this.openBlock === undefined) {
      this.openBlock = HeaderBlockFrames.start(held.header, frame);
      if (this.openBlock === undefined) {
        this.giveUp();
        this.queue(frame);
        return;
      }
    } else if (this.openBlock?.continueWith(held.header, frame) !== true) {
      this.giveUp();
      this.queue(frame);
      return;
    }
    const block = this.openBlock;
    if (block.complete) {
      this.openBlock = undefined;
      const original = block.block();
      const startsRequest = block.streamId > this.newestStreamId;
      if (startsRequest) this.newestStreamId = block.streamId;
      const rewritten = this.headerBlocks.rewrite(original, startsRequest ? 'request' : 'trailers');
      if (rewritten === original) for (const f of block.frames) this.queue(f);
      else this.queue(block.encode(rewritten));
    } else if (block.sizeBytes > largestHeldBlockBytes) {
      this.giveUp();
    }
  }

  /** Passes on what is held as it came, and everything after it. */
  private giveUp(): void {
    for (const frame of this.openBlock?.frames ?? []) this.queue(frame);
    this.openBlock = undefined;
    this.passEverything = true;
  }

  /** Queues `piece` for the server, merged with the previous one when they are adjacent. */
  private queue(piece: Buffer): void {
    if (piece.length === 0) return;
    const last = this.outgoing.at(-1);
    if (
      last !== undefined &&
      last.buffer === piece.buffer &&
      last.byteOffset + last.length === piece.byteOffset
    ) {
      this.outgoing[this.outgoing.length - 1] = Buffer.from(
        last.buffer,
        last.byteOffset,
        last.length + piece.length,
      );
      return;
    }
    this.outgoing.push(piece);
  }
}

/** Whether a socket is a TLS one. */
export function isEncrypted(socket: net.Socket): boolean {
  return (socket as {encrypted?: boolean}).encrypted === true;
}

/**
 * Makes the HTTP/2 sessions an HTTP/2 server starts on an {@link AuthorityRewriter} show the
 * client's own socket as `session.socket`, where a call's peer address and, on TLS, its
 * verified certificate are read (Synod's client-certificate authentication uses it). Node
 * hands a JavaScript stream to its HTTP/2 server through a socket of its own, which has
 * neither, and is not a `tls.TLSSocket`.
 */
export function showClientSockets(http2Server: http2.Http2Server): void {
  http2Server.prependListener('session', (session: http2.ServerHttp2Session) => {
    // The session's socket forwards what it does not guard to Node's bridge socket, whose
    // `stream` is the stream it was given.
    const given = (session.socket as unknown as {stream?: unknown}).stream;
    if (!(given instanceof AuthorityRewriter)) return;
    Object.defineProperty(session, 'socket', {value: given.socket, configurable: true});
  });
}
