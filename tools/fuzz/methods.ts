import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmType,
  AuthDefinition,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGrantPermissionRequest,
  AuthRoleRevokePermissionRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGrantRoleRequest,
  AuthUserRevokeRoleRequest,
  AuthenticateRequest,
  CampaignRequest,
  ClusterDefinition,
  CompactionRequest,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  DowngradeRequest,
  DowngradeRequest_DowngradeAction,
  ElectionDefinition,
  HashKVRequest,
  KVDefinition,
  LeaderRequest,
  LeaseDefinition,
  LeaseGrantRequest,
  LeaseKeepAliveRequest,
  LeaseRevokeRequest,
  LeaseTimeToLiveRequest,
  LockDefinition,
  LockRequest,
  Permission_Type,
  MaintenanceDefinition,
  MemberAddRequest,
  MemberListRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MemberUpdateRequest,
  MoveLeaderRequest,
  ProclaimRequest,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  ResignRequest,
  TxnRequest,
  UnlockRequest,
  WatchDefinition,
  WatchCreateRequest_FilterType,
  WatchRequest,
} from '@synod/proto';
import type {Compare, DeepPartial, MessageFns, RequestOp} from '@synod/proto';

import type {FuzzRandom} from './prng.js';
import {
  fuzzLeaseId,
  letters,
  pickEnum,
  pickInt64,
  pickKey,
  pickName,
  pickPeerUrl,
  pickRangeEnd,
  pickUint64,
  pickValue,
} from './values.js';

/** One etcd v3 gRPC method as the fuzzer sees it. */
export interface FuzzMethod {
  /** `Service/Method`, e.g. `KV/Range`: the name the summary uses. */
  readonly label: string;
  /** The HTTP/2 path, e.g. `/etcdserverpb.KV/Range`. */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** Decodes a request as Synod does, for the safety guard. */
  readonly decode: (bytes: Uint8Array) => unknown;
  /**
   * Well-formed request messages, often with boundary or extreme values in them: one for a
   * unary call, one or more for a client stream.
   */
  readonly template: (rng: FuzzRandom) => Buffer[];
  /**
   * Whether a correct server may leave the call open: it waits for a lock, an election or
   * events. Such calls get a short deadline, and "still open" is an ordinary outcome.
   */
  readonly mayStayOpen: boolean;
}

type Template = (rng: FuzzRandom) => Buffer | Buffer[];

function encoder<T>(type: MessageFns<T> & {fromPartial(p: DeepPartial<T>): T}) {
  return (partial: DeepPartial<T>): Buffer =>
    Buffer.from(type.encode(type.fromPartial(partial)).finish());
}

const revision = (rng: FuzzRandom): bigint => pickInt64(rng, () => BigInt(rng.int(0, 50)));
const leaseId = (rng: FuzzRandom): bigint =>
  pickInt64(rng, () => (rng.chance(0.5) ? fuzzLeaseId : BigInt(rng.int(1, 1000))));
const memberId = (rng: FuzzRandom): bigint => pickUint64(rng);

function rangeRequest(rng: FuzzRandom) {
  const key = pickKey(rng);
  return {
    key,
    rangeEnd: pickRangeEnd(rng, key),
    limit: pickInt64(rng, () => BigInt(rng.int(0, 5))),
    revision: rng.chance(0.3) ? revision(rng) : 0n,
    sortOrder: pickEnum(rng, RangeRequest_SortOrder),
    sortTarget: pickEnum(rng, RangeRequest_SortTarget),
    serializable: rng.chance(0.3),
    keysOnly: rng.chance(0.2),
    countOnly: rng.chance(0.2),
    minModRevision: rng.chance(0.1) ? revision(rng) : 0n,
    maxModRevision: rng.chance(0.1) ? revision(rng) : 0n,
    minCreateRevision: rng.chance(0.1) ? revision(rng) : 0n,
    maxCreateRevision: rng.chance(0.1) ? revision(rng) : 0n,
  };
}

