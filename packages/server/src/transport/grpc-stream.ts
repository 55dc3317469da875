import type net from 'node:net';

import type {Metadata} from 'nice-grpc-common';

/**
 * Added, as `1`, to a request whose `:path` an HTTP/2 engine gave the leading slash it lacked
 * (etcd 3.4's plaintext server routes such a path): {@link GrpcServer} then quotes a malformed
 * method name as the client sent it, as grpc-go does.
 */
export const pathSlashAddedHeader = 'synod-path-slash-added';

/**
 * What {@link GrpcServer} needs of one HTTP/2 stream carrying a gRPC call, so that one copy of
 * the gRPC semantics serves every HTTP/2 engine: Node's `http2` module
 * ({@link NodeGrpcStream}) and Synod's own (`h2/h2-stream.ts`).
 *
 * Responses are sent in gRPC's order: {@link sendHeaders} once, then messages, then
 * {@link sendStatus}; or {@link sendTrailersOnly} alone. Both status senders reset the stream
 * with NO_ERROR once the status is written when the client has not half-closed, as grpc-go
 * does: the call is over, whatever the client still meant to send.
 */
export interface GrpcStream {
  /** The request's `:path`. */
  readonly path: string;
  /** A request header by its lower-case name; a repeated header's first value. */
  header(name: string): string | undefined;
  /** Every request header that is no pseudo-header, in the order sent. */
  forEachHeader(visit: (name: string, value: string) => void): void;
  /** The client's own socket (its address and, on TLS, its certificate), if known. */
  readonly socket: net.Socket | undefined;
  /** Whether the stream is gone (reset, or its connection closed): nothing more goes out. */
  readonly closed: boolean;
  /** Whether the response headers went out. */
  readonly headersSent: boolean;
  /** Whether the client half-closed the stream. */
  readonly requestEnded: boolean;
  /**
   * Delivers the request body's chunks to `onData`, then calls `onEnd` at the client's
   * half-close. Only one reader.
   */
  readRequest(onData: (chunk: Buffer) => void, onEnd: () => void): void;
  /** Stops delivering the request body; what the client still sends is read and dropped. */
  discardRequest(): void;
  /** Calls `listener` once when the stream closes, for whatever reason. */
  onClose(listener: () => void): void;
  /** Sends `:status 200`, `content-type: application/grpc` and the handler's header metadata. */
  sendHeaders(metadata: Metadata | undefined): void;
  /** Sends one message, gRPC-framed; false when the caller should wait for {@link whenWritable}. */
  sendMessage(message: Uint8Array): boolean;
  /** Resolves when the stream can take more messages, or is closed. */
  whenWritable(): Promise<void>;
  /** Ends a response whose headers were sent with the status and the trailer metadata. */
  sendStatus(code: number, message: string, trailer: Metadata | undefined): void;
  /** Answers with the status alone, in one HEADERS frame that ends the stream. */
  sendTrailersOnly(code: number, message: string): void;
}

/**
 * grpc-message's encoding: percent-encoded UTF-8 outside printable ASCII, and `%` itself.
 *
 * Example: `naïve 100%` is sent as `na%C3%AFve 100%25`.
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A metadata map's entries as header fields (binary values base64, as `-bin` keys carry). */
export function forEachMetadataField(
  metadata: Metadata | undefined,
  visit: (name: string, value: string) => void,
): void {
  if (metadata === undefined) return;
  for (const [key, values] of metadata) {
    for (const v of values) {
      visit(key, typeof v === 'string' ? v : Buffer.from(v).toString('base64'));
    }
  }
}
