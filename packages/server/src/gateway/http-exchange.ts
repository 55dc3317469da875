import {Metadata} from 'nice-grpc-common';

import type {HttpExchange} from '../transport/http-exchange.js';
import {LazyCallContext} from '../transport/lazy-call-context.js';

export type {HttpExchange} from '../transport/http-exchange.js';

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
