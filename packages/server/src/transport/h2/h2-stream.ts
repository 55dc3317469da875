import type net from 'node:net';

import type {Metadata} from 'nice-grpc-common';

import {encodeGrpcMessage, forEachMetadataField} from '../grpc-stream.js';
import type {GrpcStream} from '../grpc-stream.js';
import type {HeaderFields} from './hpack-decoder.js';
import {encodeHeaderField} from './hpack-encoder.js';
import {H2ErrorCode} from './h2-protocol.js';

/** What a stream needs of its connection: where its frames go. */
export interface H2StreamHost {
  /** The client's own socket, for its address and TLS certificate. */
  readonly socket: net.Socket | undefined;
  /** Queues a header block (HEADERS, CONTINUATION as needed) for the stream. */
  sendHeaderBlock(stream: H2Stream, block: Buffer, endStream: boolean): void;
  /** Sends what the stream queued as far as the flow-control windows allow. */
  flushData(stream: H2Stream): void;
  /** Resets the stream: RST_STREAM with `code`, then it is closed. */
  resetStream(stream: H2Stream, code: number): void;
  /** Whether the connection's outgoing bytes should wait for the socket to drain. */
  readonly congested: boolean;
}

/**
 * Where a stream is in its life (RFC 9113 §5.1), from the server's side. A stream is made
 * when its HEADERS frame arrives, so it starts open, or half-closed (remote) when that
 * frame carried END_STREAM.
 *
 * open --END_STREAM in--> half-closed (remote) --END_STREAM out--> closed
 * open --END_STREAM out--> half-closed (local) --END_STREAM in--> closed
 * any --RST_STREAM either way, or the connection closing--> closed
 */
export type H2StreamState = 'open' | 'halfClosedRemote' | 'halfClosedLocal' | 'closed';

/** `:status 200` and `content-type: application/grpc`: every gRPC response starts so. */
const grpcResponseHeaders = Buffer.concat([
  encodeHeaderField(':status', '200'),
  encodeHeaderField('content-type', 'application/grpc'),
]);
/** `grpc-status: <code>` for each code gRPC defines, encoded once. */
const grpcStatusFields = Array.from({length: 17}, (_, code) =>
  encodeHeaderField('grpc-status', String(code)),
);

function grpcStatusField(code: number): Buffer {
  return grpcStatusFields[code] ?? encodeHeaderField('grpc-status', String(code));
}

function metadataBlock(metadata: Metadata | undefined, parts: Buffer[]): void {
  forEachMetadataField(metadata, (name, value) => {
    parts.push(encodeHeaderField(name, value));
  });
}

/**
 * One HTTP/2 stream of an {@link H2Connection}: the request's header fields, its body as it
 * comes, and the response as frames queued on the connection. Serves a gRPC call as a
 * {@link GrpcStream}, and an HTTP request through `h2Exchange`.
 *
 * Outgoing DATA waits in {@link outQueue} for the stream's and the connection's send windows;
 * the end of the response (trailers, or END_STREAM on an empty DATA frame) waits behind it.
 */
export class H2Stream implements GrpcStream {
  state: H2StreamState;
  /** Bytes the client may still send on this stream before a WINDOW_UPDATE. */
  receiveWindowBytes: number;
  /** Bytes received and handed on since the last WINDOW_UPDATE for this stream. */
  unacknowledgedBytes = 0;
  /** Bytes this side may still send, by the client's window for the stream. */
  sendWindowBytes: number;
  /** DATA payload waiting for a send window, oldest first; `outOffset` into the first. */
  readonly outQueue: Buffer[] = [];
  outOffset = 0;
  outQueuedBytes = 0;
  /** The end of the response, once asked for: trailers (or none), sent after the data. */
  endPending: {readonly trailers: Buffer | undefined; readonly resetAfter: boolean} | undefined;
  headersSent = false;
  /** Whether END_STREAM has gone out (or the stream closed). */
  localEnded = false;
  private readonly dataBuffered: Buffer[] = [];
  private onDataListener: ((chunk: Buffer) => void) | undefined;
  private onEndListener: (() => void) | undefined;
  private remoteEnded = false;
  private endDelivered = false;
  private discarding = false;
  private closeListeners: (() => void)[] | undefined;
  private writableWaiters: (() => void)[] | undefined;

  constructor(
    readonly id: number,
    /** The request's header fields, flat: name, value, name, value... */
    readonly fields: HeaderFields,
    private readonly host: H2StreamHost,
    receiveWindowBytes: number,
    sendWindowBytes: number,
  ) {
    this.state = 'open';
    this.receiveWindowBytes = receiveWindowBytes;
    this.sendWindowBytes = sendWindowBytes;
  }

  get path(): string {
    return this.header(':path') ?? '';
  }

