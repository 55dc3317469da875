import type {
  Compare as WireCompare,
  DeleteRangeRequest as WireDeleteRangeRequest,
  PutRequest as WirePutRequest,
  RangeRequest as WireRangeRequest,
  RequestOp as WireRequestOp,
  TxnRequest as WireTxnRequest,
} from '@synod/proto';
import {Compare_CompareResult, Compare_CompareTarget} from '@synod/proto';
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '@synod/storage';
import {CompareResult, CompareTarget, SortOrder, SortTarget} from '@synod/storage';

import {EtcdDomainError} from '../errors/etcd-domain-error.js';

/*
 * The etcd requests as the store takes them, decoded from their wire form: by the API when
 * it validates a request, and by the applier when it applies one from the log, so both read
 * a request the same way.
 */

/**
 * The one boundary between the etcd wire types, whose revisions are int64
 * (`bigint`), and the store, which keeps revisions as numbers below 2^53. A
 * revision beyond that is further in the future than any store will reach,
 * so it is clamped to the largest safe number and fails as a future revision.
 */
export function toRevision(value: bigint): number {
  if (value <= 0n) return 0;
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/**
 * An int64 operand compared as etcd compares it (filters, compare values):
 * the sign matters, and values beyond 2^53 are clamped, which keeps every
 * comparison with a store value (always below 2^53) the same.
 */
function toSigned(value: bigint): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (value > max) return Number.MAX_SAFE_INTEGER;
  if (value < -max) return -Number.MAX_SAFE_INTEGER;
  return Number(value);
}

