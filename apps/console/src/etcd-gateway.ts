/**
 * The console's only way to the member: etcd's JSON gateway (`/v3/...`, grpc-gateway's JSON
 * with keys and values in base64 and 64-bit numbers as decimal strings) and `/metrics`, on
 * the origin that served the page. Every call carries the user's token, so the member's auth
 * decides what the console may see and do, exactly as for any other client.
 */

/** grpc-gateway's JSON: fields at their zero value are left out, so every one may be missing. */
export interface ResponseHeader {
  readonly cluster_id?: string;
  readonly member_id?: string;
  readonly revision?: string;
  readonly raft_term?: string;
}

export interface KeyValue {
  readonly key?: string;
  readonly create_revision?: string;
  readonly mod_revision?: string;
  readonly version?: string;
  readonly value?: string;
  readonly lease?: string;
}

export interface RangeRequest {
  readonly key: string;
  readonly range_end?: string;
  readonly limit?: number;
  readonly revision?: number;
  readonly keys_only?: boolean;
  readonly count_only?: boolean;
  readonly serializable?: boolean;
}

export interface RangeResponse {
  readonly header?: ResponseHeader;
  readonly kvs?: readonly KeyValue[];
  readonly more?: boolean;
  readonly count?: string;
}

export interface Member {
  readonly ID?: string;
  readonly name?: string;
  readonly peerURLs?: readonly string[];
  readonly clientURLs?: readonly string[];
  readonly isLearner?: boolean;
}

export interface StatusResponse {
  readonly header?: ResponseHeader;
  readonly version?: string;
  readonly dbSize?: string;
  readonly dbSizeInUse?: string;
  readonly dbSizeQuota?: string;
  readonly leader?: string;
  readonly raftIndex?: string;
  readonly raftTerm?: string;
  readonly raftAppliedIndex?: string;
  readonly errors?: readonly string[];
  readonly isLearner?: boolean;
}

export interface AlarmMember {
  readonly memberID?: string;
  readonly alarm?: string;
}

export interface LeaseTimeToLive {
  readonly ID?: string;
  readonly TTL?: string;
  readonly grantedTTL?: string;
  readonly keys?: readonly string[];
}

export interface WatchEvent {
  /** Left out for PUT, grpc-gateway's zero value. */
  readonly type?: 'PUT' | 'DELETE';
  readonly kv?: KeyValue;
  readonly prev_kv?: KeyValue;
}

export interface WatchResponse {
  readonly header?: ResponseHeader;
  readonly watch_id?: string;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly cancel_reason?: string;
  readonly compact_revision?: string;
  readonly events?: readonly WatchEvent[];
}

/** gRPC's codes the console acts on. */
const permissionDenied = 7;
const unauthenticated = 16;

/** A call the member refused or could not answer, with etcd's message. */
export class GatewayError extends Error {
  override name = 'GatewayError';

  constructor(
    readonly httpStatus: number,
    readonly grpcCode: number | undefined,
    message: string,
  ) {
    super(message);
  }

  /** The user's roles do not allow the call. */
  get isPermissionDenied(): boolean {
    return this.grpcCode === permissionDenied;
  }

  /** The call needs a (new) login: no token, or one the member no longer takes. */
  get needsLogin(): boolean {
    return (
      this.grpcCode === unauthenticated ||
      this.message.includes('user name is empty') ||
      this.message.includes('invalid auth token')
    );
  }
}

interface ErrorBody {
  readonly error?: string;
  readonly message?: string;
  readonly code?: number;
}

function errorOf(status: number, text: string): GatewayError {
  try {
    const body = JSON.parse(text) as ErrorBody;
    return new GatewayError(status, body.code, body.message ?? body.error ?? text);
  } catch {
    return new GatewayError(status, undefined, text.trim() || `HTTP ${status}`);
  }
}

const tokenKey = 'synod-console-token';

export class EtcdGateway {
  private currentToken: string | undefined = sessionStorage.getItem(tokenKey) ?? undefined;
  private readonly loginListeners = new Set<() => void>();

  /** The auth token sent with every call, undefined when not logged in. */
  get token(): string | undefined {
    return this.currentToken;
  }

