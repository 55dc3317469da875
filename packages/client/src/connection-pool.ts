import {
  AuthDefinition,
  ClusterDefinition,
  KVDefinition,
  LeaseDefinition,
  MaintenanceDefinition,
  WatchDefinition,
} from '@synod/proto';
import type {
  AuthClient,
  ClusterClient,
  KVClient,
  LeaseClient,
  MaintenanceClient,
  WatchClient,
} from '@synod/proto';
import {abortable, delay, isAbortError} from 'abort-controller-x';
import {createChannel, createClient, Metadata, Status} from 'nice-grpc';
import type {Channel, ChannelCredentials, ChannelOptions} from 'nice-grpc';

import {backoffDelayMs} from './backoff.js';
import type {BackoffOptions} from './backoff.js';
import type {CallOptions} from './call-options.js';
import {DeadlineExceededError, EtcdError, InvalidAuthTokenError, toEtcdError} from './errors.js';

/** The generated nice-grpc clients of one endpoint. */
export interface ServiceClients {
  readonly kv: KVClient;
  readonly watch: WatchClient;
  readonly lease: LeaseClient;
  readonly cluster: ClusterClient;
  readonly maintenance: MaintenanceClient;
  readonly auth: AuthClient;
}

/** User name and password the client authenticates with. */
export interface AuthCredentials {
  readonly username: string;
  readonly password: string;
}

/** @internal Settings of a {@link ConnectionPool}, filled in by `createClient`. */
export interface PoolSettings {
  readonly endpoints: readonly string[];
  readonly credentials: ChannelCredentials | undefined;
  readonly channelOptions: ChannelOptions;
  readonly dialTimeoutMs: number;
  readonly keepAliveTimeMs: number;
  readonly defaultTimeoutMs: number;
  readonly auth: AuthCredentials | undefined;
  readonly maxAttempts: number;
  readonly backoff: BackoffOptions;
}

interface Token {
  readonly value: string;
  /**
   * When to authenticate again: shortly before a JWT token's `exp` (30 s, or a quarter of
   * its lifetime if shorter); undefined for simple tokens, which expire only when idle and
   * are replaced when a member reports them invalid.
   */
  readonly refreshAtMs: number | undefined;
}

/**
 * @internal One member's address with its channel, clients and auth token. etcd's simple
 * tokens live in the memory of the member that issued them, so each endpoint keeps its own.
 */
export class Endpoint {
  private channelState: Channel | undefined;
  private clientsState: ServiceClients | undefined;
  token: Token | undefined;
  authenticating: Promise<Token> | undefined;
  /** When a call to this endpoint last failed as unavailable. */
  failedAtMs: number | undefined;
  private closed = false;

  constructor(
    readonly address: string,
    private readonly settings: PoolSettings,
  ) {}

  get clients(): ServiceClients {
    if (this.closed) throw new Error(`the client is closed (endpoint ${this.address})`);
    if (this.clientsState === undefined) {
      const channel = createChannel(this.address, this.settings.credentials, {
        // nice-grpc reads this option as the timeout of one connection attempt.
        'grpc.min_reconnect_backoff_ms': this.settings.dialTimeoutMs,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        // Detects a member that stopped answering on an open stream. etcd refuses pings
        // more often than every 5 s.
        'grpc.keepalive_time_ms': this.settings.keepAliveTimeMs,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.max_receive_message_length': 2 ** 31 - 1,
        ...this.settings.channelOptions,
      });
      this.channelState = channel;
      this.clientsState = {
        kv: createClient(KVDefinition, channel),
        watch: createClient(WatchDefinition, channel),
        lease: createClient(LeaseDefinition, channel),
        cluster: createClient(ClusterDefinition, channel),
        maintenance: createClient(MaintenanceDefinition, channel),
        auth: createClient(AuthDefinition, channel),
      };
    }
    return this.clientsState;
  }

  close(): void {
    this.closed = true;
    this.channelState?.close();
    this.channelState = undefined;
    this.clientsState = undefined;
  }
}

