import type {EtcdErrorSpec} from '@synod/proto';
import {StorageError} from '@synod/storage';
import {Status} from 'nice-grpc-common';

/** What applying one request produced: its response with the revision after it, or an etcd error. */
export type ApplyResult<T = unknown> =
  | {readonly ok: true; readonly response: T; readonly revision: number}
  | {readonly ok: false; readonly error: EtcdErrorSpec};

const storageCodes: Record<StorageError['code'], Status> = {
  InvalidArgument: Status.INVALID_ARGUMENT,
  OutOfRange: Status.OUT_OF_RANGE,
  NotFound: Status.NOT_FOUND,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
};

/**
 * The etcd error for an error the store threw. mvcc's own messages get the
 * `etcdserver: ` prefix, as etcd's server adds it. Anything else is a bug and
 * is rethrown: an apply must never half-happen silently.
 */
export function toEtcdError(error: unknown): EtcdErrorSpec {
  if (error instanceof StorageError) {
    const message = error.message.startsWith('etcdserver: ')
      ? error.message
      : `etcdserver: ${error.message}`;
    return {code: storageCodes[error.code], message};
  }
  throw error;
}