function putRequest(rng: FuzzRandom) {
  return {
    key: pickKey(rng),
    value: pickValue(rng),
    lease: rng.chance(0.2) ? leaseId(rng) : 0n,
    prevKv: rng.chance(0.3),
    ignoreValue: rng.chance(0.1),
    ignoreLease: rng.chance(0.1),
  };
}

function deleteRangeRequest(rng: FuzzRandom) {
  const key = pickKey(rng);
  return {key, rangeEnd: pickRangeEnd(rng, key), prevKv: rng.chance(0.3)};
}

function compare(rng: FuzzRandom): DeepPartial<Compare> {
  const target = pickEnum(rng, Compare_CompareTarget);
  const union = rng.pick([
    {$case: 'version' as const, value: revision(rng)},
    {$case: 'createRevision' as const, value: revision(rng)},
    {$case: 'modRevision' as const, value: revision(rng)},
    {$case: 'value' as const, value: pickValue(rng)},
    {$case: 'lease' as const, value: leaseId(rng)},
  ]);
  const key = pickKey(rng);
  return {
    result: pickEnum(rng, Compare_CompareResult),
    target,
    key,
    targetUnion: rng.chance(0.9) ? union : undefined,
    rangeEnd: rng.chance(0.2) ? pickRangeEnd(rng, key) : Buffer.alloc(0),
  };
}

function requestOp(rng: FuzzRandom, depth: number): DeepPartial<RequestOp> {
  const kind = rng.int(0, depth > 0 ? 3 : 2);
  if (kind === 0) return {request: {$case: 'requestRange', value: rangeRequest(rng)}};
  if (kind === 1) return {request: {$case: 'requestPut', value: putRequest(rng)}};
  if (kind === 2) return {request: {$case: 'requestDeleteRange', value: deleteRangeRequest(rng)}};
  return {request: {$case: 'requestTxn', value: txnRequest(rng, depth - 1)}};
}

function txnRequest(rng: FuzzRandom, depth: number): DeepPartial<TxnRequest> {
  // Now and then more operations than etcd's default --max-txn-ops (128) allows; those
  // are short, so the request stays far below the size limit.
  const ops = (): DeepPartial<RequestOp>[] =>
    rng.chance(0.1)
      ? Array.from({length: rng.int(100, 160)}, () => ({
          request: {
            $case: 'requestPut' as const,
            value: {key: Buffer.from(`fz/${letters(rng, 3)}`), value: rng.bytes(2)},
          },
        }))
      : Array.from({length: rng.int(0, 3)}, () => requestOp(rng, depth));
  return {
    compare: Array.from({length: rng.int(0, 3)}, () => compare(rng)),
    success: ops(),
    failure: ops(),
  };
}

const anyBytes = (rng: FuzzRandom): Buffer => rng.bytes(rng.int(0, 24));

