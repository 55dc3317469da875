import type http2 from 'node:http2';
import type {TLSSocket} from 'node:tls';

import {Metadata, ServerError, Status} from 'nice-grpc-common';

import type {GrpcCallObserver, GrpcCallType} from './grpc-call-observer.js';
import {commonNameOf} from '../tls/tls-credentials.js';
import {AsyncQueue} from '../util/async-queue.js';
import {GrpcMessageReader} from './grpc-message-reader.js';
import {pathSlashAddedHeader} from './grpc-stream.js';
import {decodeRequest, encodeResponse, UndecodableRequest} from './grpc-service.js';
import type {GrpcStream} from './grpc-stream.js';
import {LazyCallContext} from './lazy-call-context.js';
import {NodeGrpcStream} from './node-grpc-stream.js';
import type {AnyMethod, MethodTable, ServedMethod, UnexpectedErrorHandler} from './grpc-service.js';

/** Request headers that are the protocol's, not the call's metadata. */
const protocolHeaders = new Set([
  'content-type',
  'te',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
  'user-agent',
]);

/** The units of a `grpc-timeout` header, in milliseconds. */
const timeoutUnitsMs: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

export interface GrpcServerOptions {
  /** The largest request message taken (`--max-request-bytes` plus gRPC's overhead). */
  readonly maxReceiveBytes: number;
  readonly onUnexpectedError: UnexpectedErrorHandler;
  readonly observer?: GrpcCallObserver;
}

/**
 * gRPC over Node's HTTP/2 streams, read the way etcd's grpc-go server reads them, calling the
 * handlers a {@link MethodTable} holds (nice-grpc's `ServiceImplementation` shape: unary
 * handlers return a response, streaming ones take and return async iterables).
 *
 * What grpc-go does and this does too, where a general gRPC library differs: a unary call is
 * answered from its first message without waiting for the client's half-close, and a second
 * message is ignored; a call with no message fails `UNKNOWN EOF`, one whose message is cut
 * short `UNKNOWN unexpected EOF` (a request stream: `INTERNAL unexpected EOF`); compressed
 * frames and `grpc-encoding`s are refused with grpc-go's statuses, since etcd registers no
 * decompressor; an unknown method fails `UNIMPLEMENTED unknown service X` or `unknown method M
 * for service X`. See {@link GrpcMessageReader} for the framing faults.
 */
export class GrpcServer {
  constructor(
    private readonly methods: MethodTable,
    private readonly options: GrpcServerOptions,
  ) {}

  /** Serves one stream of Node's HTTP/2 server whose content type is `application/grpc`. */
  handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    this.serve(new NodeGrpcStream(stream, headers));
  }

  /** Serves one gRPC call's stream, whichever HTTP/2 engine carries it. */
  serve(stream: GrpcStream): void {
    const path = stream.path;
    const served = this.methods.get(path);
    if (served === undefined) {
      const asSent = stream.header(pathSlashAddedHeader) === '1' ? path.slice(1) : path;
      const {code, message} = unknownMethod(asSent, this.methods);
      stream.sendTrailersOnly(code, message);
      return;
    }
    const encoding = stream.header('grpc-encoding') ?? '';
    if (encoding !== '' && encoding !== 'identity') {
      stream.sendTrailersOnly(
        Status.UNIMPLEMENTED,
        `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`,
      );
      return;
    }
    new GrpcCall(path, stream, served, this.options).start();
  }
}

/** grpc-go's status for a path no service serves (a path with no `/` after the first: malformed). */
function unknownMethod(path: string, methods: MethodTable): {code: Status; message: string} {
  const name = path.startsWith('/') ? path.slice(1) : path;
  const slash = name.lastIndexOf('/');
  if (slash < 0) {
    return {code: Status.RESOURCE_EXHAUSTED, message: `malformed method name: "${path}"`};
  }
  const service = name.slice(0, slash);
  const known = [...methods.keys()].some(p => p.startsWith(`/${service}/`));
  const message = known
    ? `unknown method ${name.slice(slash + 1)} for service ${service}`
    : `unknown service ${service}`;
  return {code: Status.UNIMPLEMENTED, message};
}