/** A count or limit from the wire; negative means none. */
function toCount(value: bigint): number {
  if (value <= 0n) return 0;
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function enumValue<E extends number>(value: number, allowed: readonly E[]): E {
  const found = allowed.find(a => a === value);
  if (found === undefined) {
    throw EtcdDomainError.of('invalidSortOption');
  }
  return found;
}

const sortOrders = [SortOrder.None, SortOrder.Ascend, SortOrder.Descend] as const;
const sortTargets = [
  SortTarget.Key,
  SortTarget.Version,
  SortTarget.Create,
  SortTarget.Mod,
  SortTarget.Value,
] as const;

/**
 * The sort a range asks for. etcd 3.4 sorts nothing for an order it does not know, whatever
 * the target (it fetches the whole range, then truncates it to the limit), which is what no
 * order on the key gives. A target it does not know with a known order makes etcd 3.4 panic:
 * Synod refuses it instead.
 */
function sortOf(r: WireRangeRequest): Pick<RangeRequest, 'sortOrder' | 'sortTarget'> {
  const known: readonly number[] = sortOrders;
  if (!known.includes(r.sortOrder)) {
    return {sortOrder: SortOrder.None, sortTarget: SortTarget.Key};
  }
  return {
    sortOrder: enumValue(r.sortOrder, sortOrders),
    sortTarget: enumValue(r.sortTarget, sortTargets),
  };
}

export function fromWireRange(r: WireRangeRequest): RangeRequest {
  return {
    key: r.key,
    rangeEnd: r.rangeEnd,
    limit: toCount(r.limit),
    revision: toRevision(r.revision),
    ...sortOf(r),
    keysOnly: r.keysOnly,
    countOnly: r.countOnly,
    minModRevision: toSigned(r.minModRevision),
    maxModRevision: toSigned(r.maxModRevision),
    minCreateRevision: toSigned(r.minCreateRevision),
    maxCreateRevision: toSigned(r.maxCreateRevision),
  };
}

export function fromWirePut(r: WirePutRequest): PutRequest {
  return {
    key: r.key,
    value: r.value,
    lease: r.lease,
    prevKv: r.prevKv,
    ignoreValue: r.ignoreValue,
    ignoreLease: r.ignoreLease,
  };
}

export function fromWireDeleteRange(r: WireDeleteRangeRequest): DeleteRangeRequest {
  return {key: r.key, rangeEnd: r.rangeEnd, prevKv: r.prevKv};
}

const compareResults = new Map<Compare_CompareResult, CompareResult>([
  [Compare_CompareResult.EQUAL, CompareResult.Equal],
  [Compare_CompareResult.GREATER, CompareResult.Greater],
  [Compare_CompareResult.LESS, CompareResult.Less],
  [Compare_CompareResult.NOT_EQUAL, CompareResult.NotEqual],
]);

const compareTargets = new Map<Compare_CompareTarget, CompareTarget>([
  [Compare_CompareTarget.VERSION, CompareTarget.Version],
  [Compare_CompareTarget.CREATE, CompareTarget.Create],
  [Compare_CompareTarget.MOD, CompareTarget.Mod],
  [Compare_CompareTarget.VALUE, CompareTarget.Value],
  [Compare_CompareTarget.LEASE, CompareTarget.Lease],
]);

/**
 * What etcd 3.4 makes of a compare whose result or target it does not know, as a compare
 * that gives the same answer, or undefined when both are known. etcd compares nothing for an
 * unknown target (as if the two sides were equal), and counts an unknown result as a match
 * for every key in the range; only a value compare on a range holding no key still fails.
 *
 * Example: `{target: 99, result: EQUAL}` always holds, so it becomes `version > -1`, which
 * every key (and a missing one, whose version is 0) satisfies.
 */
export function etcdUnknownCompare(c: WireCompare): Compare | undefined {
  const result = compareResults.get(c.result);
  const target = compareTargets.get(c.target);
  if (result !== undefined && target !== undefined) return undefined;
  const holds =
    target === undefined ? result === undefined || result === CompareResult.Equal : true;
  const none = {key: c.key, rangeEnd: c.rangeEnd, value: new Uint8Array(0), lease: 0n};
  if (target === CompareTarget.Value) {
    // Holds exactly when the range holds a key: every key has a create revision above 0.
    return {
      ...none,
      result: CompareResult.Greater,
      target: CompareTarget.Create,
      version: 0,
      createRevision: 0,
      modRevision: 0,
    };
  }
  return {
    ...none,
    result: holds ? CompareResult.Greater : CompareResult.Less,
    target: CompareTarget.Version,
    version: -1,
    createRevision: 0,
    modRevision: 0,
  };
}

function fromWireCompare(c: WireCompare): Compare {
  const u = c.targetUnion;
  const result = compareResults.get(c.result);
  const target = compareTargets.get(c.target);
  if (result === undefined || target === undefined) {
    const equivalent = etcdUnknownCompare(c);
    if (equivalent !== undefined) return equivalent;
    throw EtcdDomainError.unnamed(
      'InvalidArgument',
      'etcdserver: unknown compare result or target',
    );
  }
  return {
    result,
    target,
    key: c.key,
    rangeEnd: c.rangeEnd,
    version: u?.$case === 'version' ? toSigned(u.value) : 0,
    createRevision: u?.$case === 'createRevision' ? toSigned(u.value) : 0,
    modRevision: u?.$case === 'modRevision' ? toSigned(u.value) : 0,
    value: u?.$case === 'value' ? u.value : new Uint8Array(0),
    lease: u?.$case === 'lease' ? u.value : 0n,
  };
}

function fromWireOp(op: WireRequestOp): RequestOp {
  const r = op.request;
  switch (r?.$case) {
    case 'requestRange':
      return {range: fromWireRange(r.value)};
    case 'requestPut':
      return {put: fromWirePut(r.value)};
    case 'requestDeleteRange':
      return {deleteRange: fromWireDeleteRange(r.value)};
    case 'requestTxn':
      return {txn: fromWireTxn(r.value)};
    case undefined:
      // An op with no request: etcd's checkRequestOp refuses it so.
      throw EtcdDomainError.of('keyNotFound');
  }
}

export function fromWireTxn(t: WireTxnRequest): TxnRequest {
  return {
    compare: t.compare.map(fromWireCompare),
    success: t.success.map(fromWireOp),
    failure: t.failure.map(fromWireOp),
  };
}
