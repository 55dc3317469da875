import {StringDecoder} from 'node:string_decoder';

import {Metadata, ServerError, Status} from 'nice-grpc-common';

import type {GrpcCallObserver, GrpcCallType} from '../metrics/member-metrics.js';
import {encodeResponse} from '../transport/grpc-service.js';
import {LazyCallContext} from '../transport/lazy-call-context.js';
import type {
  Handler,
  MethodTable,
  ServedMethod,
  UnexpectedErrorHandler,
} from '../transport/grpc-service.js';
import {AsyncQueue} from '../util/async-queue.js';
import {corsHeaders} from '../util/cors-headers.js';
import {etcdJsonSchema} from './etcd-json-schema.js';
import {gatewayRoute} from './gateway-routes.js';
import {GoJsonError, goJsonString, readGoJson} from './go-json.js';
import type {GoJsonValue} from './go-json.js';
import {JsonRequestError, JsonTranscoder} from './json-transcoder.js';

/** One HTTP request and its answer, whichever HTTP version carries them. */
export interface HttpExchange {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  /** The names of the request's headers, lower case. */
  headerNames(): readonly string[];
  /** The request body as it arrives. */
  readonly body: AsyncIterable<Buffer>;
  /** `ip:port` of the client. */
  readonly peer: string;
  /** Aborts when the client goes away (made when first asked for: most calls never ask). */
  readonly closed: AbortSignal;
  /** Whether the client went away before the answer was sent. */
  gone(): boolean;
  /** Whether the request came over TLS. */
  readonly secure: boolean;
  /** Sends the status line and headers (a `trailer` header announces those of {@link end}). */
  start(status: number, headers: Readonly<Record<string, string | string[]>>): void;
  /** Sends part of the body; resolves when the connection can take more. */
  write(text: string): Promise<void>;
  /** Ends the answer, with the trailers announced by a `trailer` header. */
  end(text?: string, trailers?: Readonly<Record<string, string>>): void;
}

/** gRPC status codes as grpc-gateway (v1, as etcd 3.4 vendors it) answers them in HTTP. */
const httpStatusOfCode: Readonly<Record<number, number>> = {
  [Status.OK]: 200,
  [Status.CANCELLED]: 408,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.UNAUTHENTICATED]: 401,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 412,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
};

/** Go's `http.StatusText` for the statuses above. */
const statusTexts: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function httpStatus(code: number): number {
  return httpStatusOfCode[code] ?? 500;
}

const jsonHeaders = {...corsHeaders, 'content-type': 'application/json'};
/** The response header metadata etcd's gRPC server sends, which the gateway passes on. */
const forwardedHeaders = {...jsonHeaders, 'grpc-metadata-content-type': 'application/grpc'};
const forwardedTrailers = {'grpc-trailer-content-type': 'application/grpc'};
/**
 * On a TLS port etcd serves gRPC through Go's HTTP server, behind its CORS wrapper, so its
 * gateway also forwards those headers and grpc-go's trailer announcement as metadata.
 */
const forwardedHeadersOverTls: Readonly<Record<string, string | string[]>> = {
  ...forwardedHeaders,
  'grpc-metadata-access-control-allow-headers': corsHeaders['access-control-allow-headers'] ?? '',
  'grpc-metadata-access-control-allow-methods': corsHeaders['access-control-allow-methods'] ?? '',
  'grpc-metadata-access-control-allow-origin': '*',
  'grpc-metadata-trailer': ['Grpc-Status', 'Grpc-Message', 'Grpc-Status-Details-Bin'],
};

/** A request body or a streamed message over this size is refused unread. */
const bodySlackFactor = 4;

export interface GatewayOptions {
  /** The member's methods, as registered for gRPC. */
  readonly methods: MethodTable;
  /**
   * Counts the calls the gateway makes, as gRPC calls: etcd's gateway is a gRPC client of its
   * own port, so its calls show in `grpc_server_started_total` and `grpc_server_handled_total`.
   */
  readonly observer?: GrpcCallObserver;
  /** The largest gRPC message the member takes (`--max-request-bytes` + gRPC's overhead). */
  readonly maxReceiveBytes: number;
  readonly onUnexpectedError: UnexpectedErrorHandler;
}

/** A method the gateway calls: its gRPC path, handler and message names in the schema. */
interface GatewayCall {
  readonly grpcPath: string;
  readonly served: ServedMethod;
  readonly requestType: string;
  readonly responseType: string;
}

/** A failure with its gRPC status, before or instead of a handler's answer. */
function statusOf(error: unknown): {code: number; message: string} | undefined {
  if (error instanceof ServerError) return {code: error.code, message: error.details};
  return undefined;
}

