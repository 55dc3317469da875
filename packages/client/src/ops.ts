import {RangeRequest_SortOrder, RangeRequest_SortTarget} from '@synod/proto';
import type {
  DeepPartial,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '@synod/proto';

import {toBuffer} from './bytes.js';
import type {Bytes} from './bytes.js';
import {toInt64, toProtoCompare} from './compare.js';
import type {Comparison, Int64Like} from './compare.js';
import type {KeySelector, KeySpace} from './key-space.js';
import type {KeyValue} from './key-value.js';

/** What a range sorts by. */
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';
/** Sort direction; `'none'` leaves key order (or ascends when the target is not the key). */
export type SortOrder = 'none' | 'ascend' | 'descend';

/** What a range reads, and how (every option of etcd's RangeRequest). */
export interface RangeQuery {
  /** At most this many keys (0 or omitted: no limit); `more` says if keys were left out. */
  readonly limit?: number;
  /** Read the store as of this revision (omitted: the latest). */
  readonly revision?: Int64Like;
  readonly sort?: {readonly target?: SortTarget; readonly order?: SortOrder};
  /**
   * Let the member answer from its local state without a quorum round trip: faster,
   * possibly stale.
   */
  readonly serializable?: boolean;
  /** Return keys without values. */
  readonly keysOnly?: boolean;
  /** Return only the count of keys. */
  readonly countOnly?: boolean;
  /** Only keys last modified at or after this revision. */
  readonly minModRevision?: Int64Like;
  /** Only keys last modified at or before this revision. */
  readonly maxModRevision?: Int64Like;
  /** Only keys created at or after this revision. */
  readonly minCreateRevision?: Int64Like;
  /** Only keys created at or before this revision. */
  readonly maxCreateRevision?: Int64Like;
}

/** How a put writes. */
export interface PutQuery {
  /** Attach the key to this lease (replacing any other); omitted or 0n: no lease. */
  readonly lease?: Int64Like;
  /** Return the key-value as it was before the put. */
  readonly prevKv?: boolean;
  /** Keep the current value (pass an empty value); fails if the key does not exist. */
  readonly ignoreValue?: boolean;
  /** Keep the current lease; fails if the key does not exist. */
  readonly ignoreLease?: boolean;
}

/** How a delete writes. */
export interface DeleteQuery {
  /** Return the deleted key-values. */
  readonly prevKv?: boolean;
}

/** One operation of a transaction. Build with {@link op}. */
export type Op =
  | {readonly type: 'range'; readonly selector: KeySelector; readonly query: RangeQuery}
  | {readonly type: 'put'; readonly key: Bytes; readonly value: Bytes; readonly query: PutQuery}
  | {readonly type: 'delete'; readonly selector: KeySelector; readonly query: DeleteQuery}
  | {
      readonly type: 'txn';
      readonly compares: readonly Comparison[];
      readonly success: readonly Op[];
      readonly failure: readonly Op[];
    };

/**
 * Builders of transaction operations: `op.get(key)`, `op.range({prefix}, query)`,
 * `op.put(key, value, query)`, `op.delete(selector, query)` and a nested transaction
 * `op.txn(compares, thenOps, elseOps)`.
 */
export const op = {
  get: (key: Bytes, query: RangeQuery = {}): Op => ({type: 'range', selector: key, query}),
  range: (selector: KeySelector, query: RangeQuery = {}): Op => ({type: 'range', selector, query}),
  put: (key: Bytes, value: Bytes, query: PutQuery = {}): Op => ({type: 'put', key, value, query}),
  delete: (selector: KeySelector, query: DeleteQuery = {}): Op => ({
    type: 'delete',
    selector,
    query,
  }),
  txn: (
    compares: readonly Comparison[],
    success: readonly Op[],
    failure: readonly Op[] = [],
  ): Op => ({
    type: 'txn',
    compares,
    success,
    failure,
  }),
} as const;

/** The result of a range read. */
export interface RangeResult {
  readonly header: ResponseHeader;
  readonly kvs: KeyValue[];
  /** Whether the limit left keys out. */
  readonly more: boolean;
  /** Number of keys in the range, regardless of limit. */
  readonly count: number;
}

/** The result of a put. */
export interface PutResult {
  readonly header: ResponseHeader;
  /** The key before the put, when asked for with `prevKv` and the key existed. */
  readonly prevKv: KeyValue | undefined;
}

/** The result of a delete. */
export interface DeleteResult {
  readonly header: ResponseHeader;
  readonly deleted: number;
  /** The deleted key-values, when asked for with `prevKv`. */
  readonly prevKvs: KeyValue[];
}

/** The result of a transaction. */
export interface TxnResult {
  readonly header: ResponseHeader;
  /** Whether every compare held (and the `then` branch ran). */
  readonly succeeded: boolean;
  /** One result per operation of the branch that ran, in order. */
  readonly responses: OpResult[];
}

/** The result of one transaction operation, tagged like the operation. */
export type OpResult =
  | ({readonly type: 'range'} & RangeResult)
  | ({readonly type: 'put'} & PutResult)
  | ({readonly type: 'delete'} & DeleteResult)
  | ({readonly type: 'txn'} & TxnResult);

const sortTargets: Record<SortTarget, RangeRequest_SortTarget> = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
};

