import type {EtcdErrorName} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';

/**
 * The kind of a failure that etcd has no named error for, in words every front end maps its
 * own way (the etcd API to a gRPC status code, ZooKeeper to a `KeeperException`).
 */
export type DomainErrorKind = 'InvalidArgument' | 'Unavailable' | 'Unimplemented';

/**
 * A request the member refuses, thrown by the core (member, auth, request decoding) without
 * any transport's types: `id` names one of etcd's errors (`EtcdErrors`), whose exact text is
 * the message; an error etcd has no name for carries a {@link DomainErrorKind} instead. The
 * etcd API maps both to gRPC in one table (`api/errors.ts`).
 *
 * Example: `EtcdDomainError.of('noSpace')` reaches an etcd client as RESOURCE_EXHAUSTED
 * "etcdserver: mvcc: database space exceeded".
 */
export class EtcdDomainError extends Error {
  override readonly name: string = 'EtcdDomainError';

  protected constructor(
    message: string,
    /** One of etcd's errors, when etcd has one for this refusal. */
    readonly id: EtcdErrorName | undefined,
    /** What kind of refusal an error without an `id` is. */
    readonly kind: DomainErrorKind | undefined,
  ) {
    super(message);
  }

  /** etcd's error `id`, with etcd's message. */
  static of(id: EtcdErrorName): EtcdDomainError {
    return new EtcdDomainError(EtcdErrors[id].message, id, undefined);
  }

  /** A refusal etcd has no named error for, with the message a user should read. */
  static unnamed(kind: DomainErrorKind, message: string): EtcdDomainError {
    return new EtcdDomainError(message, undefined, kind);
  }
}
