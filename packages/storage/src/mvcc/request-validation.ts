import {keyInterval} from './kv-store.js';
import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from './requests.js';
import {SortOrder, SortTarget} from './requests.js';
import {ErrorMessages, StorageError} from './storage-error.js';
import {latin1Key} from '../latin1-key.js';

/** etcd's default `--max-txn-ops`. */
export const DEFAULT_MAX_TXN_OPS = 128;

const invalid = (message: string): StorageError => new StorageError('InvalidArgument', message);

/** etcd's checks on a RangeRequest before it is served. */
export function validateRange(r: RangeRequest): void {
  if (r.key.length === 0) throw invalid(ErrorMessages.keyNotProvided);
  const order = r.sortOrder ?? SortOrder.None;
  const target = r.sortTarget ?? SortTarget.Key;
  if (!(order in SortOrder) || !(target in SortTarget))
    throw invalid(ErrorMessages.invalidSortOption);
}

/** etcd's checks on a PutRequest before it is proposed. */
export function validatePut(r: PutRequest): void {
  if (r.key.length === 0) throw invalid(ErrorMessages.keyNotProvided);
  if (r.ignoreValue === true && r.value.length !== 0) throw invalid(ErrorMessages.valueProvided);
  if (r.ignoreLease === true && (r.lease ?? 0n) !== 0n) throw invalid(ErrorMessages.leaseProvided);
}

export function validateDeleteRange(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw invalid(ErrorMessages.keyNotProvided);
}

/**
 * etcd's checks on a TxnRequest before it is proposed: op counts (nested txns get what is
 * left of the budget), keys present, and no key written twice in one branch.
 */
export function validateTxn(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(r, maxTxnOps);
  checkDuplicates(r.success);
  checkDuplicates(r.failure);
}

function checkTxnShape(r: TxnRequest, maxTxnOps: number): void {
  const ops = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (ops > maxTxnOps) throw invalid(ErrorMessages.tooManyOps);
  for (const c of r.compare) if (c.key.length === 0) throw invalid(ErrorMessages.keyNotProvided);
  for (const op of [...r.success, ...r.failure]) checkOp(op, maxTxnOps - ops);
}

function checkOp(op: RequestOp, budget: number): void {
  if ('range' in op) validateRange(op.range);
  else if ('put' in op) validatePut(op.put);
  else if ('deleteRange' in op) validateDeleteRange(op.deleteRange);
  else checkTxnShape(op.txn, budget);
}

type Interval = [string, string | undefined];
const contains = ([from, to]: Interval, k: string): boolean =>
  k >= from && (to === undefined || k < to);
const toKey = latin1Key;

/**
 * The duplicate-write rule of one branch: a key put twice, or put inside a range deleted in
 * the same branch (nested txns included), is rejected. The two branches of a nested txn are
 * exclusive, so they may write the same key; overlapping deletes are allowed.
 */
function checkDuplicates(ops: readonly RequestOp[]): {dels: Interval[]; puts: Set<string>} {
  const dels: Interval[] = [];
  for (const op of ops) {
    if ('deleteRange' in op) dels.push(keyInterval(op.deleteRange.key, op.deleteRange.rangeEnd));
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (!('txn' in op)) continue;
    const s = checkDuplicates(op.txn.success);
    const f = checkDuplicates(op.txn.failure);
    const nested = new Set([...s.puts, ...f.puts]);
    for (const k of nested) {
      if (puts.has(k) || dels.some(d => contains(d, k))) throw invalid(ErrorMessages.duplicateKey);
    }
    for (const k of nested) puts.add(k);
    dels.push(...s.dels, ...f.dels);
  }
  for (const op of ops) {
    if (!('put' in op)) continue;
    const k = toKey(op.put.key);
    if (puts.has(k) || dels.some(d => contains(d, k))) throw invalid(ErrorMessages.duplicateKey);
    puts.add(k);
  }
  return {dels, puts};
}
