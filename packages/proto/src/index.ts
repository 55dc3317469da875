/**
 * The etcd v3 wire protocol, generated from the `.proto` sources under `proto/`
 * by ts-proto for nice-grpc: every message (a type and a value with
 * `encode` / `decode` / `fromPartial`), every enum, and for every service its
 * `*Definition` (for a nice-grpc server or client factory), `*Client` and
 * `*ServiceImplementation` types.
 *
 * 64-bit integers are `bigint` throughout, since member, cluster and lease ids
 * use all 64 bits. `bytes` fields are `Buffer`s.
 *
 * Nested protobuf enums keep ts-proto's `Outer_Inner` names (for example
 * `RangeRequest_SortOrder`), the names the generated message types use. No two
 * etcd packages define the same name, so etcd's names are exported unchanged;
 * the peer transport's are prefixed with `Peer` (see below).
 *
 * The Raft protocol has its own entry point, `@synod/proto/raftpb`.
 */

import {keepBytesInProtobufStrings} from './byte-preserving-utf8.js';

// etcd's strings are Go strings: bytes, valid UTF-8 or not. Every message of this package
// keeps them byte for byte (see byte-preserving-utf8.ts).
keepBytesInProtobufStrings();

// etcdserverpb: the core services KV, Watch, Lease, Cluster, Maintenance, Auth.
export {
  AlarmMember,
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmResponse,
  AlarmType,
  AuthDefinition,
  AuthDisableRequest,
  AuthDisableResponse,
  AuthEnableRequest,
  AuthEnableResponse,
  AuthRoleAddRequest,
  AuthRoleAddResponse,
  AuthRoleDeleteRequest,
  AuthRoleDeleteResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleGrantPermissionResponse,
  AuthRoleListRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthRoleRevokePermissionResponse,
  AuthStatusRequest,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserAddResponse,
  AuthUserChangePasswordRequest,
  AuthUserChangePasswordResponse,
  AuthUserDeleteRequest,
  AuthUserDeleteResponse,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserGrantRoleResponse,
  AuthUserListRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  AuthUserRevokeRoleResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  ClusterDefinition,
  CompactionRequest,
  CompactionResponse,
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  DefragmentRequest,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  DowngradeInfo,
  DowngradeRequest,
  DowngradeRequest_DowngradeAction,
  DowngradeResponse,
  HashKVRequest,
  HashKVResponse,
  HashRequest,
  HashResponse,
  KVDefinition,
  LeaseCheckpoint,
  LeaseCheckpointRequest,
  LeaseCheckpointResponse,
  LeaseDefinition,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseStatus,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MaintenanceDefinition,
  Member,
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchCancelRequest,
  WatchCreateRequest,
  WatchCreateRequest_FilterType,
  WatchDefinition,
  WatchProgressRequest,
  WatchRequest,
  WatchResponse,
} from './gen/etcdserverpb/rpc.js';
export type {
  AuthClient,
  AuthServiceImplementation,
  ClusterClient,
  ClusterServiceImplementation,
  // The same helper types are generated into every etcd file; these are the
  // etcdserverpb copies, interchangeable with the others.
  DeepPartial,
  KVClient,
  KVServiceImplementation,
  LeaseClient,
  LeaseServiceImplementation,
  MaintenanceClient,
  MaintenanceServiceImplementation,
  MessageFns,
  ServerStreamingMethodResult,
  WatchClient,
  WatchServiceImplementation,
} from './gen/etcdserverpb/rpc.js';

// mvccpb: stored key-values and watch events.
export {Event, Event_EventType, KeyValue} from './gen/mvccpb/kv.js';

// authpb: users, roles and their permissions.
export {Permission, Permission_Type, Role, User, UserAddOptions} from './gen/authpb/auth.js';

// v3lockpb: the server-side lock service.
export {
  LockDefinition,
  LockRequest,
  LockResponse,
  UnlockRequest,
  UnlockResponse,
} from './gen/v3lockpb/v3lock.js';
export type {LockClient, LockServiceImplementation} from './gen/v3lockpb/v3lock.js';

// v3electionpb: the server-side leader election service.
export {
  CampaignRequest,
  CampaignResponse,
  ElectionDefinition,
  LeaderKey,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  ResignRequest,
  ResignResponse,
} from './gen/v3electionpb/v3election.js';
export type {ElectionClient, ElectionServiceImplementation} from './gen/v3electionpb/v3election.js';

// grpc.health.v1: the standard gRPC health check. Its names are already
// specific (HealthCheck*), so they are exported as generated.
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthDefinition,
} from './gen/grpc/health/v1/health.js';
export type {HealthClient, HealthServiceImplementation} from './gen/grpc/health/v1/health.js';

// peerpb: the transport between members of one cluster (not part of the etcd
// API). Its `SnapshotResponse` would clash with etcd's Maintenance
// `SnapshotResponse`, and names like `MessageBatch` say little
// outside their package, so every message gets a `Peer` prefix here.
export {
  MessageBatch as PeerMessageBatch,
  PeerDefinition,
  PeerFrame,
  PeerHello,
  PeerRefusal,
  SnapshotChunk as PeerSnapshotChunk,
  SnapshotResponse as PeerSnapshotResponse,
} from './gen/peerpb/peer.js';
export type {PeerClient, PeerServiceImplementation} from './gen/peerpb/peer.js';

// etcd's error codes and messages, shared by the server (which sends them) and the client
// (which recognises them).
export {EtcdErrors, etcdErrorName} from './etcd-errors.js';
export type {EtcdErrorName, EtcdErrorSpec} from './etcd-errors.js';

// ZooKeeper 3.8's wire constants, for Synod's ZooKeeper port and the tools that talk to it.
export {ZkErrorCode, ZkProtocol} from './zookeeper-protocol.js';
export type {ZkError} from './zookeeper-protocol.js';

// The UTF-8 codec of every string field, for code that turns such strings into bytes itself.
export {decodeUtf8KeepingBytes, encodeUtf8KeepingBytes} from './byte-preserving-utf8.js';
