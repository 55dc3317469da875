import {once} from 'node:events';
import type {PeerCertificate} from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import type {ServiceImplementation, TsProtoServiceDefinition} from 'nice-grpc';
import {Metadata, ServerError, Status} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import type {GrpcCallObserver, GrpcCallType} from './grpc-call-observer.js';
import {commonNameOf} from '../tls/tls-credentials.js';
import {AsyncQueue} from '../util/async-queue.js';
import {LazyCallContext} from './lazy-call-context.js';
import {decodeRequest, encodeResponse, UndecodableRequest} from './grpc-codec.js';
import type {AnyMethod} from './grpc-codec.js';

// The codec's names, for the services and front ends that took them from here.
export {decodeRequest, encodedTail, encodeResponse, UndecodableRequest} from './grpc-codec.js';
export type {AnyMethod, WithEncodedTail} from './grpc-codec.js';

/** Called with errors a handler threw that were not a deliberate {@link ServerError}. */
export type UnexpectedErrorHandler = (path: string, error: unknown) => void;

/**
 * A method's handler as nice-grpc's `ServiceImplementation` writes it: unary handlers return a
 * (partial) response, streaming ones an async iterable; request streams arrive as one.
 */
export type Handler = (request: unknown, context: CallContext) => unknown;

/** A served method: its definition and handler, for front ends that call handlers directly. */
export interface ServedMethod {
  readonly method: AnyMethod;
  readonly handler: Handler;
}

/** The methods {@link addGrpcService} registered, by gRPC path (`/etcdserverpb.KV/Range`). */
export type MethodTable = Map<string, ServedMethod>;

/**
 * Registers a ts-proto service definition with a grpc-js server, calling
 * handlers written against nice-grpc's `ServiceImplementation` type: unary
 * handlers are async functions, streaming ones async generators, and every
 * call gets a {@link CallContext} whose `signal` aborts when the client
 * cancels or its deadline passes.
 *
 * Synod owns the grpc-js server (rather than letting nice-grpc create one) so
 * that it can feed it connections from its own listener, which also serves
 * HTTP on the same port as etcd does.
 */
export function addGrpcService<D extends TsProtoServiceDefinition>(
  server: grpc.Server,
  definition: D,
  implementation: ServiceImplementation<D>,
  onUnexpectedError: UnexpectedErrorHandler,
  observer?: GrpcCallObserver,
): void {
  const grpcDefinition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  const table: MethodTable = new Map();
  addServiceMethods(table, definition, implementation);
  for (const [key, method] of Object.entries(definition.methods)) {
    const path = `/${definition.fullName}/${method.name}`;
    const served = table.get(path);
    if (served === undefined) throw new Error(`no handler for ${path}`);
    grpcDefinition[key] = methodDefinition(path, method);
    handlers[key] = observed(
      serverHandler(path, method, served.handler, onUnexpectedError),
      definition.fullName,
      method,
      observer,
    );
  }
  server.addService(grpcDefinition, handlers);
}

/**
 * Puts a service's methods in a {@link MethodTable}, by gRPC path, each with its handler bound
 * to the implementation: what Synod's own gRPC server and the JSON gateway call.
 */
export function addServiceMethods<D extends TsProtoServiceDefinition>(
  table: MethodTable,
  definition: D,
  implementation: ServiceImplementation<D>,
): void {
  const impl = implementation as unknown as Record<string, Handler>;
  for (const [key, method] of Object.entries(definition.methods)) {
    const path = `/${definition.fullName}/${method.name}`;
    const handler = impl[key];
    if (handler === undefined) throw new Error(`no handler for ${path}`);
    table.set(path, {
      method,
      handler: (request, context) => handler.call(implementation, request, context),
    });
  }
}

function methodDefinition(
  path: string,
  method: AnyMethod,
): grpc.MethodDefinition<unknown, unknown> {
  const {requestType, responseType} = method;
  return {
    path,
    originalName: method.name,
    requestStream: method.requestStream,
    responseStream: method.responseStream,
    requestSerialize: (value: unknown) => Buffer.from(requestType.encode(value).finish()),
    requestDeserialize: (bytes: Buffer): unknown => decodeRequest(method, path, bytes),
    responseSerialize: (value: unknown) => encodeResponse(method, value),
    responseDeserialize: (bytes: Buffer): unknown => responseType.decode(bytes),
  };
}

