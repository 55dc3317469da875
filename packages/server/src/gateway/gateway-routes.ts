/**
 * The gateway's paths, after the version prefix, and the gRPC method each one calls: the
 * `google.api.http` rules of etcd's .proto files (3.5's, which add `auth/status`).
 */
const routes: Readonly<Record<string, string>> = {
  'kv/range': '/etcdserverpb.KV/Range',
  'kv/put': '/etcdserverpb.KV/Put',
  'kv/deleterange': '/etcdserverpb.KV/DeleteRange',
  'kv/txn': '/etcdserverpb.KV/Txn',
  'kv/compaction': '/etcdserverpb.KV/Compact',
  watch: '/etcdserverpb.Watch/Watch',
  'lease/grant': '/etcdserverpb.Lease/LeaseGrant',
  'lease/revoke': '/etcdserverpb.Lease/LeaseRevoke',
  'kv/lease/revoke': '/etcdserverpb.Lease/LeaseRevoke',
  'lease/keepalive': '/etcdserverpb.Lease/LeaseKeepAlive',
  'lease/timetolive': '/etcdserverpb.Lease/LeaseTimeToLive',
  'kv/lease/timetolive': '/etcdserverpb.Lease/LeaseTimeToLive',
  'lease/leases': '/etcdserverpb.Lease/LeaseLeases',
  'kv/lease/leases': '/etcdserverpb.Lease/LeaseLeases',
  'cluster/member/add': '/etcdserverpb.Cluster/MemberAdd',
  'cluster/member/remove': '/etcdserverpb.Cluster/MemberRemove',
  'cluster/member/update': '/etcdserverpb.Cluster/MemberUpdate',
  'cluster/member/list': '/etcdserverpb.Cluster/MemberList',
  'cluster/member/promote': '/etcdserverpb.Cluster/MemberPromote',
  'maintenance/alarm': '/etcdserverpb.Maintenance/Alarm',
  'maintenance/status': '/etcdserverpb.Maintenance/Status',
  'maintenance/defragment': '/etcdserverpb.Maintenance/Defragment',
  'maintenance/hash': '/etcdserverpb.Maintenance/Hash',
  'maintenance/hashkv': '/etcdserverpb.Maintenance/HashKV',
  'maintenance/snapshot': '/etcdserverpb.Maintenance/Snapshot',
  'maintenance/transfer-leadership': '/etcdserverpb.Maintenance/MoveLeader',
  'auth/enable': '/etcdserverpb.Auth/AuthEnable',
  'auth/disable': '/etcdserverpb.Auth/AuthDisable',
  'auth/status': '/etcdserverpb.Auth/AuthStatus',
  'auth/authenticate': '/etcdserverpb.Auth/Authenticate',
  'auth/user/add': '/etcdserverpb.Auth/UserAdd',
  'auth/user/get': '/etcdserverpb.Auth/UserGet',
  'auth/user/list': '/etcdserverpb.Auth/UserList',
  'auth/user/delete': '/etcdserverpb.Auth/UserDelete',
  'auth/user/changepw': '/etcdserverpb.Auth/UserChangePassword',
  'auth/user/grant': '/etcdserverpb.Auth/UserGrantRole',
  'auth/user/revoke': '/etcdserverpb.Auth/UserRevokeRole',
  'auth/role/add': '/etcdserverpb.Auth/RoleAdd',
  'auth/role/get': '/etcdserverpb.Auth/RoleGet',
  'auth/role/list': '/etcdserverpb.Auth/RoleList',
  'auth/role/delete': '/etcdserverpb.Auth/RoleDelete',
  'auth/role/grant': '/etcdserverpb.Auth/RoleGrantPermission',
  'auth/role/revoke': '/etcdserverpb.Auth/RoleRevokePermission',
  'election/campaign': '/v3electionpb.Election/Campaign',
  'election/proclaim': '/v3electionpb.Election/Proclaim',
  'election/leader': '/v3electionpb.Election/Leader',
  'election/observe': '/v3electionpb.Election/Observe',
  'election/resign': '/v3electionpb.Election/Resign',
  'lock/lock': '/v3lockpb.Lock/Lock',
  'lock/unlock': '/v3lockpb.Lock/Unlock',
};

/**
 * The version prefixes the gateway answers under: `/v3/`; `/v3beta/`, its alias in etcd 3.4;
 * and `/v3alpha/`, which etcd 3.4 dropped but clients still use (python's etcd3gw by default).
 */
const prefixes = ['/v3/', '/v3beta/', '/v3alpha/'];

/** What the gateway makes of a request's path. */
export type GatewayRoute =
  /** A method's path: the gRPC method it calls. */
  | {readonly kind: 'method'; readonly grpcPath: string}
  /** Under a version prefix, but no method's: grpc-gateway's own 404. */
  | {readonly kind: 'unknown'}
  /** Not the gateway's at all. */
  | undefined;

/** The route of a request path (without its query). */
export function gatewayRoute(path: string): GatewayRoute {
  const prefix = prefixes.find(p => path.startsWith(p));
  if (prefix === undefined) return undefined;
  const grpcPath = routes[path.slice(prefix.length)];
  return grpcPath === undefined ? {kind: 'unknown'} : {kind: 'method', grpcPath};
}