const sortOrders: Record<SortOrder, RangeRequest_SortOrder> = {
  none: RangeRequest_SortOrder.NONE,
  ascend: RangeRequest_SortOrder.ASCEND,
  descend: RangeRequest_SortOrder.DESCEND,
};

const zeroHeader: ResponseHeader = {clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n};

/** @internal */
export function headerOf(header: ResponseHeader | undefined): ResponseHeader {
  return header ?? zeroHeader;
}

function optionalInt(value: Int64Like | undefined, what: string): bigint {
  return value === undefined ? 0n : toInt64(value, what);
}

/** @internal */
export function toRangeRequest(
  space: KeySpace,
  selector: KeySelector,
  query: RangeQuery,
): DeepPartial<RangeRequest> {
  const {key, rangeEnd} = space.range(selector);
  return {
    key,
    rangeEnd,
    limit: optionalInt(query.limit, 'limit'),
    revision: optionalInt(query.revision, 'revision'),
    sortTarget: sortTargets[query.sort?.target ?? 'key'],
    sortOrder: sortOrders[query.sort?.order ?? 'none'],
    serializable: query.serializable ?? false,
    keysOnly: query.keysOnly ?? false,
    countOnly: query.countOnly ?? false,
    minModRevision: optionalInt(query.minModRevision, 'minModRevision'),
    maxModRevision: optionalInt(query.maxModRevision, 'maxModRevision'),
    minCreateRevision: optionalInt(query.minCreateRevision, 'minCreateRevision'),
    maxCreateRevision: optionalInt(query.maxCreateRevision, 'maxCreateRevision'),
  };
}

/** @internal */
export function toPutRequest(
  space: KeySpace,
  key: Bytes,
  value: Bytes,
  query: PutQuery,
): DeepPartial<PutRequest> {
  return {
    key: space.key(key),
    value: toBuffer(value),
    lease: optionalInt(query.lease, 'lease'),
    prevKv: query.prevKv ?? false,
    ignoreValue: query.ignoreValue ?? false,
    ignoreLease: query.ignoreLease ?? false,
  };
}

/** @internal */
export function toDeleteRequest(
  space: KeySpace,
  selector: KeySelector,
  query: DeleteQuery,
): DeepPartial<DeleteRangeRequest> {
  const {key, rangeEnd} = space.range(selector);
  return {key, rangeEnd, prevKv: query.prevKv ?? false};
}

/** @internal */
export function toTxnRequest(
  space: KeySpace,
  compares: readonly Comparison[],
  success: readonly Op[],
  failure: readonly Op[],
): DeepPartial<TxnRequest> {
  return {
    compare: compares.map(c => toProtoCompare(space, c)),
    success: success.map(o => toRequestOp(space, o)),
    failure: failure.map(o => toRequestOp(space, o)),
  };
}

function toRequestOp(space: KeySpace, o: Op): DeepPartial<RequestOp> {
  switch (o.type) {
    case 'range':
      return {request: {$case: 'requestRange', value: toRangeRequest(space, o.selector, o.query)}};
    case 'put':
      return {request: {$case: 'requestPut', value: toPutRequest(space, o.key, o.value, o.query)}};
    case 'delete':
      return {
        request: {$case: 'requestDeleteRange', value: toDeleteRequest(space, o.selector, o.query)},
      };
    case 'txn':
      return {
        request: {
          $case: 'requestTxn',
          value: toTxnRequest(space, o.compares, o.success, o.failure),
        },
      };
  }
}

/** @internal Whether an operation only reads (so that sending it twice is harmless). */
export function isReadOnly(o: Op): boolean {
  if (o.type === 'range') return true;
  if (o.type === 'txn') return o.success.every(isReadOnly) && o.failure.every(isReadOnly);
  return false;
}

/** @internal */
export function fromRangeResponse(space: KeySpace, r: RangeResponse): RangeResult {
  return {
    header: headerOf(r.header),
    kvs: r.kvs.map(kv => space.keyValue(kv)),
    more: r.more,
    count: Number(r.count),
  };
}

/** @internal */
export function fromPutResponse(space: KeySpace, r: PutResponse): PutResult {
  return {
    header: headerOf(r.header),
    prevKv: r.prevKv === undefined ? undefined : space.keyValue(r.prevKv),
  };
}

/** @internal */
export function fromDeleteResponse(space: KeySpace, r: DeleteRangeResponse): DeleteResult {
  return {
    header: headerOf(r.header),
    deleted: Number(r.deleted),
    prevKvs: r.prevKvs.map(kv => space.keyValue(kv)),
  };
}

/** @internal */
export function fromTxnResponse(space: KeySpace, r: TxnResponse): TxnResult {
  return {
    header: headerOf(r.header),
    succeeded: r.succeeded,
    responses: r.responses.map(o => fromResponseOp(space, o)),
  };
}

function fromResponseOp(space: KeySpace, o: ResponseOp): OpResult {
  const response = o.response;
  if (response === undefined) throw new Error('etcd sent a txn response without a result');
  switch (response.$case) {
    case 'responseRange':
      return {type: 'range', ...fromRangeResponse(space, response.value)};
    case 'responsePut':
      return {type: 'put', ...fromPutResponse(space, response.value)};
    case 'responseDeleteRange':
      return {type: 'delete', ...fromDeleteResponse(space, response.value)};
    case 'responseTxn':
      return {type: 'txn', ...fromTxnResponse(space, response.value)};
  }
}