interface GrpcCallLike {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
  getAuthContext(): {readonly sslPeerCertificate?: PeerCertificate};
  sendMetadata(md: grpc.Metadata): void;
  on(event: 'cancelled', listener: () => void): unknown;
}

function toGrpcMetadata(md: Metadata | undefined): grpc.Metadata {
  const out = new grpc.Metadata();
  if (md === undefined) return out;
  for (const [key, values] of md) {
    for (const value of values)
      out.add(key, typeof value === 'string' ? value : Buffer.from(value));
  }
  return out;
}

function fromGrpcMetadata(md: grpc.Metadata): Metadata {
  const out = Metadata();
  for (const [key, value] of Object.entries(md.toJSON())) {
    for (const v of value) out.append(key, typeof v === 'string' ? v : new Uint8Array(v));
  }
  return out;
}

/**
 * A call's {@link CallContext}, built lazily: most unary calls never look at
 * their peer, signal, header or trailer, and converting metadata or creating an
 * AbortController (whose abort builds a DOMException) for every call is a
 * measurable share of a small request's cost.
 */
class ServerCallContext extends LazyCallContext {
  private finished = false;
  private headerSent = false;

  constructor(private readonly call: GrpcCallLike) {
    super();
    call.on('cancelled', () => {
      // grpc-js also reports a stream closed after its status as cancelled: not a cancellation.
      if (!this.finished) this.cancel();
    });
  }

  protected readMetadata(): Metadata {
    return fromGrpcMetadata(this.call.metadata);
  }

  get peer(): string {
    return this.call.getPeer();
  }

  /** The Common Name of the client certificate the TLS handshake verified, if any. */
  get verifiedCommonName(): string | undefined {
    const cert = this.call.getAuthContext().sslPeerCertificate;
    return cert === undefined ? undefined : commonNameOf(cert);
  }

  sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.call.sendMetadata(toGrpcMetadata(this.headerToSend()));
  }

  /** Sends the header before the first response only if a handler set something in it. */
  flushHeader(): void {
    if (this.headerToSend() !== undefined) this.sendHeader();
  }

  /** The trailer to send with the status; undefined when the handler set none. */
  trailerToSend(): grpc.Metadata | undefined {
    const trailer = this.trailerSet();
    return trailer === undefined ? undefined : toGrpcMetadata(trailer);
  }

  /** Marks the call answered: a 'cancelled' after this is grpc-js closing the stream. */
  finish(): void {
    this.finished = true;
  }
}

/**
 * The Common Name of the verified client certificate a call came with (etcd's
 * `AuthInfoFromTLS`), or undefined for a plaintext call or one without a certificate.
 */
export function verifiedCommonName(context: CallContext): string | undefined {
  return (context as Partial<{readonly verifiedCommonName: string | undefined}>).verifiedCommonName;
}

function toStatus(path: string, error: unknown, onUnexpectedError: UnexpectedErrorHandler) {
  if (error instanceof ServerError) return {code: error.code, details: error.details};
  onUnexpectedError(path, error);
  return {
    code: Status.UNKNOWN,
    details: error instanceof Error ? error.message : 'internal error',
  };
}

function isAbort(error: unknown, context: ServerCallContext): boolean {
  return context.isCancelled || (error instanceof Error && error.name === 'AbortError');
}

function callType(method: AnyMethod): GrpcCallType {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

/**
 * Counts a method's calls as they start and as they end with their status, by
 * watching grpc-js's own status event, so every outcome (including a client that
 * cancels) is counted once.
 */
function observed(
  handler: grpc.UntypedHandleCall,
  service: string,
  method: AnyMethod,
  observer: GrpcCallObserver | undefined,
): grpc.UntypedHandleCall {
  if (observer === undefined) return handler;
  const type = callType(method);
  const name = method.name;
  const wrapped = (call: grpc.ServerUnaryCall<unknown, unknown>, ...rest: unknown[]) => {
    observer.started(service, name, type);
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      observer.handled(service, name, type, code);
    };
    call.once('cancelled', () => {
      finish(Status.CANCELLED);
    });
    if (rest.length > 0) {
      const callback = rest[0] as grpc.sendUnaryData<unknown>;
      (handler as (c: unknown, cb: grpc.sendUnaryData<unknown>) => void)(call, (error, ...args) => {
        finish(error === null ? Status.OK : (error.code ?? Status.UNKNOWN));
        callback(error, ...args);
      });
      return;
    }
    const stream = call as unknown as NodeJS.EventEmitter;
    stream.once('finish', () => {
      finish(Status.OK);
    });
    stream.once('error', (error: {code?: number}) => {
      finish(error.code ?? Status.UNKNOWN);
    });
    (handler as (c: unknown) => void)(call);
  };
  return wrapped;
}

