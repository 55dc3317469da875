import type {KeyValue} from './key-value.js';
import type {KV, ReadView, TxnWrite} from './kv.js';
import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from './requests.js';
import {CompareResult, CompareTarget, SortOrder, SortTarget} from './requests.js';
import {
  DEFAULT_MAX_TXN_OPS,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from './request-validation.js';
import {ErrorMessages, StorageError, errCompacted, errFutureRev} from './storage-error.js';

export interface KvExecutorOptions {
  /** Whether a lease exists; puts with an unknown lease fail with "requested lease not found". */
  readonly leaseExists?: (id: bigint) => boolean;
  readonly maxTxnOps?: number;
}

/** A response with the store revision to put in its header. */
export interface WithRevision<T> {
  readonly response: T;
  readonly revision: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * etcd's request semantics (`etcdserver/txn`) on top of a {@link KV}: range options, put and
 * delete options, and transactions. Requests are validated as etcd's RPC layer does, then
 * applied; a failing request changes nothing.
 */
export class KvExecutor {
  private readonly leaseExists: (id: bigint) => boolean;
  private readonly maxTxnOps: number;

  constructor(
    private readonly kv: KV,
    options: KvExecutorOptions = {},
  ) {
    this.leaseExists = options.leaseExists ?? (() => false);
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
  }

  range(req: RangeRequest): WithRevision<RangeResponse> {
    validateRange(req);
    const txn = this.kv.read();
    try {
      return {response: executeRange(txn, req), revision: txn.rev()};
    } finally {
      txn.end();
    }
  }

  put(req: PutRequest): WithRevision<PutResponse> {
    validatePut(req);
    const tw = this.kv.write();
    try {
      this.checkPut(tw, req);
      const response = executePut(tw, req);
      tw.end();
      return {response, revision: this.kv.rev()};
    } finally {
      tw.end();
    }
  }

  deleteRange(req: DeleteRangeRequest): WithRevision<DeleteRangeResponse> {
    validateDeleteRange(req);
    const tw = this.kv.write();
    try {
      const response = executeDelete(tw, req);
      tw.end();
      return {response, revision: this.kv.rev()};
    } finally {
      tw.end();
    }
  }

  txn(req: TxnRequest): WithRevision<TxnResponse> {
    validateTxn(req, this.maxTxnOps);
    const tw = this.kv.write();
    try {
      // etcd decides the branch of every nested txn against the state before any op runs, so a
      // nested compare does not see the writes of earlier ops in the same txn.
      const path = choosePath(tw, req);
      const succeeded = path[0] ?? false;
      const branch = succeeded ? req.success : req.failure;
      // etcd checks the chosen branch before running any of it, so a failing op aborts the
      // whole txn with nothing written.
      this.checkOps(tw, branch, {path, next: 1});
      const cursor = {path, next: 1};
      const responses = branch.map(op => this.executeOp(tw, op, cursor));
      tw.end();
      return {response: {succeeded, responses}, revision: this.kv.rev()};
    } finally {
      tw.end();
    }
  }

  private executeOp(tw: TxnWrite, op: RequestOp, cursor: PathCursor): ResponseOp {
    if ('range' in op) return {range: executeRange(tw, op.range)};
    if ('put' in op) return {put: executePut(tw, op.put)};
    if ('deleteRange' in op) return {deleteRange: executeDelete(tw, op.deleteRange)};
    const succeeded = takeBranch(cursor);
    const branch = succeeded ? op.txn.success : op.txn.failure;
    return {txn: {succeeded, responses: branch.map(o => this.executeOp(tw, o, cursor))}};
  }

  private checkOps(tw: TxnWrite, ops: readonly RequestOp[], cursor: PathCursor): void {
    for (const op of ops) {
      if ('range' in op) {
        const rev = op.range.revision ?? 0;
        if (rev > tw.rev()) throw errFutureRev();
        if (rev > 0 && rev < tw.firstRev()) throw errCompacted();
      } else if ('put' in op) {
        this.checkPut(tw, op.put);
      } else if ('txn' in op) {
        const succeeded = takeBranch(cursor);
        this.checkOps(tw, succeeded ? op.txn.success : op.txn.failure, cursor);
      }
    }
  }

  private checkPut(tw: TxnWrite, req: PutRequest): void {
    if (req.ignoreValue === true || req.ignoreLease === true) {
      if (tw.range(req.key, undefined).kvs.length === 0) {
        throw new StorageError('InvalidArgument', ErrorMessages.keyNotFound);
      }
    }
    const lease = req.lease ?? 0n;
    if (req.ignoreLease !== true && lease !== 0n && !this.leaseExists(lease)) {
      throw new StorageError('NotFound', ErrorMessages.leaseNotFound);
    }
  }
}

/** The branch taken by each txn of a request, in the order its ops run (depth first). */
interface PathCursor {
  readonly path: readonly boolean[];
  next: number;
}

function takeBranch(cursor: PathCursor): boolean {
  const taken = cursor.path[cursor.next];
  cursor.next++;
  if (taken === undefined) throw new Error('txn path shorter than the txn: a bug in choosePath');
  return taken;
}

/** Evaluates every compare the txn will reach, before anything runs, as etcd's compareToPath. */
function choosePath(view: ReadView, txn: TxnRequest): boolean[] {
  const path: boolean[] = [];
  const walk = (t: TxnRequest): void => {
    const succeeded = t.compare.every(c => evaluateCompare(view, c));
    path.push(succeeded);
    for (const op of succeeded ? t.success : t.failure) if ('txn' in op) walk(op.txn);
  };
  walk(txn);
  return path;
}

/** etcd's `executeRange`: filters and sort force a full fetch; `more` reflects truncation. */
export function executeRange(view: ReadView, r: RangeRequest): RangeResponse {
  const limit = r.limit ?? 0;
  const minMod = r.minModRevision ?? 0;
  const maxMod = r.maxModRevision ?? 0;
  const minCreate = r.minCreateRevision ?? 0;
  const maxCreate = r.maxCreateRevision ?? 0;
  let order = r.sortOrder ?? SortOrder.None;
  const target = r.sortTarget ?? SortTarget.Key;
  const fetchAll =
    order !== SortOrder.None || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  const fetchLimit = fetchAll || limit <= 0 ? 0 : limit + 1;
  const rr = view.range(r.key, r.rangeEnd, {
    limit: fetchLimit,
    rev: r.revision ?? 0,
    countOnly: r.countOnly ?? false,
  });
  let kvs = rr.kvs.filter(
    kv =>
      !(minMod !== 0 && kv.modRevision < minMod) &&
      !(maxMod !== 0 && kv.modRevision > maxMod) &&
      !(minCreate !== 0 && kv.createRevision < minCreate) &&
      !(maxCreate !== 0 && kv.createRevision > maxCreate),
  );
  if (order === SortOrder.None && target !== SortTarget.Key) order = SortOrder.Ascend;
  if (order !== SortOrder.None && !(order === SortOrder.Ascend && target === SortTarget.Key)) {
    const sign = order === SortOrder.Descend ? -1 : 1;
    kvs = [...kvs].sort((a, b) => sign * compareBy(target, a, b));
  }
  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (r.keysOnly === true) kvs = kvs.map(kv => ({...kv, value: EMPTY}));
  return {kvs, more, count: rr.count};
}

function compareBy(target: SortTarget, a: KeyValue, b: KeyValue): number {
  switch (target) {
    case SortTarget.Key:
      return Buffer.compare(a.key, b.key);
    case SortTarget.Version:
      return a.version - b.version;
    case SortTarget.Create:
      return a.createRevision - b.createRevision;
    case SortTarget.Mod:
      return a.modRevision - b.modRevision;
    case SortTarget.Value:
      return Buffer.compare(a.value, b.value);
  }
}

function executePut(tw: TxnWrite, r: PutRequest): PutResponse {
  let prev: KeyValue | undefined;
  if (r.prevKv === true || r.ignoreValue === true || r.ignoreLease === true) {
    prev = tw.range(r.key, undefined).kvs[0];
  }
  const value = r.ignoreValue === true ? (prev?.value ?? EMPTY) : r.value;
  const lease = r.ignoreLease === true ? (prev?.lease ?? 0n) : (r.lease ?? 0n);
  tw.put(r.key, value, lease);
  return r.prevKv === true && prev !== undefined ? {prevKv: prev} : {};
}

function executeDelete(tw: TxnWrite, r: DeleteRangeRequest): DeleteRangeResponse {
  const prevKvs = r.prevKv === true ? tw.range(r.key, r.rangeEnd).kvs : [];
  const {deleted} = tw.deleteRange(r.key, r.rangeEnd);
  return {deleted, prevKvs};
}

const ZERO_KV: KeyValue = {
  key: EMPTY,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY,
  lease: 0n,
};

/** etcd's `applyCompare`: every key in the range must satisfy it; VALUE on no key is false. */
export function evaluateCompare(view: ReadView, c: Compare): boolean {
  const {kvs} = view.range(c.key, c.rangeEnd);
  if (kvs.length === 0) {
    if (c.target === CompareTarget.Value) return false;
    return compareKv(c, ZERO_KV);
  }
  return kvs.every(kv => compareKv(c, kv));
}

function compareKv(c: Compare, kv: KeyValue): boolean {
  let cmp: number;
  switch (c.target) {
    case CompareTarget.Value:
      cmp = Buffer.compare(kv.value, c.value ?? EMPTY);
      break;
    case CompareTarget.Create:
      cmp = Math.sign(kv.createRevision - (c.createRevision ?? 0));
      break;
    case CompareTarget.Mod:
      cmp = Math.sign(kv.modRevision - (c.modRevision ?? 0));
      break;
    case CompareTarget.Version:
      cmp = Math.sign(kv.version - (c.version ?? 0));
      break;
    case CompareTarget.Lease: {
      const l = c.lease ?? 0n;
      cmp = kv.lease < l ? -1 : kv.lease > l ? 1 : 0;
      break;
    }
  }
  switch (c.result) {
    case CompareResult.Equal:
      return cmp === 0;
    case CompareResult.NotEqual:
      return cmp !== 0;
    case CompareResult.Greater:
      return cmp > 0;
    case CompareResult.Less:
      return cmp < 0;
  }
}
