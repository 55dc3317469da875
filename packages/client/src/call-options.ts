/** Options every call accepts. */
export interface CallOptions {
  /** Cancels the call; the promise then rejects with an `AbortError`. */
  readonly signal?: AbortSignal;
  /**
   * Deadline of the whole call, retries included, in milliseconds (the client's
   * `defaultTimeoutMs` when omitted). When it passes the call rejects with
   * `DeadlineExceededError`.
   */
  readonly timeoutMs?: number;
}

/** Options of a write that may be retried when the caller says it is safe to. */
export interface RetryableWriteOptions extends CallOptions {
  /**
   * Retry on another member after an UNAVAILABLE failure. Off by default: when a member
   * fails after receiving a write, the client cannot tell whether the write was applied,
   * and a retry may apply it twice. Turn it on only for writes that are idempotent for
   * your application (the same put of the same value, say).
   */
  readonly retry?: boolean;
}