  header(name: string): string | undefined {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === name) return fields[i + 1];
    }
    return undefined;
  }

  forEachHeader(visit: (name: string, value: string) => void): void {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i] ?? '';
      if (!name.startsWith(':')) visit(name, fields[i + 1] ?? '');
    }
  }

  get socket(): net.Socket | undefined {
    return this.host.socket;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  get requestEnded(): boolean {
    return this.remoteEnded;
  }

  // ---- the request, as the connection delivers it

  /** @internal A DATA frame's payload for this stream. */
  receiveData(chunk: Buffer): void {
    if (this.discarding || chunk.length === 0) return;
    if (this.onDataListener === undefined) this.dataBuffered.push(chunk);
    else this.onDataListener(chunk);
  }

  /** @internal The client half-closed the stream. */
  receiveEnd(): void {
    this.remoteEnded = true;
    this.state = this.state === 'halfClosedLocal' ? 'closed' : 'halfClosedRemote';
    this.deliverEnd();
  }

  private deliverEnd(): void {
    if (this.endDelivered || this.discarding || this.onEndListener === undefined) return;
    if (!this.remoteEnded) return;
    this.endDelivered = true;
    this.onEndListener();
  }

  readRequest(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    this.onDataListener = onData;
    this.onEndListener = onEnd;
    while (this.dataBuffered.length > 0 && !this.discarding) {
      const chunk = this.dataBuffered.shift();
      if (chunk !== undefined) onData(chunk);
    }
    this.deliverEnd();
  }

  discardRequest(): void {
    this.discarding = true;
    this.dataBuffered.length = 0;
  }

  onClose(listener: () => void): void {
    if (this.state === 'closed') {
      listener();
      return;
    }
    (this.closeListeners ??= []).push(listener);
  }

  /** @internal The stream is closed: reset either way, ended both ways, or its connection gone. */
  markClosed(): void {
    if (this.closeListeners === undefined && this.writableWaiters === undefined) {
      this.state = 'closed';
      this.localEnded = true;
      return;
    }
    this.state = 'closed';
    this.localEnded = true;
    this.outQueue.length = 0;
    this.outQueuedBytes = 0;
    this.endPending = undefined;
    const listeners = this.closeListeners ?? [];
    this.closeListeners = undefined;
    for (const listener of listeners) listener();
    this.notifyWritable();
  }

  // ---- the response

  /** Sends a response header block (already encoded); `endStream` for a headers-only answer. */
  sendHeaderBlock(block: Buffer, endStream: boolean): void {
    if (this.state === 'closed' || this.headersSent) return;
    this.headersSent = true;
    this.host.sendHeaderBlock(this, block, endStream);
  }

  /** Queues DATA payload; false when the caller should wait for {@link whenWritable}. */
  writeData(...chunks: Buffer[]): boolean {
    if (this.state === 'closed' || this.localEnded || this.endPending !== undefined) return false;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.outQueue.push(chunk);
      this.outQueuedBytes += chunk.length;
    }
    this.host.flushData(this);
    return this.outQueuedBytes === 0 && !this.host.congested;
  }

  /**
   * Ends the response after the queued data: with a trailer block, or an empty DATA frame
   * with END_STREAM. `resetAfter`: once the end is out, reset a stream the client is still
   * sending on with NO_ERROR (gRPC's way of ending a call early).
   */
  endResponse(trailers: Buffer | undefined, resetAfter = false): void {
    if (this.state === 'closed' || this.localEnded || this.endPending !== undefined) return;
    this.endPending = {trailers, resetAfter};
    this.host.flushData(this);
  }

  whenWritable(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise(resolve => {
      (this.writableWaiters ??= []).push(resolve);
    });
  }

  /** @internal The queue emptied and the connection can take more: wake the writers. */
  notifyWritable(): void {
    const waiters = this.writableWaiters;
    if (waiters === undefined) return;
    if (this.state !== 'closed' && (this.outQueuedBytes > 0 || this.host.congested)) return;
    this.writableWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  /** @internal Whether a writer waits for this stream to take more. */
  get hasWriters(): boolean {
    return this.writableWaiters !== undefined;
  }

  /** Resets the stream with `code` (CANCEL, say): the client sees RST_STREAM. */
  reset(code: number = H2ErrorCode.cancel): void {
    if (this.state === 'closed') return;
    this.host.resetStream(this, code);
  }

  // ---- GrpcStream

  sendHeaders(metadata: Metadata | undefined): void {
    if (this.headersSent || this.state === 'closed') return;
    if (metadata === undefined) {
      this.sendHeaderBlock(grpcResponseHeaders, false);
      return;
    }
    const parts = [grpcResponseHeaders];
    metadataBlock(metadata, parts);
    this.sendHeaderBlock(Buffer.concat(parts), false);
  }

  sendMessage(message: Uint8Array): boolean {
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    const body = Buffer.isBuffer(message)
      ? message
      : Buffer.from(message.buffer, message.byteOffset, message.length);
    return this.writeData(prefix, body);
  }

  sendStatus(code: number, message: string, trailer: Metadata | undefined): void {
    const parts: Buffer[] = [];
    metadataBlock(trailer, parts);
    parts.push(grpcStatusField(code));
    if (message !== '') parts.push(encodeHeaderField('grpc-message', encodeGrpcMessage(message)));
    this.endResponse(parts.length === 1 ? parts[0] : Buffer.concat(parts), true);
  }

  sendTrailersOnly(code: number, message: string): void {
    if (this.headersSent || this.state === 'closed') return;
    const block = Buffer.concat([
      grpcResponseHeaders,
      grpcStatusField(code),
      encodeHeaderField('grpc-message', encodeGrpcMessage(message)),
    ]);
    this.sendHeaderBlock(block, true);
    if (!this.remoteEnded && !this.closed) this.reset(H2ErrorCode.noError);
  }
}