function callType(method: AnyMethod): GrpcCallType {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

/** One call, from its request headers to its status. */
class GrpcCall {
  private readonly context: GrpcCallContext;
  private readonly reader: GrpcMessageReader;
  private finished = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly stream: GrpcStream,
    private readonly served: ServedMethod,
    private readonly options: GrpcServerOptions,
  ) {
    this.context = new GrpcCallContext(stream, () => {
      this.sendHeaders();
    });
    this.reader = new GrpcMessageReader(options.maxReceiveBytes);
    const timeout = stream.header('grpc-timeout');
    const ms = timeout === undefined ? undefined : parseTimeoutMs(timeout);
    if (ms !== undefined) {
      this.deadline = setTimeout(() => {
        this.fail(new ServerError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded'));
        this.context.cancel();
      }, ms);
    }
    stream.onClose(() => {
      clearTimeout(this.deadline);
      if (!this.finished) {
        this.finished = true;
        this.context.cancel();
        this.observe(Status.CANCELLED);
      }
    });
  }

  private observe(code: number): void {
    const {observer} = this.options;
    if (observer === undefined) return;
    const [, service = '', method = ''] = this.path.split('/');
    observer.handled(service, method, callType(this.served.method), code);
  }

  /** Counts a request message's bytes (`etcd_network_client_grpc_received_bytes_total`). */
  private countReceived(bytes: Uint8Array): Uint8Array {
    this.options.observer?.receivedBytes?.(bytes.length);
    return bytes;
  }

  /** Counts a response message's bytes (`etcd_network_client_grpc_sent_bytes_total`). */
  private countSent<T extends Uint8Array>(bytes: T): T {
    this.options.observer?.sentBytes?.(bytes.length);
    return bytes;
  }

  start(): void {
    const {observer} = this.options;
    if (observer !== undefined) {
      const [, service = '', method = ''] = this.path.split('/');
      observer.started(
        service,
        method,
        callType(this.served.method),
        this.stream.header('client-api-version'),
      );
    }
    if (this.served.method.requestStream) this.startRequestStream();
    else this.startOneRequest();
  }

  /** Unary and server-streaming calls: the first message is the request; what follows is not read. */
  private startOneRequest(): void {
    let answered = false;
    const onData = (chunk: Buffer) => {
      if (answered) return;
      this.reader.push(chunk);
      const read = this.reader.next();
      if (read.kind === 'more') return;
      answered = true;
      // The rest of the body is drained unread, as grpc-go leaves it.
      this.stream.discardRequest();
      if (read.kind === 'error') {
        this.fail(read.error);
        return;
      }
      this.run(decodeRequest(this.served.method, this.path, this.countReceived(read.bytes)));
    };
    const onEnd = () => {
      if (answered) return;
      if (!this.reader.hasPartial) {
        this.fail(new ServerError(Status.UNKNOWN, 'EOF'));
        return;
      }
      // grpc-go's stream reader calls a message cut short INTERNAL; its unary path, UNKNOWN.
      const code = this.served.method.responseStream ? Status.INTERNAL : Status.UNKNOWN;
      this.fail(new ServerError(code, 'unexpected EOF'));
    };
    this.stream.readRequest(onData, onEnd);
  }

  private run(request: unknown): void {
    const {method, handler} = this.served;
    if (request instanceof UndecodableRequest) {
      this.fail(method.responseStream ? request.streamError() : request.unaryError());
      return;
    }
    if (method.responseStream) {
      void this.pump(handler(request, this.context) as AsyncIterable<unknown>);
      return;
    }
    void this.answer(() => handler(request, this.context) as Promise<unknown>);
  }

  /** Client- and bidi-streaming calls: every message, as it completes, to the handler. */
  private startRequestStream(): void {
    const requests = new AsyncQueue<unknown>();
    let failed = false;
    this.stream.readRequest(
      (chunk: Buffer) => {
        if (failed) return;
        this.reader.push(chunk);
        for (;;) {
          const read = this.reader.next();
          if (read.kind === 'more') return;
          if (read.kind === 'error') {
            failed = true;
            requests.fail(read.error);
            return;
          }
          const request = decodeRequest(
            this.served.method,
            this.path,
            this.countReceived(read.bytes),
          );
          if (request instanceof UndecodableRequest) {
            // grpc-go's RecvMsg fails there; what follows is not read.
            failed = true;
            requests.fail(request.streamError());
            return;
          }
          requests.push(request);
        }
      },
      () => {
        if (failed) return;
        if (this.reader.hasPartial) {
          requests.fail(new ServerError(Status.INTERNAL, 'unexpected EOF'));
        } else requests.close();
      },
    );
    this.stream.onClose(() => {
      requests.close();
    });
    const {method, handler} = this.served;
    if (method.responseStream) {
      void this.pump(handler(requests, this.context) as AsyncIterable<unknown>);
    } else {
      void this.answer(() => handler(requests, this.context) as Promise<unknown>);
    }
  }

  private sendHeaders(): void {
    if (this.stream.headersSent || this.stream.closed) return;
    this.stream.sendHeaders(this.context.headerToSend());
  }

  /** Ends the call with a status: trailers after a response, else a trailers-only answer. */
  private finish(code: Status, message: string): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    this.observe(code);
    if (this.stream.closed) return;
    const trailer = this.context.trailerSet();
    if (!this.stream.headersSent) {
      if (
        (trailer === undefined || isEmpty(trailer)) &&
        this.context.headerToSend() === undefined
      ) {
        this.stream.sendTrailersOnly(code, message);
        return;
      }
      this.sendHeaders();
    }
    this.stream.sendStatus(code, message, trailer);
  }

  private fail(error: unknown): void {
    if (error instanceof ServerError) {
      this.finish(error.code, error.details);
      return;
    }
    if (this.context.isCancelled) return;
    this.options.onUnexpectedError(this.path, error);
    this.finish(Status.UNKNOWN, error instanceof Error ? error.message : 'internal error');
  }

  private async answer(result: () => Promise<unknown>): Promise<void> {
    try {
      const response = await result();
      if (this.finished) return;
      this.sendHeaders();
      if (!this.stream.closed)
        this.stream.sendMessage(this.countSent(encodeResponse(this.served.method, response)));
      this.finish(Status.OK, '');
    } catch (error) {
      this.fail(error);
    }
  }

  private async pump(responses: AsyncIterable<unknown>): Promise<void> {
    try {
      for await (const response of responses) {
        if (this.finished) return;
        this.sendHeaders();
        if (this.stream.closed) continue;
        if (
          !this.stream.sendMessage(this.countSent(encodeResponse(this.served.method, response)))
        ) {
          await this.stream.whenWritable();
        }
      }
      this.finish(Status.OK, '');
    } catch (error) {
      if (this.context.isCancelled && !(error instanceof ServerError)) return;
      this.fail(error);
    }
  }
}

