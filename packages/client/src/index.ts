/**
 * `@synod/client`: a typed client for any etcd v3 cluster, Synod or etcd.
 *
 * Revisions, versions and ids (lease, member, cluster) are `bigint`, as on the wire;
 * TTLs are `number` seconds and counts are `number`. Keys and values are accepted as
 * strings or bytes and returned as `Buffer`s.
 */
export {createClient, Etcd} from './etcd.js';
export type {EtcdOptions} from './etcd.js';
export type {ClientTlsOptions} from './tls.js';
export type {AuthCredentials, ServiceClients} from './connection-pool.js';
export type {CallOptions, RetryableWriteOptions} from './call-options.js';
export type {Bytes} from './bytes.js';
export {prefixEnd} from './bytes.js';
export type {KeySelector} from './key-space.js';
export {KeyValue} from './key-value.js';
export {KV} from './kv.js';
export type {CompactOptions, DeleteOptions, PutOptions, RangeOptions} from './kv.js';
export {Txn} from './txn.js';
export {compare} from './compare.js';
export type {Comparison, CompareOperator, CompareTarget, Int64Like} from './compare.js';
export {op} from './ops.js';
export type {
  DeleteQuery,
  DeleteResult,
  Op,
  OpResult,
  PutQuery,
  PutResult,
  RangeQuery,
  RangeResult,
  SortOrder,
  SortTarget,
  TxnResult,
} from './ops.js';
export {Watch} from './watch.js';
export type {WatchBatch, WatchEvent, WatchFilter, WatchOptions} from './watch-manager.js';
export {Lease} from './lease.js';
export type {LeaseGrant, LeaseTimeToLive} from './lease.js';
export {LeaseLostError} from './lease-keeper.js';
export type {KeptLease, LeaseLostReason} from './lease-keeper.js';
export {Cluster} from './cluster.js';
export type {MembersResult} from './cluster.js';
export {Maintenance} from './maintenance.js';
export type {AlarmKind, HashKVResult, HashResult, MemberCallOptions} from './maintenance.js';
export {Auth} from './auth.js';
export type {PermissionType, RolePermission} from './auth.js';
export {
  AuthFailedError,
  CompactedError,
  DeadlineExceededError,
  EtcdError,
  FutureRevisionError,
  InvalidAuthTokenError,
  LeaseNotFoundError,
  NoLeaderError,
  PermissionDeniedError,
  UnavailableError,
  etcdErrorFromStatus,
  toEtcdError,
} from './errors.js';
