import {StringDecoder} from 'node:string_decoder';

import {ServerError, Status} from 'nice-grpc-common';

import type {GrpcCallObserver} from '../metrics/member-metrics.js';
import {encodeResponse} from '../transport/grpc-codec.js';
import type {MethodTable, ServedMethod, UnexpectedErrorHandler} from '../transport/grpc-service.js';
import {AsyncQueue} from '../util/async-queue.js';
import {corsHeaders} from '../util/cors-headers.js';
import {etcdJsonSchema} from './etcd-json-schema.js';
import {gatewayRoute} from './gateway-routes.js';
import {GoJsonError, goJsonString, readGoJson} from './go-json.js';
import type {GoJsonValue} from './go-json.js';
import {httpStatus, statusOf, statusTexts} from './gateway-status.js';
import {bodyChunks, GatewayCallContext} from './http-exchange.js';
import type {HttpExchange} from './http-exchange.js';
import {JsonRequestError, JsonTranscoder} from './json-transcoder.js';
import {observedMethod} from './observed-method.js';

export type {HttpExchange} from './http-exchange.js';

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