  set token(token: string | undefined) {
    this.currentToken = token;
    if (token === undefined) sessionStorage.removeItem(tokenKey);
    else sessionStorage.setItem(tokenKey, token);
  }

  /** Calls `listener` whenever a call fails for want of a (valid) login. */
  onLoginNeeded(listener: () => void): () => void {
    this.loginListeners.add(listener);
    return () => this.loginListeners.delete(listener);
  }

  private headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.currentToken === undefined ? {} : {authorization: this.currentToken}),
    };
  }

  private failed(error: GatewayError): GatewayError {
    if (error.needsLogin) for (const listener of this.loginListeners) listener();
    return error;
  }

  /** Calls a gateway method, `kv/range` for `/v3/kv/range`, and returns its JSON answer. */
  async call<T>(method: string, request: unknown, signal?: AbortSignal): Promise<T> {
    const response = await fetch(`/v3/${method}`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify(request),
      signal: signal ?? null,
      credentials: 'omit',
    });
    const text = await response.text();
    if (!response.ok) throw this.failed(errorOf(response.status, text));
    const body = JSON.parse(text) as T & ErrorBody;
    if (body.error !== undefined) throw this.failed(errorOf(response.status, text));
    return body;
  }

  /** Logs in with etcd's user and password; the token goes with every later call. */
  async authenticate(name: string, password: string): Promise<void> {
    const answer = await this.call<{token?: string}>('auth/authenticate', {name, password});
    this.token = answer.token;
  }

  /** Whether the member asks for a login, or undefined when it cannot be told. */
  async authEnabled(): Promise<boolean | undefined> {
    try {
      return (await this.call<{enabled?: boolean}>('auth/status', {})).enabled === true;
    } catch {
      return undefined;
    }
  }

  range(request: RangeRequest, signal?: AbortSignal): Promise<RangeResponse> {
    return this.call<RangeResponse>('kv/range', request, signal);
  }

  /**
   * Watches from `request` (a `create_request`) until `signal` aborts, handing each response
   * to `onResponse`. The gateway streams one JSON object per line, each `{"result": ...}`, or
   * `{"error": ...}` when the watch fails.
   */
  async watch(
    request: Record<string, unknown>,
    onResponse: (response: WatchResponse) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await fetch('/v3/watch', {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({create_request: request}),
      signal,
      credentials: 'omit',
    });
    if (!response.ok || response.body === null) {
      throw this.failed(errorOf(response.status, await response.text()));
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const {done, value} = await reader.read();
      if (done) return;
      buffered += value;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === '') continue;
        const message = JSON.parse(line) as {result?: WatchResponse; error?: ErrorBody};
        if (message.error !== undefined) {
          const {code, message: text, error} = message.error;
          throw this.failed(new GatewayError(response.status, code, text ?? error ?? line));
        }
        if (message.result !== undefined) {
          onResponse(message.result);
          if (message.result.canceled === true) {
            throw new GatewayError(
              response.status,
              undefined,
              message.result.cancel_reason ?? 'the watch was canceled',
            );
          }
        }
      }
    }
  }

  /**
   * The status of the member at `clientUrl` (one of its advertised client URLs), asked of that
   * member itself, as `etcdctl endpoint status --cluster` does: only a member knows its own
   * term, index and size. Maintenance.Status needs no permission, and a token is kept to the
   * member that issued it, so none is sent to the others.
   */
  async memberStatus(clientUrl: string, signal?: AbortSignal): Promise<StatusResponse> {
    const url = new URL('/v3/maintenance/status', clientUrl);
    if (url.origin === location.origin)
      return this.call<StatusResponse>('maintenance/status', {}, signal);
    const response = await fetch(url, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '{}',
      signal: signal ?? null,
      credentials: 'omit',
    });
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, text);
    const body = JSON.parse(text) as StatusResponse & ErrorBody;
    if (body.error !== undefined) throw errorOf(response.status, text);
    return body;
  }

  /** The member's own `/metrics` page, Prometheus' text format. */
  async metrics(signal?: AbortSignal): Promise<string> {
    const response = await fetch('/metrics', {signal: signal ?? null, credentials: 'omit'});
    const text = await response.text();
    if (!response.ok) throw new GatewayError(response.status, undefined, text);
    return text;
  }
}
