import {Status} from 'nice-grpc-common';

/** One error of the etcd v3 API: the gRPC status code and the exact message etcd sends. */
export interface EtcdErrorSpec {
  readonly code: Status;
  readonly message: string;
}

function spec(code: Status, message: string): EtcdErrorSpec {
  return {code, message};
}

/**
 * The errors etcd's servers return, by the name Synod uses for each. etcd's
 * clients recognise errors by the exact message string, so a server must send
 * these messages byte for byte, with these codes. Codes follow etcd 3.6 where
 * versions differ (the learner errors were Unavailable before 3.6).
 */
export const EtcdErrors = {
  // Bad requests.
  emptyKey: spec(Status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: spec(Status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: spec(Status.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: spec(Status.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: spec(Status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: spec(Status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  invalidSortOption: spec(Status.INVALID_ARGUMENT, 'etcdserver: invalid sort option'),
  requestTooLarge: spec(Status.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  memberBadURLs: spec(Status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  userEmpty: spec(Status.INVALID_ARGUMENT, 'etcdserver: user name is empty'),
  roleEmpty: spec(Status.INVALID_ARGUMENT, 'etcdserver: role name is empty'),
  authFailed: spec(
    Status.INVALID_ARGUMENT,
    'etcdserver: authentication failed, invalid user ID or password',
  ),
  permissionNotGiven: spec(Status.INVALID_ARGUMENT, 'etcdserver: permission not given'),
  authOldRevision: spec(Status.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'),
  invalidAuthMgmt: spec(Status.INVALID_ARGUMENT, 'etcdserver: invalid auth management'),

  // Revisions and leases out of range.
  compacted: spec(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: spec(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  leaseTTLTooLarge: spec(Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),

  // Capacity.
  noSpace: spec(Status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),
  tooManyRequests: spec(Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),

  // Missing things.
  leaseNotFound: spec(Status.NOT_FOUND, 'etcdserver: requested lease not found'),
  memberNotFound: spec(Status.NOT_FOUND, 'etcdserver: member not found'),

  // State that forbids the request.
  leaseExists: spec(Status.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  memberExists: spec(Status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExists: spec(Status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ),
  memberNotLearner: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member',
  ),
  learnerNotReady: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  tooManyLearners: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: too many learner members in cluster',
  ),
  rootUserNotExist: spec(Status.FAILED_PRECONDITION, 'etcdserver: root user does not exist'),
  rootRoleNotExist: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: root user does not have root role',
  ),
  userAlreadyExist: spec(Status.FAILED_PRECONDITION, 'etcdserver: user name already exists'),
  userNotFound: spec(Status.FAILED_PRECONDITION, 'etcdserver: user name not found'),
  roleAlreadyExist: spec(Status.FAILED_PRECONDITION, 'etcdserver: role name already exists'),
  roleNotFound: spec(Status.FAILED_PRECONDITION, 'etcdserver: role name not found'),
  roleNotGranted: spec(Status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: permission is not granted to the role',
  ),
  authNotEnabled: spec(Status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  notLeader: spec(Status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  badLeaderTransferee: spec(Status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  clusterIdMismatch: spec(Status.FAILED_PRECONDITION, 'etcdserver: cluster ID mismatch'),
  learnerNotSupported: spec(
    Status.FAILED_PRECONDITION,
    'etcdserver: rpc not supported for learner',
  ),
  notCapable: spec(Status.FAILED_PRECONDITION, 'etcdserver: not capable'),

  // Authorisation.
  permissionDenied: spec(Status.PERMISSION_DENIED, 'etcdserver: permission denied'),
  invalidAuthToken: spec(Status.UNAUTHENTICATED, 'etcdserver: invalid auth token'),

  // The cluster cannot answer now; clients may retry elsewhere.
  noLeader: spec(Status.UNAVAILABLE, 'etcdserver: no leader'),
  leaderChanged: spec(Status.UNAVAILABLE, 'etcdserver: leader changed'),
  stopped: spec(Status.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: spec(Status.UNAVAILABLE, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: spec(
    Status.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ),
  timeoutDueToConnectionLost: spec(
    Status.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ),
  timeoutWaitAppliedIndex: spec(
    Status.UNAVAILABLE,
    'etcdserver: request timed out, waiting for the applied index took too long',
  ),
  unhealthyCluster: spec(Status.UNAVAILABLE, 'etcdserver: unhealthy cluster'),

  corrupt: spec(Status.DATA_LOSS, 'etcdserver: corrupt cluster'),
  watchCanceled: spec(Status.CANCELLED, 'etcdserver: watch canceled'),
  requestCanceled: spec(Status.CANCELLED, 'etcdserver: request canceled'),
  deadlineExceeded: spec(Status.DEADLINE_EXCEEDED, 'etcdserver: context deadline exceeded'),
} as const satisfies Record<string, EtcdErrorSpec>;

/** The name of an etcd API error, e.g. `'compacted'`. */
export type EtcdErrorName = keyof typeof EtcdErrors;

const byMessage = new Map<string, EtcdErrorName>(
  (Object.keys(EtcdErrors) as EtcdErrorName[]).map(name => [EtcdErrors[name].message, name]),
);

/**
 * Finds which etcd error a server's message denotes, as etcd's clients do: by
 * the exact text. Returns undefined for a message etcd does not define.
 */
export function etcdErrorName(message: string): EtcdErrorName | undefined {
  return byMessage.get(message);
}
