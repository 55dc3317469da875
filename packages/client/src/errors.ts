import {etcdErrorName} from '@synod/proto';
import type {EtcdErrorName} from '@synod/proto';
import {ClientError, Status} from 'nice-grpc';

/**
 * Base class of every error the client throws for a failed etcd call.
 *
 * `code` is the gRPC status code; `etcdName` names the etcd error when the server sent
 * one of etcd's exact messages (for example `'compacted'`), and is undefined for errors
 * etcd does not define (a transport failure, an unknown server message). `name` is the
 * class name, as for any JavaScript error.
 */
export class EtcdError extends Error {
  /** The gRPC status code of the failure. */
  readonly code: Status;
  /** The etcd error this is, recognised by its exact message; undefined if not etcd's. */
  readonly etcdName: EtcdErrorName | undefined;
  /** The gRPC method that failed, like `/etcdserverpb.KV/Range`, when known. */
  readonly method: string | undefined;
  /** The server's message without the method prefix (what etcd sent). */
  readonly details: string;

  constructor(code: Status, details: string, method?: string, options?: ErrorOptions) {
    const where = method === undefined ? '' : `${method} `;
    super(`${where}${Status[code]}: ${details}`, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.etcdName = etcdErrorName(details);
    this.method = method;
  }

  /** Whether another member might answer: the call failed with gRPC UNAVAILABLE. */
  get unavailable(): boolean {
    return this.code === Status.UNAVAILABLE;
  }
}

/**
 * The revision asked for has been compacted away. Raised by range reads at an old
 * revision and by watches that start (or resume) below the compaction point.
 *
 * To resynchronise a watch: read the current state with `kv.range(...)`, then watch again
 * from the read's `header.revision + 1n`.
 */
export class CompactedError extends EtcdError {
  /**
   * The revision the store is compacted to, when the server said (watch responses carry
   * it; the error of a range read does not).
   */
  readonly compactRevision: bigint | undefined;

  constructor(details: string, method?: string, compactRevision?: bigint) {
    super(Status.OUT_OF_RANGE, details, method);
    this.compactRevision = compactRevision;
  }
}

/** The revision asked for is newer than the store's current revision. */
export class FutureRevisionError extends EtcdError {}

/** The lease does not exist (never granted, revoked or expired). */
export class LeaseNotFoundError extends EtcdError {}

/** A request that needs the caller's credentials was refused (the user lacks permission). */
export class PermissionDeniedError extends EtcdError {}

/** The auth token is unknown or expired; the client re-authenticates and retries once. */
export class InvalidAuthTokenError extends EtcdError {}

/** Wrong user name or password, or the user cannot log in. */
export class AuthFailedError extends EtcdError {}

/**
 * The member could not serve the call now: the connection failed, the member has no
 * leader, the leader changed, or the request timed out inside the cluster. Whether a
 * write carried by the call was applied is unknown.
 */
export class UnavailableError extends EtcdError {}

/** The member answering has no raft leader (it may be partitioned from the majority). */
export class NoLeaderError extends UnavailableError {}

/** The call's deadline (`timeoutMs`) passed before an answer came. */
export class DeadlineExceededError extends EtcdError {}

type ErrorClass = new (code: Status, details: string, method?: string) => EtcdError;

const classByName: Partial<Record<EtcdErrorName, ErrorClass>> = {
  futureRev: FutureRevisionError,
  leaseNotFound: LeaseNotFoundError,
  permissionDenied: PermissionDeniedError,
  invalidAuthToken: InvalidAuthTokenError,
  authFailed: AuthFailedError,
  noLeader: NoLeaderError,
};

/** Builds the typed error for a gRPC status code and the server's message. */
export function etcdErrorFromStatus(code: Status, details: string, method?: string): EtcdError {
  const name = etcdErrorName(details);
  if (name === 'compacted') return new CompactedError(details, method);
  const known = name === undefined ? undefined : classByName[name];
  if (known !== undefined) return new known(code, details, method);
  if (code === Status.UNAVAILABLE) return new UnavailableError(code, details, method);
  if (code === Status.DEADLINE_EXCEEDED) return new DeadlineExceededError(code, details, method);
  return new EtcdError(code, details, method);
}

/**
 * Converts whatever a nice-grpc call threw into an {@link EtcdError}. Errors that are not
 * gRPC failures (an `AbortError`, a bug) are returned unchanged.
 */
export function toEtcdError(error: unknown): unknown {
  if (error instanceof EtcdError) return error;
  if (error instanceof ClientError)
    return etcdErrorFromStatus(error.code, error.details, error.path);
  return error;
}
