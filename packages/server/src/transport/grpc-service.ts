import {once} from 'node:events';

import * as grpc from '@grpc/grpc-js';
import type {ServiceImplementation, TsProtoServiceDefinition} from 'nice-grpc';
import {Metadata, ServerError, Status} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import type {GrpcCallObserver, GrpcCallType} from '../metrics/member-metrics.js';
import {AsyncQueue} from '../util/async-queue.js';

/** Called with errors a handler threw that were not a deliberate {@link ServerError}. */
export type UnexpectedErrorHandler = (path: string, error: unknown) => void;

type AnyMethod = TsProtoServiceDefinition['methods'][string];
type Handler = (request: unknown, context: CallContext) => unknown;

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
  const impl = implementation as unknown as Record<string, Handler>;
  for (const [key, method] of Object.entries(definition.methods)) {
    const path = `/${definition.fullName}/${method.name}`;
    grpcDefinition[key] = methodDefinition(path, method);
    const handler = impl[key];
    if (handler === undefined) throw new Error(`no handler for ${path}`);
    const bound: Handler = (request, context) => handler.call(implementation, request, context);
    handlers[key] = observed(
      serverHandler(path, method, bound, onUnexpectedError),
      definition.fullName,
      method,
      observer,
    );
  }
  server.addService(grpcDefinition, handlers);
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
    requestDeserialize: (bytes: Buffer): unknown => requestType.decode(bytes),
    // Handlers may return partial messages, as nice-grpc allows.
    responseSerialize: (value: unknown) => {
      const full: unknown =
        responseType.fromPartial === undefined ? value : responseType.fromPartial(value);
      return Buffer.from(responseType.encode(full).finish());
    },
    responseDeserialize: (bytes: Buffer): unknown => responseType.decode(bytes),
  };
}

interface GrpcCallLike {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
  sendMetadata(md: grpc.Metadata): void;
  on(event: 'cancelled', listener: () => void): unknown;
}

function toGrpcMetadata(md: Metadata): grpc.Metadata {
  const out = new grpc.Metadata();
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

function createContext(call: GrpcCallLike): CallContext {
  const abort = new AbortController();
  call.on('cancelled', () => {
    abort.abort();
  });
  let sent = false;
  const header = Metadata();
  const context: CallContext = {
    metadata: fromGrpcMetadata(call.metadata),
    peer: call.getPeer(),
    header,
    trailer: Metadata(),
    signal: abort.signal,
    sendHeader() {
      if (sent) return;
      sent = true;
      call.sendMetadata(toGrpcMetadata(header));
    },
  };
  return context;
}

function toStatus(path: string, error: unknown, onUnexpectedError: UnexpectedErrorHandler) {
  if (error instanceof ServerError) return {code: error.code, details: error.details};
  onUnexpectedError(path, error);
  return {
    code: Status.UNKNOWN,
    details: error instanceof Error ? error.message : 'internal error',
  };
}

function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (error instanceof Error && error.name === 'AbortError');
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
  context: CallContext,
  result: () => Promise<unknown>,
  callback: grpc.sendUnaryData<unknown>,
  onUnexpectedError: UnexpectedErrorHandler,
): Promise<void> {
  try {
    const response = await result();
    context.sendHeader();
    callback(null, response, toGrpcMetadata(context.trailer));
  } catch (error) {
    context.sendHeader();
    callback({
      ...toStatus(path, error, onUnexpectedError),
      metadata: toGrpcMetadata(context.trailer),
    });
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
      const context = createContext(call);
      const result = () => handler(call.request, context) as Promise<unknown>;
      void respond(path, context, result, callback, onUnexpectedError);
    };
  }
  if (!method.requestStream) {
    return (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const context = createContext(call);
      const responses = handler(call.request, context) as AsyncIterable<unknown>;
      void pump(path, call, context, responses, onUnexpectedError);
    };
  }
  if (!method.responseStream) {
    return (
      call: grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const context = createContext(call);
      const result = () => handler(requestsOf(call), context) as Promise<unknown>;
      void respond(path, context, result, callback, onUnexpectedError);
    };
  }
  return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    const context = createContext(call);
    const responses = handler(requestsOf(call), context) as AsyncIterable<unknown>;
    void pump(path, call, context, responses, onUnexpectedError);
  };
}

/**
 * The client's messages as an async iterable that ends when the client
 * half-closes or the call is cancelled. grpc-js signals a half-close with 'end'
 * only to a stream in flowing mode, so the messages are taken as 'data' events
 * (a handler processes each one as it comes; none is large).
 */
function requestsOf(call: NodeJS.ReadableStream): AsyncIterable<unknown> {
  const queue = new AsyncQueue<unknown>();
  call.on('data', (message: unknown) => {
    queue.push(message);
  });
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
  context: CallContext,
  responses: AsyncIterable<unknown>,
  onUnexpectedError: UnexpectedErrorHandler,
): Promise<void> {
  try {
    for await (const response of responses) {
      context.sendHeader();
      if (!call.write(response)) {
        await once(call, 'drain', {signal: context.signal});
      }
    }
    context.sendHeader();
    call.end(toGrpcMetadata(context.trailer));
  } catch (error) {
    if (isAbort(error, context.signal)) return;
    context.sendHeader();
    const status = toStatus(path, error, onUnexpectedError);
    call.emit('error', {...status, metadata: toGrpcMetadata(context.trailer)});
  }
}