/** Well-formed requests per method, keyed by label. Methods without one send an empty message. */
const templates: Readonly<Record<string, Template>> = {
  'KV/Range': rng => encoder(RangeRequest)(rangeRequest(rng)),
  'KV/Put': rng => encoder(PutRequest)(putRequest(rng)),
  'KV/DeleteRange': rng => encoder(DeleteRangeRequest)(deleteRangeRequest(rng)),
  'KV/Txn': rng => encoder(TxnRequest)(txnRequest(rng, 2)),
  'KV/Compact': rng =>
    encoder(CompactionRequest)({revision: revision(rng), physical: rng.chance(0.5)}),
  'Watch/Watch': rng => {
    const frames = Array.from({length: rng.int(1, 3)}, () => {
      const key = pickKey(rng);
      return encoder(WatchRequest)(
        rng.weighted([
          [
            4,
            {
              requestUnion: {
                $case: 'createRequest' as const,
                value: {
                  key,
                  rangeEnd: pickRangeEnd(rng, key),
                  startRevision: rng.chance(0.4) ? revision(rng) : 0n,
                  progressNotify: rng.chance(0.3),
                  filters: rng.chance(0.3) ? [pickEnum(rng, WatchCreateRequest_FilterType)] : [],
                  prevKv: rng.chance(0.3),
                  watchId: rng.chance(0.3) ? pickInt64(rng, () => BigInt(rng.int(0, 3))) : 0n,
                  fragment: rng.chance(0.3),
                },
              },
            },
          ],
          [1, {requestUnion: {$case: 'cancelRequest' as const, value: {watchId: revision(rng)}}}],
          [1, {requestUnion: {$case: 'progressRequest' as const, value: {}}}],
        ]),
      );
    });
    return frames;
  },
  'Lease/LeaseGrant': rng =>
    encoder(LeaseGrantRequest)({
      TTL: pickInt64(rng, () => BigInt(rng.int(1, 600))),
      ID: rng.chance(0.5) ? leaseId(rng) : 0n,
    }),
  'Lease/LeaseRevoke': rng => encoder(LeaseRevokeRequest)({ID: leaseId(rng)}),
  'Lease/LeaseKeepAlive': rng =>
    Array.from({length: rng.int(1, 3)}, () => encoder(LeaseKeepAliveRequest)({ID: leaseId(rng)})),
  'Lease/LeaseTimeToLive': rng =>
    encoder(LeaseTimeToLiveRequest)({ID: leaseId(rng), keys: rng.chance(0.5)}),
  'Cluster/MemberAdd': rng =>
    encoder(MemberAddRequest)({
      peerURLs: Array.from({length: rng.int(0, 2)}, () => pickPeerUrl(rng)),
      // Adding a voter that never starts loses the quorum of a one-member cluster (etcd
      // allows it there); the guard holds back every voter add, so templates add learners.
      isLearner: true,
    }),
  'Cluster/MemberRemove': rng => encoder(MemberRemoveRequest)({ID: memberId(rng)}),
  'Cluster/MemberUpdate': rng =>
    encoder(MemberUpdateRequest)({
      ID: memberId(rng),
      peerURLs: Array.from({length: rng.int(0, 2)}, () => pickPeerUrl(rng)),
    }),
  'Cluster/MemberList': rng => encoder(MemberListRequest)({linearizable: rng.chance(0.5)}),
  'Cluster/MemberPromote': rng => encoder(MemberPromoteRequest)({ID: memberId(rng)}),
  'Maintenance/Alarm': rng =>
    encoder(AlarmRequest)({
      action: pickEnum(rng, AlarmRequest_AlarmAction),
      memberID: rng.chance(0.5) ? 0n : memberId(rng),
      alarm: pickEnum(rng, AlarmType),
    }),
  'Maintenance/HashKV': rng => encoder(HashKVRequest)({revision: revision(rng)}),
  'Maintenance/MoveLeader': rng => encoder(MoveLeaderRequest)({targetID: memberId(rng)}),
  'Maintenance/Downgrade': rng =>
    encoder(DowngradeRequest)({
      action: pickEnum(rng, DowngradeRequest_DowngradeAction),
      version: rng.pick(['', '3.4', '3.4.0', '3.5', '99.99', letters(rng, rng.int(1, 6))]),
    }),
  'Auth/Authenticate': rng =>
    encoder(AuthenticateRequest)({name: pickName(rng), password: letters(rng, rng.int(0, 8))}),
  'Auth/UserAdd': rng =>
    encoder(AuthUserAddRequest)({
      name: pickName(rng),
      password: letters(rng, rng.int(0, 8)),
      options: rng.chance(0.7) ? {noPassword: rng.chance(0.5)} : undefined,
    }),
  'Auth/UserGet': rng => encoder(AuthUserGetRequest)({name: pickName(rng)}),
  'Auth/UserDelete': rng => encoder(AuthUserDeleteRequest)({name: pickName(rng)}),
  'Auth/UserChangePassword': rng =>
    encoder(AuthUserChangePasswordRequest)({
      name: pickName(rng),
      password: letters(rng, rng.int(0, 8)),
    }),
  'Auth/UserGrantRole': rng =>
    encoder(AuthUserGrantRoleRequest)({user: pickName(rng), role: pickName(rng)}),
  'Auth/UserRevokeRole': rng =>
    encoder(AuthUserRevokeRoleRequest)({name: pickName(rng), role: pickName(rng)}),
  'Auth/RoleAdd': rng => encoder(AuthRoleAddRequest)({name: pickName(rng)}),
  'Auth/RoleGet': rng => encoder(AuthRoleGetRequest)({role: pickName(rng)}),
  'Auth/RoleDelete': rng => encoder(AuthRoleDeleteRequest)({role: pickName(rng)}),
  'Auth/RoleGrantPermission': rng => {
    const key = pickKey(rng);
    return encoder(AuthRoleGrantPermissionRequest)({
      name: pickName(rng),
      perm: rng.chance(0.85)
        ? {permType: pickEnum(rng, Permission_Type), key, rangeEnd: pickRangeEnd(rng, key)}
        : undefined,
    });
  },
  'Auth/RoleRevokePermission': rng => {
    const key = pickKey(rng);
    return encoder(AuthRoleRevokePermissionRequest)({
      role: pickName(rng),
      key,
      rangeEnd: pickRangeEnd(rng, key),
    });
  },
  'Lock/Lock': rng => encoder(LockRequest)({name: pickKey(rng), lease: leaseId(rng)}),
  'Lock/Unlock': rng => encoder(UnlockRequest)({key: pickKey(rng)}),
  'Election/Campaign': rng =>
    encoder(CampaignRequest)({name: pickKey(rng), lease: leaseId(rng), value: pickValue(rng)}),
  'Election/Proclaim': rng =>
    encoder(ProclaimRequest)({leader: leaderKey(rng), value: pickValue(rng)}),
  'Election/Leader': rng => encoder(LeaderRequest)({name: pickKey(rng)}),
  'Election/Observe': rng => encoder(LeaderRequest)({name: pickKey(rng)}),
  'Election/Resign': rng => encoder(ResignRequest)({leader: leaderKey(rng)}),
  // Requests with no fields: the interesting inputs are the mutated ones.
  'Maintenance/Status': anyBytes,
  'Maintenance/Defragment': anyBytes,
  'Maintenance/Hash': anyBytes,
  'Maintenance/Snapshot': anyBytes,
  'Lease/LeaseLeases': anyBytes,
  'Auth/AuthEnable': anyBytes,
  'Auth/AuthDisable': anyBytes,
  'Auth/AuthStatus': anyBytes,
  'Auth/UserList': anyBytes,
  'Auth/RoleList': anyBytes,
};

