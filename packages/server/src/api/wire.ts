import type {
  Compare as WireCompare,
  DeleteRangeRequest as WireDeleteRangeRequest,
  DeleteRangeResponse as WireDeleteRangeResponse,
  Event as WireEvent,
  KeyValue as WireKeyValue,
  PutRequest as WirePutRequest,
  PutResponse as WirePutResponse,
  RangeRequest as WireRangeRequest,
  RangeResponse as WireRangeResponse,
  RequestOp as WireRequestOp,
  ResponseHeader,
  ResponseOp as WireResponseOp,
  TxnRequest as WireTxnRequest,
  TxnResponse as WireTxnResponse,
} from '@synod/proto';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  Event_EventType,
  EtcdErrors,
} from '@synod/proto';
import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  KvEvent,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '@synod/storage';
import {CompareResult, CompareTarget, SortOrder, SortTarget} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';

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
    throw new ServerError(EtcdErrors.invalidSortOption.code, EtcdErrors.invalidSortOption.message);
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
    throw new ServerError(Status.INVALID_ARGUMENT, 'etcdserver: unknown compare result or target');
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
      throw new ServerError(EtcdErrors.keyNotFound.code, EtcdErrors.keyNotFound.message);
  }
}

export function fromWireTxn(t: WireTxnRequest): TxnRequest {
  return {
    compare: t.compare.map(fromWireCompare),
    success: t.success.map(fromWireOp),
    failure: t.failure.map(fromWireOp),
  };
}

export function toWireKv(kv: KeyValue): WireKeyValue {
  return {
    key: Buffer.from(kv.key.buffer, kv.key.byteOffset, kv.key.byteLength),
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength),
    lease: kv.lease,
  };
}

export function toWireRange(
  r: RangeResponse,
  header: ResponseHeader | undefined,
): WireRangeResponse {
  return {header, kvs: r.kvs.map(toWireKv), more: r.more, count: BigInt(r.count)};
}

export function toWirePut(r: PutResponse, header: ResponseHeader | undefined): WirePutResponse {
  return {header, prevKv: r.prevKv === undefined ? undefined : toWireKv(r.prevKv)};
}

export function toWireDeleteRange(
  r: DeleteRangeResponse,
  header: ResponseHeader | undefined,
): WireDeleteRangeResponse {
  return {header, deleted: BigInt(r.deleted), prevKvs: r.prevKvs.map(toWireKv)};
}

/** Whether applying a txn's ops changed anything: a put, or a delete that deleted. */
function txnWrote(r: TxnResponse): boolean {
  return r.responses.some(
    op =>
      'put' in op ||
      ('deleteRange' in op && op.deleteRange.deleted > 0) ||
      ('txn' in op && txnWrote(op.txn)),
  );
}

/** The header of a response nested in a txn: a revision, no ids or term (etcd's, too). */
function innerHeader(revision: number): ResponseHeader {
  return {clusterId: 0n, memberId: 0n, revision: BigInt(revision), raftTerm: 0n};
}

/** How far a txn's ops have got: its revision before it, and whether an op has written yet. */
interface TxnProgress {
  readonly begin: number;
  wrote: boolean;
}

function toWireOp(op: ResponseOp, progress: TxnProgress): WireResponseOp {
  if ('txn' in op) {
    return {response: {$case: 'responseTxn', value: toWireInnerTxn(op.txn, progress)}};
  }
  if ('put' in op || ('deleteRange' in op && op.deleteRange.deleted > 0)) progress.wrote = true;
  const header = innerHeader(progress.begin + (progress.wrote ? 1 : 0));
  if ('range' in op)
    return {response: {$case: 'responseRange', value: toWireRange(op.range, header)}};
  if ('put' in op) return {response: {$case: 'responsePut', value: toWirePut(op.put, header)}};
  return {
    response: {$case: 'responseDeleteRange', value: toWireDeleteRange(op.deleteRange, header)},
  };
}

/** A txn nested in a txn answers with an empty header, as etcd's does. */
function toWireInnerTxn(r: TxnResponse, progress: TxnProgress): WireTxnResponse {
  const header = {clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n};
  return {header, succeeded: r.succeeded, responses: r.responses.map(op => toWireOp(op, progress))};
}

/**
 * A txn's answer. As in etcd, the response of each op carries the revision the txn had
 * reached at that op: the revision before the txn until the first op that writes, the txn's
 * own revision from there on.
 *
 * Example: at revision 6, `[range a, put a, range a]` answers headers 6, 7, 7 inside, 7 outside.
 */
export function toWireTxn(r: TxnResponse, header: ResponseHeader): WireTxnResponse {
  const revision = Number(header.revision);
  const progress = {begin: txnWrote(r) ? revision - 1 : revision, wrote: false};
  return {header, succeeded: r.succeeded, responses: r.responses.map(op => toWireOp(op, progress))};
}

export function toWireEvent(e: KvEvent): WireEvent {
  return {
    type: e.type === 'put' ? Event_EventType.PUT : Event_EventType.DELETE,
    kv: toWireKv(e.kv),
    prevKv: e.prevKv === undefined ? undefined : toWireKv(e.prevKv),
  };
}
