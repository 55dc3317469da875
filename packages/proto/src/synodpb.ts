/**
 * Synod's internal replicated requests and member-to-member services. Only the
 * server uses these; clients speak the etcd API.
 */
import {keepBytesInProtobufStrings} from './byte-preserving-utf8.js';

// etcd's strings are Go strings: bytes, valid UTF-8 or not. Every message of this package
// keeps them byte for byte (see byte-preserving-utf8.ts).
keepBytesInProtobufStrings();

export {
  ConfChangeContext,
  InternalRequest,
  LessorDefinition,
  MemberRecord,
  MembersRequest,
  MembersResponse,
  PeerClusterDefinition,
  RequestHeader,
} from './gen/synodpb/internal.js';
export {ZkRequest} from './gen/synodpb/zookeeper.js';
export type {
  ZkAcl,
  ZkCheck,
  ZkCloseSession,
  ZkCreate,
  ZkCreateSession,
  ZkDelete,
  ZkExpireTtl,
  ZkOp,
  ZkSetAcl,
  ZkSetData,
  ZkTxn,
} from './gen/synodpb/zookeeper.js';
export type {
  LessorClient,
  LessorServiceImplementation,
  PeerClusterClient,
  PeerClusterServiceImplementation,
} from './gen/synodpb/internal.js';
