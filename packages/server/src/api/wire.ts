import type {
  DeleteRangeResponse as WireDeleteRangeResponse,
  Event as WireEvent,
  KeyValue as WireKeyValue,
  PutResponse as WirePutResponse,
  RangeResponse as WireRangeResponse,
  ResponseHeader,
  ResponseOp as WireResponseOp,
  TxnResponse as WireTxnResponse,
} from '@synod/proto';
import {Event_EventType} from '@synod/proto';
import type {
  DeleteRangeResponse,
  KeyValue,
  KvEvent,
  PutResponse,
  RangeResponse,
  ResponseOp,
  TxnResponse,
} from '@synod/storage';

/*
 * The store's responses and events in their etcd wire form. Requests are decoded in
 * member/wire-requests.ts, which the applier shares.
 */

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
