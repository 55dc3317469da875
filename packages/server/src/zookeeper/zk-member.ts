import {createHmac, randomBytes} from 'node:crypto';

import type {ZkRequest} from '@synod/proto/synodpb';
import type {WatchableStore} from '@synod/storage';

import type {ZkEnsemble} from './zk-ensemble-config.js';
import type {ZkApplied, ZkStateMachine} from './zk-state-machine.js';

/** A ZooKeeper write's outcome with the revision (zxid) after it. */
export type ZkProposed = ZkApplied & {readonly zxid: number};

/**
 * A ZooKeeper request as the front end proposes it: the member adds its own id; a txn of a
 * connection also carries its place in the connection's order.
 */
export type ZkProposal = Omit<ZkRequest, 'memberId' | 'connectionId' | 'seq'> & {
  readonly connectionId?: bigint;
  readonly seq?: number;
};

/**
 * What the ZooKeeper front end needs of its member: a narrow door onto the core,
 * so the front end depends on no transport and no more than it uses.
 */
export interface ZkMember {
  readonly memberId: number;
  state(): ZkStateMachine;
  store(): WatchableStore;
  /** Replicates a ZooKeeper write and resolves with its result once applied here. */
  propose(request: ZkProposal): Promise<ZkProposed>;
  /** Resolves once everything committed before the call is applied here (ReadIndex). */
  linearizableRead(): Promise<void>;
  /** Tells the leader the session is alive (a lease keep-alive). */
  renewSession(sessionId: bigint): Promise<void>;
  newSessionId(): bigint;
  nowMs(): number;
  mode(): 'standalone' | 'leader' | 'follower';
  /** The members and the version of their configuration, for `/zookeeper/config`. */
  ensemble(): ZkEnsemble;
}

/** The session password: 16 bytes of an HMAC of the session id under the cluster's secret. */
export function sessionPassword(secret: Uint8Array, sessionId: bigint): Buffer {
  const id = Buffer.alloc(8);
  id.writeBigInt64BE(sessionId);
  return createHmac('sha256', secret).update(id).digest().subarray(0, 16);
}

/** A fresh candidate for the cluster's session secret. */
export function newSecretCandidate(): Buffer {
  return randomBytes(32);
}