function tokenRefreshTime(token: string, nowMs: number): number | undefined {
  const expiresAtMs = tokenExpiry(token);
  if (expiresAtMs === undefined) return undefined;
  return expiresAtMs - Math.min(30_000, Math.max(0, expiresAtMs - nowMs) / 4);
}

function tokenExpiry(token: string): number | undefined {
  // A JWT is header.payload.signature; the payload's `exp` is in seconds.
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** @internal How a unary call may be retried. */
export interface UnaryPolicy extends CallOptions {
  /** Retry on another endpoint after UNAVAILABLE (only for calls that are safe to repeat). */
  readonly retry: boolean;
  /** Send to this endpoint only, without failover. */
  readonly endpoint?: Endpoint;
}

/**
 * @internal The endpoints of a cluster and the choice among them.
 *
 * Calls go to the current endpoint, the one that answered last. When a call to it fails
 * as UNAVAILABLE (connection refused or lost, no leader, request timed out) or passes
 * its deadline, the next endpoint that has not failed, or failed longest ago, becomes
 * current. Only calls marked `retry` are then sent again, with exponential backoff and
 * jitter, until they succeed, `maxAttempts` is reached or the deadline passes.
 */
export class ConnectionPool {
  readonly endpoints: readonly Endpoint[];
  private currentIndex = 0;
  private closed = false;

  constructor(readonly settings: PoolSettings) {
    if (settings.endpoints.length === 0) {
      throw new Error('createClient: no endpoints given; pass at least one, like "127.0.0.1:2379"');
    }
    this.endpoints = settings.endpoints.map(address => new Endpoint(address, settings));
  }

  /** The endpoint calls go to now. */
  current(): Endpoint {
    const endpoint = this.endpoints[this.currentIndex];
    if (endpoint === undefined) throw new Error('no endpoint');
    return endpoint;
  }

  /** Records that an endpoint failed; if it was current, moves to the best other one. */
  reportFailure(endpoint: Endpoint): void {
    endpoint.failedAtMs = Date.now();
    if (endpoint !== this.current() || this.endpoints.length === 1) return;
    let best = this.currentIndex;
    let bestFailedAt = Number.POSITIVE_INFINITY;
    for (let step = 1; step < this.endpoints.length; step++) {
      const index = (this.currentIndex + step) % this.endpoints.length;
      const failedAt = this.endpoints[index]?.failedAtMs ?? Number.NEGATIVE_INFINITY;
      if (failedAt < bestFailedAt) {
        best = index;
        bestFailedAt = failedAt;
      }
    }
    this.currentIndex = best;
  }

  /** Records a successful answer: the endpoint stays (or becomes) the preferred one. */
  reportSuccess(endpoint: Endpoint): void {
    endpoint.failedAtMs = undefined;
  }

  /** The endpoint whose address (as given to `createClient`) is `address`. */
  endpoint(address: string): Endpoint {
    const found = this.endpoints.find(e => e.address === address);
    if (found === undefined) {
      throw new Error(
        `unknown endpoint ${address}: the client was created with ${this.endpoints.map(e => e.address).join(', ')}`,
      );
    }
    return found;
  }

  /**
   * Metadata for a call to `endpoint`: the auth token (authenticating first if needed)
   * and any extra entries.
   */
  async metadata(
    endpoint: Endpoint,
    signal: AbortSignal,
    extra?: Readonly<Record<string, string>>,
  ): Promise<Metadata> {
    const metadata = Metadata(extra);
    if (this.settings.auth !== undefined) {
      const token = await this.token(endpoint, signal);
      metadata.set('token', token.value);
    }
    return metadata;
  }

  private async token(endpoint: Endpoint, signal: AbortSignal): Promise<Token> {
    const current = endpoint.token;
    if (
      current !== undefined &&
      (current.refreshAtMs === undefined || Date.now() < current.refreshAtMs)
    ) {
      return current;
    }
    const credentials = this.settings.auth;
    if (credentials === undefined) throw new Error('no credentials');
    // One authentication per endpoint at a time, shared by every caller waiting for it; it
    // runs under its own deadline so that one caller's abort does not fail the others.
    endpoint.authenticating ??= (async () => {
      try {
        const response = await endpoint.clients.auth.authenticate(
          {name: credentials.username, password: credentials.password},
          {signal: AbortSignal.timeout(this.settings.defaultTimeoutMs)},
        );
        const token = {
          value: response.token,
          refreshAtMs: tokenRefreshTime(response.token, Date.now()),
        };
        endpoint.token = token;
        return token;
      } catch (error) {
        if (!isAbortError(error)) throw error;
        throw new DeadlineExceededError(
          Status.DEADLINE_EXCEEDED,
          `no answer to authentication within ${this.settings.defaultTimeoutMs} ms`,
          '/etcdserverpb.Auth/Authenticate',
        );
      } finally {
        endpoint.authenticating = undefined;
      }
    })();
    return abortable(signal, endpoint.authenticating);
  }

  /** Forgets a token the server rejected, so that the next call authenticates again. */
  invalidateToken(endpoint: Endpoint, value: string | undefined): void {
    if (endpoint.token !== undefined && endpoint.token.value === value) endpoint.token = undefined;
  }

  /**
   * Runs a unary call with the pool's failover, retry, deadline and auth rules. `invoke`
   * gets the clients of the chosen endpoint and the nice-grpc call options to pass.
   */
  async unary<T>(
    method: string,
    policy: UnaryPolicy,
    invoke: (
      clients: ServiceClients,
      options: {signal: AbortSignal; metadata: Metadata},
    ) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new Error(`${method}: the client is closed`);
    const timeoutMs = policy.timeoutMs ?? this.settings.defaultTimeoutMs;
    const controller = new AbortController();
    const deadline = {passed: false};
    const timer = setTimeout(() => {
      deadline.passed = true;
      controller.abort();
    }, timeoutMs);
    const userSignal = policy.signal;
    const onAbort = (): void => {
      controller.abort(userSignal?.reason);
    };
    if (userSignal?.aborted === true) onAbort();
    userSignal?.addEventListener('abort', onAbort);
    const signal = controller.signal;
    let lastError: unknown;
    let reauthenticated = false;
    let endpoint: Endpoint | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        endpoint = policy.endpoint ?? this.current();
        let sentToken: string | undefined;
        try {
          const metadata = await this.metadata(endpoint, signal);
          sentToken = metadata.get('token');
          const result = await invoke(endpoint.clients, {signal, metadata});
          this.reportSuccess(endpoint);
          return result;
        } catch (thrown) {
          if (isAbortError(thrown) || signal.aborted) throw thrown;
          const error = toEtcdError(thrown);
          lastError = error;
          if (!(error instanceof EtcdError)) throw error;
          if (
            error instanceof InvalidAuthTokenError &&
            this.settings.auth !== undefined &&
            !reauthenticated
          ) {
            // etcd checks the token before proposing anything, so the rejected request
            // was not applied and sending it again with a fresh token is safe.
            reauthenticated = true;
            this.invalidateToken(endpoint, sentToken);
            attempt--;
            continue;
          }
          if (!error.unavailable) throw error;
          if (policy.endpoint === undefined) this.reportFailure(endpoint);
          if (!policy.retry || attempt + 1 >= this.settings.maxAttempts) throw error;
        }
        await delay(signal, backoffDelayMs(attempt, this.settings.backoff));
      }
    } catch (error) {
      if (deadline.passed && (isAbortError(error) || !(error instanceof EtcdError))) {
        // The member did not answer in time: try another one next time.
        if (endpoint !== undefined && policy.endpoint === undefined) this.reportFailure(endpoint);
        throw new DeadlineExceededError(
          Status.DEADLINE_EXCEEDED,
          `no answer within the deadline of ${timeoutMs} ms` +
            (lastError instanceof Error ? ` (last error: ${lastError.message})` : '') +
            '; raise timeoutMs or check that the cluster is reachable and has a leader',
          method,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
    }
  }

  /** Closes every channel; calls made afterwards fail. */
  close(): void {
    this.closed = true;
    for (const endpoint of this.endpoints) endpoint.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
