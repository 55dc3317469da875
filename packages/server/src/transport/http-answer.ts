/*
 * The member's plain HTTP endpoints as the listeners serve them: the transport carries these
 * answers, the API and the metrics make them.
 */

/** One answer of the member's HTTP endpoints, whatever HTTP version carries it. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The member's HTTP endpoints: the answer to a method, a path and its query. */
export type HttpEndpoints = (
  method: string,
  path: string,
  query?: URLSearchParams,
) => HttpAnswer | Promise<HttpAnswer>;