/**
 * etcd's HTTP/JSON gateway (grpc-gateway): `POST /v3/<service>/<method>` with a JSON body
 * calls the gRPC method and answers its response as JSON, errors as `{"error", "message",
 * "code"}` with grpc-gateway's HTTP status. Streaming methods answer with one
 * `{"result": ...}` line per message, flushed as it comes, and a stream error as
 * `{"error": {"grpc_code", "http_code", "message", "http_status"}}`; a request stream (watch,
 * keep-alive) is read as JSON values one after another from the body.
 *
 * The gateway calls the member's handlers in this process, with the request a gRPC client
 * would have sent: the JSON is translated to protobuf bytes ({@link JsonTranscoder}) and
 * decoded by the method's own decoder, and the response translated back from its bytes. etcd's
 * gateway does the same through a gRPC connection to its own port.
 *
 * The token of a call is the `Authorization` header (with or without `Bearer `) or the
 * `Grpc-Metadata-Token` header; other `Grpc-Metadata-*` headers become metadata too.
 */
export class Gateway {
  private readonly transcoder = new JsonTranscoder(etcdJsonSchema);

  constructor(private readonly options: GatewayOptions) {}

  /** Whether a path is the gateway's to answer. */
  handles(path: string): boolean {
    return gatewayRoute(path) !== undefined;
  }

  /** Answers a request whose path {@link handles} said yes to. */
  async serve(exchange: HttpExchange): Promise<void> {
    const route = gatewayRoute(exchange.path);
    const call = route?.kind === 'method' ? this.call(route.grpcPath) : undefined;
    if (exchange.method === 'OPTIONS') {
      exchange.start(200, {...corsHeaders, 'content-length': '0'});
      exchange.end();
      return;
    }
    if (call === undefined) {
      this.plainError(exchange, 404, 'Not Found');
      return;
    }
    if (exchange.method !== 'POST') {
      this.plainError(exchange, 405, 'Method Not Allowed');
      return;
    }
    try {
      if (call.served.method.requestStream) await this.serveRequestStream(exchange, call);
      else await this.serveOneRequest(exchange, call);
    } catch (error) {
      this.options.onUnexpectedError(call.grpcPath, error);
      if (!exchange.gone()) exchange.end();
    }
  }

  private call(grpcPath: string): GatewayCall | undefined {
    const served = this.options.methods.get(grpcPath);
    const names = etcdJsonSchema.methods[grpcPath];
    if (served === undefined || names === undefined) return undefined;
    const {observer} = this.options;
    return {
      grpcPath,
      served: observer === undefined ? served : observedMethod(grpcPath, served, observer),
      requestType: names[0],
      responseType: names[1],
    };
  }

  private plainError(exchange: HttpExchange, status: number, text: string): void {
    exchange.start(status, {
      ...corsHeaders,
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    });
    exchange.end(`${text}\n`);
  }

  /** A unary or server-streaming call: one request, read whole from the body. */
  private async serveOneRequest(exchange: HttpExchange, call: GatewayCall): Promise<void> {
    const {served} = call;
    const body = await this.readBody(exchange);
    if (body === undefined) return;
    let request: unknown;
    try {
      const read = body.trim() === '' ? undefined : readGoJson(body);
      if (read !== undefined && !read.done) throw new GoJsonError('unexpected EOF');
      request = this.decodeRequest(call, read?.done === true ? read.value : undefined);
    } catch (error) {
      if (error instanceof ServerError) {
        // Too large for the member: refused by its gRPC server in etcd, so a call's error.
        this.answerError(exchange, error.code, error.details, true);
        return;
      }
      if (!(error instanceof GoJsonError || error instanceof JsonRequestError)) throw error;
      this.answerError(exchange, Status.INVALID_ARGUMENT, error.message, false);
      return;
    }
    const context = new GatewayCallContext(exchange);
    if (!served.method.responseStream) {
      let response: unknown;
      try {
        response = await served.handler(request, context);
      } catch (error) {
        this.answerHandlerError(exchange, call.grpcPath, error);
        return;
      }
      const json = this.responseJson(call, response);
      exchange.start(200, {
        ...(exchange.secure ? forwardedHeadersOverTls : forwardedHeaders),
        'content-length': String(Buffer.byteLength(json)),
      });
      exchange.end(json);
      return;
    }
    await this.streamResponses(
      exchange,
      call,
      served.handler(request, context) as AsyncIterable<unknown>,
    );
  }