/** Answers a call with one response: the handler's result, or the status of its error. */
async function respond(
  path: string,
  context: ServerCallContext,
  result: () => Promise<unknown>,
  callback: grpc.sendUnaryData<unknown>,
  onUnexpectedError: UnexpectedErrorHandler,
): Promise<void> {
  try {
    const response = await result();
    context.flushHeader();
    context.finish();
    callback(null, response, context.trailerToSend());
  } catch (error) {
    context.flushHeader();
    context.finish();
    const status = toStatus(path, error, onUnexpectedError);
    const trailer = context.trailerToSend();
    callback(trailer === undefined ? status : {...status, metadata: trailer});
  }
}

function serverHandler(
  path: string,
  method: AnyMethod,
  handler: Handler,
  onUnexpectedError: UnexpectedErrorHandler,
): grpc.UntypedHandleCall {
  if (!method.requestStream && !method.responseStream) {
    return (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const context = new ServerCallContext(call);
      const request = call.request;
      const result =
        request instanceof UndecodableRequest
          ? () => Promise.reject(request.unaryError())
          : () => handler(request, context) as Promise<unknown>;
      void respond(path, context, result, callback, onUnexpectedError);
    };
  }
  if (!method.requestStream) {
    return (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const context = new ServerCallContext(call);
      const request = call.request;
      const responses =
        request instanceof UndecodableRequest
          ? refused(request.streamError())
          : (handler(request, context) as AsyncIterable<unknown>);
      void pump(path, call, context, responses, onUnexpectedError);
    };
  }
  if (!method.responseStream) {
    return (
      call: grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const context = new ServerCallContext(call);
      const result = () => handler(requestsOf(call), context) as Promise<unknown>;
      void respond(path, context, result, callback, onUnexpectedError);
    };
  }
  return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    const context = new ServerCallContext(call);
    const responses = handler(requestsOf(call), context) as AsyncIterable<unknown>;
    void pump(path, call, context, responses, onUnexpectedError);
  };
}

/** The responses of a stream that fails before its first one. */
function refused(error: ServerError): AsyncIterable<never> {
  return {[Symbol.asyncIterator]: () => ({next: () => Promise.reject(error)})};
}

/**
 * The client's messages as an async iterable that ends when the client
 * half-closes or the call is cancelled, and fails with etcd's status at the
 * first message etcd could not decode (as grpc-go's `RecvMsg` does; what
 * follows it is not read). grpc-js signals a half-close with 'end' only to a
 * stream in flowing mode, so the messages are taken as 'data' events (a handler
 * processes each one as it comes; none is large).
 */
function requestsOf(call: NodeJS.ReadableStream): AsyncIterable<unknown> {
  const queue = new AsyncQueue<unknown>();
  const take = (message: unknown) => {
    if (message instanceof UndecodableRequest) {
      call.off('data', take);
      queue.fail(message.streamError());
      return;
    }
    queue.push(message);
  };
  call.on('data', take);
  call.once('end', () => {
    queue.close();
  });
  call.once('close', () => {
    queue.close();
  });
  call.once('error', (error: unknown) => {
    queue.fail(error);
  });
  return queue;
}

/** Writes a handler's responses to a stream, honouring back-pressure, then the status. */
async function pump(
  path: string,
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  context: ServerCallContext,
  responses: AsyncIterable<unknown>,
  onUnexpectedError: UnexpectedErrorHandler,
): Promise<void> {
  try {
    for await (const response of responses) {
      context.flushHeader();
      if (!call.write(response)) {
        await once(call, 'drain', {signal: context.signal});
      }
    }
    context.flushHeader();
    context.finish();
    call.end(context.trailerToSend());
  } catch (error) {
    if (isAbort(error, context)) return;
    context.flushHeader();
    context.finish();
    const status = toStatus(path, error, onUnexpectedError);
    const trailer = context.trailerToSend();
    call.emit('error', trailer === undefined ? status : {...status, metadata: trailer});
  }
}
