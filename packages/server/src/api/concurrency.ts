import type {
  Compare as WireCompare,
  RequestOp as WireRequestOp,
  ResponseHeader,
  TxnRequest as WireTxnRequest,
} from '@synod/proto';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
} from '@synod/proto';
import type {KeyValue, TxnResponse} from '@synod/storage';
import {SortOrder, SortTarget} from '@synod/storage';

import {ServerError, Status} from 'nice-grpc-common';

import type {RequestAuth} from '../auth/auth-store.js';
import {asGrpcErrors, toGrpcError, unwrap} from './errors.js';
import {newLeaseId} from './lease-service.js';
import type {ConcurrencyBackend} from './member-ports.js';

/** The TTL of the session etcd's Lock and Campaign open for a request without a lease. */
const defaultSessionTtlSeconds = 60n;

/**
 * The lease a Lock or Campaign request runs under. etcd serves these calls through a client
 * session: a request with lease 0 gets a new lease of 60 s that nobody keeps alive, so its
 * key goes when the lease expires; a request with a lease uses that lease.
 */
export async function sessionLease(
  member: ConcurrencyBackend,
  auth: RequestAuth,
  lease: bigint,
): Promise<bigint> {
  if (lease !== 0n) return lease;
  const ID = newLeaseId(member);
  unwrap(
    await member.propose({$case: 'leaseGrant', value: {ID, TTL: defaultSessionTtlSeconds}}, auth),
  );
  return ID;
}

/**
 * Runs a step of Lock or Campaign the way etcd's v3lock and v3election do: through a client,
 * whose errors reach the caller as gRPC status UNKNOWN with the server's message
 * (`etcdserver: requested lease not found`).
 */
export async function asClientCall<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const mapped = toGrpcError(error);
    if (mapped instanceof ServerError && mapped.code !== Status.UNKNOWN) {
      throw new ServerError(Status.UNKNOWN, mapped.details);
    }
    throw mapped;
  }
}

/**
 * etcd's concurrency recipes (the key layout of `clientv3/concurrency`), run
 * inside the server for the Lock and Election services, as etcd runs them:
 * every write goes through Raft, every read is linearizable, and waiting for a
 * predecessor uses the member's own watchable store.
 */

/** The key after every key that starts with `prefix` (etcd's prefix end). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A waiter's key: the lock or election prefix, then its lease id in hex. */
export function ownKey(prefix: Buffer, lease: bigint): Buffer {
  return Buffer.concat([prefix, Buffer.from(lease.toString(16))]);
}

function emptyRange(key: Buffer, rangeEnd: Buffer) {
  return {
    key,
    rangeEnd,
    limit: 0n,
    revision: 0n,
    sortOrder: RangeRequest_SortOrder.NONE,
    sortTarget: RangeRequest_SortTarget.KEY,
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0n,
    maxModRevision: 0n,
    minCreateRevision: 0n,
    maxCreateRevision: 0n,
  };
}

/** Runs a txn through Raft; returns the store's response and the header at its revision. */
export async function commitTxn(
  member: ConcurrencyBackend,
  auth: RequestAuth,
  txn: WireTxnRequest,
): Promise<{response: TxnResponse; header: ResponseHeader}> {
  const {response, revision} = unwrap(await member.propose({$case: 'txn', value: txn}, auth));
  return {response: response as TxnResponse, header: member.header(revision)};
}

/** `if CreateRevision(key) == createRevision then ...` as a wire compare. */
export function createRevisionIs(key: Buffer, createRevision: bigint): WireCompare {
  return {
    result: Compare_CompareResult.EQUAL,
    target: Compare_CompareTarget.CREATE,
    key,
    targetUnion: {$case: 'createRevision', value: createRevision},
    rangeEnd: Buffer.alloc(0),
  };
}

export function putOp(key: Buffer, value: Buffer, lease: bigint): WireRequestOp {
  return {
    request: {
      $case: 'requestPut',
      value: {key, value, lease, prevKv: false, ignoreValue: false, ignoreLease: false},
    },
  };
}

export function getOp(key: Buffer): WireRequestOp {
  return {request: {$case: 'requestRange', value: emptyRange(key, Buffer.alloc(0))}};
}

export function deleteOp(key: Buffer): WireRequestOp {
  return {
    request: {
      $case: 'requestDeleteRange',
      value: {key, rangeEnd: Buffer.alloc(0), prevKv: false},
    },
  };
}

/** A linearizable read of the keys under `prefix`, with options. */
export async function readPrefix(
  member: ConcurrencyBackend,
  prefix: Buffer,
  options: {sortOrder: SortOrder; limit: number; maxCreateRevision?: number},
): Promise<{kvs: KeyValue[]; revision: number}> {
  await member.linearizableRead();
  const {response, revision} = asGrpcErrors(() =>
    member.executor.range({
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      sortOrder: options.sortOrder,
      sortTarget: SortTarget.Create,
      limit: options.limit,
      maxCreateRevision: options.maxCreateRevision ?? 0,
    }),
  );
  return {kvs: response.kvs, revision};
}

/** Resolves once `key` is deleted at a revision after `afterRevision`, or rejects on abort. */
export async function waitDeleted(
  member: ConcurrencyBackend,
  key: Uint8Array,
  afterRevision: number,
  signal: AbortSignal,
): Promise<void> {
  const stream = member.store.newWatchStream();
  try {
    stream.watch({key, startRevision: afterRevision + 1});
    for await (const response of stream.responses(signal)) {
      if (response.canceled) return;
      if (response.events.some(e => e.type === 'delete')) return;
    }
    signal.throwIfAborted();
  } finally {
    stream.close();
  }
}

/**
 * Waits until every key under `prefix` created before `myRevision` is gone, so
 * the key at `myRevision` is the oldest: the lock is held, or the candidate leads.
 */
export async function waitForPredecessors(
  member: ConcurrencyBackend,
  prefix: Buffer,
  myRevision: number,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const {kvs, revision} = await readPrefix(member, prefix, {
      sortOrder: SortOrder.Descend,
      limit: 1,
      maxCreateRevision: myRevision - 1,
    });
    const last = kvs[0];
    if (last === undefined) return;
    await waitDeleted(member, last.key, revision, signal);
  }
}

export function txnOf(
  compare: WireCompare[],
  success: WireRequestOp[],
  failure: WireRequestOp[],
): WireTxnRequest {
  return {compare, success, failure};
}
