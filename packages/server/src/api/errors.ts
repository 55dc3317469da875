import type {EtcdErrorSpec} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import {StorageError} from '@synod/storage';
import {ServerError} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import type {ApplyResult} from '../member/apply-result.js';
import {toEtcdError} from '../member/apply-result.js';

export function etcdError(spec: EtcdErrorSpec): ServerError {
  return new ServerError(spec.code, spec.message);
}

/** Runs request validation from the store, turning its errors into etcd's gRPC errors. */
export function validated<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof StorageError) throw etcdError(toEtcdError(error));
    throw error;
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
