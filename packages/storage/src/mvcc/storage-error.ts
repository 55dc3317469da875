/** gRPC status names the server maps storage errors to. */
export type StorageErrorCode =
  | 'InvalidArgument'
  | 'OutOfRange'
  | 'NotFound'
  | 'FailedPrecondition'
  | 'ResourceExhausted';

/**
 * An error with etcd's exact message, so clients that match on message strings keep working.
 * `code` is the gRPC status the server answers with.
 */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/** etcd's messages; mvcc ones get the `etcdserver: ` prefix added by the server, like etcd. */
export const ErrorMessages = {
  compacted: 'mvcc: required revision has been compacted',
  futureRev: 'mvcc: required revision is a future revision',
  keyNotProvided: 'etcdserver: key is not provided',
  keyNotFound: 'etcdserver: key not found',
  valueProvided: 'etcdserver: value is provided',
  leaseProvided: 'etcdserver: lease is provided',
  tooManyOps: 'etcdserver: too many operations in txn request',
  duplicateKey: 'etcdserver: duplicate key given in txn request',
  leaseNotFound: 'etcdserver: requested lease not found',
  leaseExists: 'etcdserver: lease already exists',
  invalidSortOption: 'etcdserver: invalid sort option',
  watcherRangeEmpty: 'mvcc: watcher range is empty',
} as const;

export const errCompacted = (): StorageError =>
  new StorageError('OutOfRange', ErrorMessages.compacted);
export const errFutureRev = (): StorageError =>
  new StorageError('OutOfRange', ErrorMessages.futureRev);