  /**
   * A call whose requests stream (watch, lease keep-alive): JSON values read one after
   * another from the body, each sent as it is complete; the end of the body half-closes.
   */
  private async serveRequestStream(exchange: HttpExchange, call: GatewayCall): Promise<void> {
    const requests = new AsyncQueue<unknown>();
    const reader = this.readRequests(exchange, call);
    // grpc-gateway reads the first request before it opens the call: a body that does not
    // decode is refused as an error of the call (Unknown, 500).
    const first = await reader.next();
    if (first.done === true) {
      if (first.value instanceof Error) {
        this.answerError(exchange, Status.UNKNOWN, first.value.message, false);
        return;
      }
    } else {
      requests.push(first.value);
      void (async () => {
        try {
          for (let next = await reader.next(); next.done !== true; next = await reader.next()) {
            requests.push(next.value);
          }
        } catch {
          // A body that fails to read ends the requests, as its end would.
        } finally {
          requests.close();
        }
      })();
    }
    if (first.done === true) requests.close();
    const context = new GatewayCallContext(exchange);
    await this.streamResponses(
      exchange,
      call,
      call.served.handler(requests, context) as AsyncIterable<unknown>,
    );
  }

  /**
   * The requests of a body, decoded as they complete. Ends at the end of the body, at the
   * first value that does not decode (returning its error, as grpc-gateway stops sending
   * there), or when a value grows past the size limit.
   */
  private async *readRequests(
    exchange: HttpExchange,
    call: GatewayCall,
  ): AsyncGenerator<unknown, Error | undefined> {
    const decoder = new StringDecoder('utf8');
    let text = '';
    const limit = this.options.maxReceiveBytes * bodySlackFactor;
    for await (const chunk of bodyChunks(exchange)) {
      text += decoder.write(chunk);
      for (;;) {
        let read;
        try {
          read = readGoJson(text);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
        if (!read.done) break;
        text = text.slice(read.end);
        try {
          yield this.decodeRequest(call, read.value);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }
      if (text.length > limit) return new Error('http: request body too large');
    }
    text += decoder.end();
    const last = readGoJson(text);
    if (last.done) {
      yield this.decodeRequest(call, last.value);
      return undefined;
    }
    return last.empty ? undefined : new Error('unexpected EOF');
  }

  /** Reads a whole body as text, or answers 413 and returns undefined when it is too large. */
  private async readBody(exchange: HttpExchange): Promise<string | undefined> {
    const limit = this.options.maxReceiveBytes * bodySlackFactor;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of exchange.body) {
        size += chunk.length;
        if (size > limit) {
          const message = 'http: request body too large';
          this.answerError(exchange, Status.RESOURCE_EXHAUSTED, message, false);
          return undefined;
        }
        chunks.push(chunk);
      }
    } catch {
      // The connection broke mid-body: nobody is left to answer.
      return undefined;
    }
    if (exchange.gone()) return undefined;
    return Buffer.concat(chunks).toString('utf8');
  }

  /** A request message from its JSON, decoded by the method's decoder as gRPC would. */
  private decodeRequest(call: GatewayCall, value: GoJsonValue | undefined): unknown {
    const bytes = this.transcoder.toProto(call.requestType, value);
    const max = this.options.maxReceiveBytes;
    if (bytes.length > max) {
      throw new ServerError(
        Status.RESOURCE_EXHAUSTED,
        `grpc: received message larger than max (${bytes.length} vs. ${max})`,
      );
    }
    // Counted as etcd counts them: its gateway calls its own gRPC port.
    this.options.observer?.receivedBytes?.(bytes.length);
    return call.served.method.requestType.decode(bytes);
  }

  private responseJson(call: GatewayCall, response: unknown): string {
    const bytes = encodeResponse(call.served.method, response);
    this.options.observer?.sentBytes?.(bytes.length);
    return this.transcoder.toJson(call.responseType, bytes);
  }

  private answerHandlerError(exchange: HttpExchange, grpcPath: string, error: unknown): void {
    const status = statusOf(error);
    if (status === undefined) {
      this.options.onUnexpectedError(grpcPath, error);
      const message = error instanceof Error ? error.message : 'internal error';
      this.answerError(exchange, Status.UNKNOWN, message, true);
      return;
    }
    this.answerError(exchange, status.code, status.message, true);
  }

