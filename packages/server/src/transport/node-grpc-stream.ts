import http2 from 'node:http2';
import type net from 'node:net';

import type {Metadata} from 'nice-grpc-common';

import {encodeGrpcMessage, forEachMetadataField} from './grpc-stream.js';
import type {GrpcStream} from './grpc-stream.js';

/** A metadata map as a Node header object. */
function metadataHeaders(
  metadata: Metadata | undefined,
  into: Record<string, string | string[]>,
): Record<string, string | string[]> {
  forEachMetadataField(metadata, (name, value) => {
    const before = into[name];
    into[name] =
      before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  });
  return into;
}

/** A gRPC call's stream on Node's HTTP/2 server (`node:http2`), as {@link GrpcStream}. */
export class NodeGrpcStream implements GrpcStream {
  private readonly headers: http2.IncomingHttpHeaders;
  private onDataListener: ((chunk: Buffer) => void) | undefined;
  private onEndListener: (() => void) | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ) {
    this.headers = headers;
    // A reset stream reports an error; the call sees it as its 'close'.
    stream.on('error', () => undefined);
  }

  get path(): string {
    return this.headers[':path'] ?? '';
  }

  header(name: string): string | undefined {
    const value = this.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  forEachHeader(visit: (name: string, value: string) => void): void {
    for (const [name, value] of Object.entries(this.headers)) {
      if (name.startsWith(':') || value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) visit(name, v);
      else visit(name, value);
    }
  }

  get socket(): net.Socket | undefined {
    return this.stream.session?.socket;
  }

  get closed(): boolean {
    return this.stream.destroyed;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get requestEnded(): boolean {
    return this.stream.readableEnded;
  }

  readRequest(onData: (chunk: Buffer) => void, onEnd: () => void): void {
    this.onDataListener = onData;
    this.onEndListener = onEnd;
    this.stream.on('data', onData);
    this.stream.once('end', onEnd);
  }

  discardRequest(): void {
    if (this.onDataListener !== undefined) this.stream.off('data', this.onDataListener);
    if (this.onEndListener !== undefined) this.stream.off('end', this.onEndListener);
    // The rest of the body is drained unread, as grpc-go leaves it.
    this.stream.resume();
  }

  onClose(listener: () => void): void {
    this.stream.once('close', listener);
  }

  sendHeaders(metadata: Metadata | undefined): void {
    if (this.stream.headersSent || this.stream.destroyed) return;
    this.stream.respond(
      metadataHeaders(metadata, {':status': '200', 'content-type': 'application/grpc'}),
      {waitForTrailers: true},
    );
  }

  sendMessage(message: Uint8Array): boolean {
    const frame = Buffer.allocUnsafe(5 + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    return this.stream.write(frame);
  }

  whenWritable(): Promise<void> {
    return new Promise<void>(resolve => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.once('drain', done);
      this.stream.once('close', done);
    });
  }

  sendStatus(code: number, message: string, trailer: Metadata | undefined): void {
    if (this.stream.destroyed) return;
    this.stream.once('wantTrailers', () => {
      const trailers = metadataHeaders(trailer, {});
      trailers['grpc-status'] = String(code);
      if (message !== '') trailers['grpc-message'] = encodeGrpcMessage(message);
      this.stream.sendTrailers(trailers);
      this.closeIfClientSending();
    });
    this.stream.end();
  }

  sendTrailersOnly(code: number, message: string): void {
    if (this.stream.destroyed || this.stream.headersSent) return;
    this.stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(code),
        'grpc-message': encodeGrpcMessage(message),
      },
      {endStream: true},
    );
    this.closeIfClientSending();
  }

  /**
   * Resets a stream the client has not half-closed with NO_ERROR. Node submits the trailers
   * to nghttp2 when this runs, and a reset submitted in the same turn could overtake them:
   * the reset waits for the next turn, by when nghttp2 has written the trailers.
   */
  private closeIfClientSending(): void {
    if (this.stream.readableEnded) return;
    setImmediate(() => {
      if (!this.stream.readableEnded && !this.stream.destroyed) {
        this.stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }
    });
  }
}