function leaderKey(rng: FuzzRandom) {
  const name = pickKey(rng);
  return {
    name,
    key: Buffer.concat([name, Buffer.from(`/${rng.int(1, 9)}`)]),
    rev: revision(rng),
    lease: leaseId(rng),
  };
}

const mayStayOpen = new Set([
  'Watch/Watch',
  'Lease/LeaseKeepAlive',
  'Lock/Lock',
  'Election/Campaign',
  'Election/Observe',
]);

const services = [
  KVDefinition,
  WatchDefinition,
  LeaseDefinition,
  ClusterDefinition,
  MaintenanceDefinition,
  AuthDefinition,
  LockDefinition,
  ElectionDefinition,
] as const;

interface MethodShape {
  readonly name: string;
  readonly requestType: {decode(bytes: Uint8Array): unknown};
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** Every method of the eight etcd v3 services, in the order the .proto files declare them. */
export const fuzzMethods: readonly FuzzMethod[] = services.flatMap(service =>
  Object.values(service.methods as Record<string, MethodShape>).map(method => {
    const label = `${service.name}/${method.name}`;
    const template = templates[label];
    if (template === undefined) throw new Error(`no fuzz template for ${label}`);
    return {
      label,
      path: `/${service.fullName}/${method.name}`,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      decode: (bytes: Uint8Array) => method.requestType.decode(bytes),
      template: (rng: FuzzRandom) => {
        const made = template(rng);
        return Array.isArray(made) ? made : [made];
      },
      mayStayOpen: mayStayOpen.has(label),
    };
  }),
);

export function methodByLabel(label: string): FuzzMethod {
  const method = fuzzMethods.find(m => m.label === label);
  if (method === undefined) throw new Error(`unknown method ${label}`);
  return method;
}
