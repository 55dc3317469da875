import type {EtcdErrorSpec} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import {StorageError} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import {AuthError} from '../auth/auth-store.js';
import type {DomainErrorKind} from '../errors/etcd-domain-error.js';
import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {ApplyResult} from '../member/apply-result.js';
import {toEtcdError} from '../member/apply-result.js';

export function etcdError(spec: EtcdErrorSpec): ServerError {
  return new ServerError(spec.code, spec.message);
}

/** The gRPC status of a refusal etcd has no named error for. */
const kindCodes: Record<DomainErrorKind, Status> = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  Unavailable: Status.UNAVAILABLE,
  Unimplemented: Status.UNIMPLEMENTED,
};

/**
 * The one table from the core's errors to what an etcd gRPC client sees: etcd's status code
 * and exact message. The guard of every client service (and the peer services) passes each
 * error leaving a handler through it; anything else goes out as the transport reports it.
 * The gateway answers from the same gRPC error; another front end maps these classes its
 * own way.
 */
export function toGrpcError(error: unknown): unknown {
  if (error instanceof EtcdDomainError) {
    if (error.id !== undefined) return etcdError(EtcdErrors[error.id]);
    if (error.kind !== undefined) return new ServerError(kindCodes[error.kind], error.message);
    return error;
  }
  if (error instanceof AuthError) return etcdError(error.spec);
  if (error instanceof StorageError) return etcdError(toEtcdError(error));
  return error;
}

/** Runs `check` and throws what it throws as {@link toGrpcError} maps it. */
export function asGrpcErrors<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw toGrpcError(error);
  }
}

/** The response of an applied request, or its error as the client should see it. */
export function unwrap(result: ApplyResult): {response: unknown; revision: number} {
  if (!result.ok) throw etcdError(result.error);
  return {response: result.response, revision: result.revision};
}

/**
 * etcd's clients send `hasleader: true` to ask that a request fail at once
 * when the member knows no leader, rather than wait for one.
 */
export function requireLeaderIfAsked(context: CallContext, leader: number): void {
  if (leader === 0 && context.metadata.get('hasleader') === 'true') {
    throw etcdError(EtcdErrors.noLeader);
  }
}