function isEmpty(metadata: Metadata): boolean {
  for (const _ of metadata) return false;
  return true;
}

/** Milliseconds of a `grpc-timeout` header (`100m`, `5S`), or undefined when malformed. */
function parseTimeoutMs(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * (timeoutUnitsMs[match[2] ?? 'S'] ?? 1000);
}

/**
 * A call's {@link CallContext}: metadata from the request headers, and a signal that aborts
 * when the client cancels, resets the stream, or the deadline passes.
 */
export class GrpcCallContext extends LazyCallContext {
  constructor(
    private readonly stream: GrpcStream,
    private readonly onSendHeader: () => void,
  ) {
    super();
  }

  protected readMetadata(): Metadata {
    const metadata = Metadata();
    this.stream.forEachHeader((name, value) => {
      if (protocolHeaders.has(name)) return;
      if (name.endsWith('-bin')) {
        metadata.append(name, new Uint8Array(Buffer.from(value, 'base64')));
      } else metadata.append(name, value);
    });
    return metadata;
  }

  get peer(): string {
    const socket = this.stream.socket;
    return `${socket?.remoteAddress ?? ''}:${socket?.remotePort ?? ''}`;
  }

  /** The Common Name of the client certificate the TLS handshake verified, if any. */
  get verifiedCommonName(): string | undefined {
    const socket = this.stream.socket as Partial<TLSSocket> | undefined;
    if (socket?.encrypted !== true || socket.authorized !== true) return undefined;
    const cert = socket.getPeerCertificate?.();
    return cert === undefined || Object.keys(cert).length === 0 ? undefined : commonNameOf(cert);
  }

  sendHeader(): void {
    this.onSendHeader();
  }
}
