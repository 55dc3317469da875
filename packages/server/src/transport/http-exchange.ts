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