  /**
   * grpc-gateway's error body. An error the member returned comes with the call's trailer
   * metadata (`Grpc-Trailer-Content-Type`), as a chunked answer with an HTTP trailer; one the
   * gateway found itself, before any call, without.
   */
  private answerError(
    exchange: HttpExchange,
    code: number,
    message: string,
    fromCall: boolean,
  ): void {
    const quoted = goJsonString(message);
    const body = `{"error":${quoted},"message":${quoted},"code":${code}}`;
    if (fromCall) {
      exchange.start(httpStatus(code), {...jsonHeaders, trailer: 'Grpc-Trailer-Content-Type'});
      exchange.end(body, forwardedTrailers);
      return;
    }
    exchange.start(httpStatus(code), {
      ...jsonHeaders,
      'content-length': String(Buffer.byteLength(body)),
    });
    exchange.end(body);
  }

  /** Writes a call's responses as `{"result": ...}` lines, then ends; errors as grpc-gateway. */
  private async streamResponses(
    exchange: HttpExchange,
    call: GatewayCall,
    responses: AsyncIterable<unknown>,
  ): Promise<void> {
    let started = false;
    try {
      for await (const response of responses) {
        if (!started) {
          exchange.start(200, exchange.secure ? forwardedHeadersOverTls : forwardedHeaders);
          started = true;
        }
        await exchange.write(`{"result":${this.responseJson(call, response)}}\n`);
        if (exchange.gone()) return;
      }
      if (!started) {
        exchange.start(200, exchange.secure ? forwardedHeadersOverTls : forwardedHeaders);
      }
      exchange.end();
    } catch (error) {
      if (exchange.gone()) return;
      const status = statusOf(error);
      if (status === undefined) this.options.onUnexpectedError(call.grpcPath, error);
      const code = status?.code ?? Status.UNKNOWN;
      const message = status?.message ?? (error instanceof Error ? error.message : 'error');
      const http = httpStatus(code);
      if (!started) exchange.start(http, jsonHeaders);
      const text = statusTexts[http] ?? '';
      exchange.end(
        `{"error":{"grpc_code":${code},"http_code":${http},"message":${goJsonString(message)},"http_status":${goJsonString(text)}}}\n`,
      );
    }
  }
}

/**
 * A method whose calls are counted by `observer`: started when the handler is called, handled
 * with the status it ends with (a response stream: when it ends, fails, or is left).
 */
function observedMethod(
  grpcPath: string,
  served: ServedMethod,
  observer: GrpcCallObserver,
): ServedMethod {
  const [, service = '', name = ''] = grpcPath.split('/');
  const {method} = served;
  const type: GrpcCallType = method.requestStream
    ? method.responseStream
      ? 'bidi_stream'
      : 'client_stream'
    : method.responseStream
      ? 'server_stream'
      : 'unary';
  const codeOf = (error: unknown) => (error instanceof ServerError ? error.code : Status.UNKNOWN);
  const handler: Handler = (request, context) => {
    observer.started(service, name, type);
    if (!method.responseStream) {
      return (served.handler(request, context) as Promise<unknown>).then(
        response => {
          observer.handled(service, name, type, Status.OK);
          return response;
        },
        (error: unknown) => {
          observer.handled(service, name, type, codeOf(error));
          throw error;
        },
      );
    }
    const responses = served.handler(request, context) as AsyncIterable<unknown>;
    return (async function* counted() {
      let code: number = Status.CANCELLED;
      try {
        yield* responses;
        code = Status.OK;
      } catch (error) {
        code = codeOf(error);
        throw error;
      } finally {
        observer.handled(service, name, type, code);
      }
    })();
  };
  return {method, handler};
}

/**
 * The chunks of a request body. A body fails to read only when its connection broke (the
 * client went away mid-body): that ends it, like its end, and nobody is left to answer.
 */
async function* bodyChunks(exchange: HttpExchange): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of exchange.body) yield chunk;
  } catch {
    return;
  }
}

/**
 * The {@link CallContext} of a gateway call: its metadata from the request's headers as
 * grpc-gateway forwards them, its signal aborted when the client goes away.
 */
class GatewayCallContext extends LazyCallContext {
  readonly peer: string;

  constructor(private readonly exchange: HttpExchange) {
    super();
    this.peer = exchange.peer;
  }

  protected readMetadata(): Metadata {
    const metadata = Metadata();
    for (const name of this.exchange.headerNames()) {
      const value = this.exchange.header(name);
      if (value === undefined) continue;
      if (name === 'authorization') {
        metadata.set('authorization', value.replace(/^Bearer\s+/i, ''));
      } else if (name.startsWith('grpc-metadata-')) {
        metadata.set(name.slice('grpc-metadata-'.length), value);
      }
    }
    return metadata;
  }

  override get signal(): AbortSignal {
    return this.exchange.closed;
  }

  sendHeader(): void {
    // Response metadata is not forwarded: etcd's handlers set none.
  }
}
