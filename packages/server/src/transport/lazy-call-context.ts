import {Metadata} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

/**
 * A {@link CallContext} whose parts are made when a handler first asks for them: most calls
 * never read their metadata, set a header or trailer, or watch their signal, and making those
 * objects (an AbortController whose abort builds a DOMException, metadata converted from
 * headers) for every call is a measurable share of a small request's cost. Each front end
 * (gRPC over HTTP/2, the peer port's grpc-js, the JSON gateway) says where its metadata comes
 * from, who its peer is and how a header is sent; the signal aborts on {@link cancel}.
 */
export abstract class LazyCallContext implements CallContext {
  private abort: AbortController | undefined;
  private cancelled = false;
  private metadataIn: Metadata | undefined;
  private headerOut: Metadata | undefined;
  private trailerOut: Metadata | undefined;

  abstract get peer(): string;

  /** The call's request metadata, read from the transport's own form. */
  protected abstract readMetadata(): Metadata;

  abstract sendHeader(): void;

  get metadata(): Metadata {
    this.metadataIn ??= this.readMetadata();
    return this.metadataIn;
  }

  get header(): Metadata {
    this.headerOut ??= Metadata();
    return this.headerOut;
  }

  get trailer(): Metadata {
    this.trailerOut ??= Metadata();
    return this.trailerOut;
  }

  get signal(): AbortSignal {
    if (this.abort === undefined) {
      this.abort = new AbortController();
      if (this.cancelled) this.abort.abort();
    }
    return this.abort.signal;
  }

  /** Whether the client cancelled the call (or its deadline passed). */
  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** @internal The call ended without an answer: the client left or the deadline passed. */
  cancel(): void {
    this.cancelled = true;
    this.abort?.abort();
  }

  /** @internal The header metadata a handler set, if any. */
  headerToSend(): Metadata | undefined {
    return this.headerOut;
  }

  /** @internal The trailer metadata a handler set, if any. */
  trailerSet(): Metadata | undefined {
    return this.trailerOut;
  }
}
