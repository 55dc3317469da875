import {Metadata} from 'nice-grpc-common';

import {LazyCallContext} from '../transport/lazy-call-context.js';

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

/**
 * The chunks of a request body. A body fails to read only when its connection broke (the
 * client went away mid-body): that ends it, like its end, and nobody is left to answer.
 */
export async function* bodyChunks(exchange: HttpExchange): AsyncGenerator<Buffer> {
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
export class GatewayCallContext extends LazyCallContext {
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
