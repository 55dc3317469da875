import {gunzipSync} from 'node:zlib';

import {
  DeleteRangeRequest,
  MemberAddRequest,
  MemberRemoveRequest,
  MemberUpdateRequest,
  PutRequest,
  TxnRequest,
} from '@synod/proto';
import type {RequestOp} from '@synod/proto';
import {grpcMessages} from '@synod/testing';

import type {FuzzInput} from './inputs.js';

/**
 * Keys no input may reach. The runner writes them before the first input and checks after
 * every batch that they are unchanged; the guard below refuses to send anything that could
 * write, delete or lease them, so a change means a server wrote where it was not asked to.
 * They sort after every key the generator makes (those start with "fz/" or a letter).
 */
export const canaryPrefix = Buffer.concat([
  Buffer.from([0xff, 0xfe]),
  Buffer.from('synod-fuzz-canary/'),
]);
const canaryEnd = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('synod-fuzz-canary0')]);
const canaryMark = Buffer.from('synod-fuzz-canary');

/** The user and role the runner keeps, to switch auth off again after an AuthEnable. */
export const rootName = 'root';
export const rootPassword = 'synod-fuzz-root-password';

/** What the guard needs to know about the clusters under test. */
export interface GuardContext {
  /** Ids of the members of either cluster: never removed, never given new peer URLs. */
  readonly liveMemberIds: ReadonlySet<bigint>;
}

/** Auth methods that could take root's password, role or permissions away. */
const rootSensitive = new Set([
  'Auth/UserDelete',
  'Auth/UserChangePassword',
  'Auth/UserRevokeRole',
  'Auth/RoleDelete',
  'Auth/RoleRevokePermission',
]);

/**
 * Why `input` must not be sent, or undefined when it is safe. Decisions depend on the
 * input's bytes and the member ids only, so a replay skips the same inputs.
 *
 * The guard decodes with the same ts-proto decoders Synod uses. A payload that does not
 * decode is refused by Synod's decoder too; etcd's Go decoder is stricter (it refuses wrong
 * wire types that ts-proto skips), so it refuses at least as much. One gap is known: Go
 * merges two occurrences of a nested message where ts-proto keeps the last, and the
 * mutations never duplicate a nested field, so only a lucky byte flip could open it.
 */
export function whyUnsafe(input: FuzzInput, context: GuardContext): string | undefined {
  if (input.body.includes(canaryMark) || input.payloads.some(p => p.includes(canaryMark))) {
    return 'names a canary key';
  }
  const label = input.method.label;
  if (rootSensitive.has(label) && input.payloads.some(p => p.includes(rootName))) {
    return 'could change the root user or role';
  }
  for (const payload of candidatePayloads(input)) {
    const reason = whyUnsafePayload(label, payload, context);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

function candidatePayloads(input: FuzzInput): Buffer[] {
  const out = [...input.payloads, ...grpcMessages(input.body)];
  for (const p of [...out]) {
    try {
      out.push(gunzipSync(p));
    } catch {
      // Not gzip: nothing more to read.
    }
  }
  return out;
}

function decoded<T>(decode: (bytes: Uint8Array) => T, payload: Buffer): T | undefined {
  try {
    return decode(payload);
  } catch {
    return undefined;
  }
}

function whyUnsafePayload(
  label: string,
  payload: Buffer,
  context: GuardContext,
): string | undefined {
  switch (label) {
    case 'KV/Put': {
      const put = decoded(b => PutRequest.decode(b), payload);
      return put !== undefined && touchesCanary(put.key, Buffer.alloc(0))
        ? 'writes a canary key'
        : undefined;
    }
    case 'KV/DeleteRange': {
      const del = decoded(b => DeleteRangeRequest.decode(b), payload);
      return del !== undefined && touchesCanary(del.key, del.rangeEnd)
        ? 'deletes over the canary keys'
        : undefined;
    }
    case 'KV/Txn': {
      const txn = decoded(b => TxnRequest.decode(b), payload);
      return txn !== undefined && txnTouchesCanary(txn)
        ? 'a txn that could write the canary keys'
        : undefined;
    }
    case 'Cluster/MemberAdd': {
      const add = decoded(b => MemberAddRequest.decode(b), payload);
      return add !== undefined && !add.isLearner
        ? 'adds a voter that never starts (loses the quorum)'
        : undefined;
    }
    case 'Cluster/MemberRemove': {
      const remove = decoded(b => MemberRemoveRequest.decode(b), payload);
      return remove !== undefined && context.liveMemberIds.has(remove.ID)
        ? 'removes a live member'
        : undefined;
    }
    case 'Cluster/MemberUpdate': {
      const update = decoded(b => MemberUpdateRequest.decode(b), payload);
      return update !== undefined && context.liveMemberIds.has(update.ID)
        ? "changes a live member's peer URLs"
        : undefined;
    }
    default:
      return undefined;
  }
}

function txnTouchesCanary(txn: TxnRequest): boolean {
  const op = (o: RequestOp): boolean => {
    const r = o.request;
    if (r === undefined) return false;
    if (r.$case === 'requestPut') return touchesCanary(r.value.key, Buffer.alloc(0));
    if (r.$case === 'requestDeleteRange') return touchesCanary(r.value.key, r.value.rangeEnd);
    if (r.$case === 'requestTxn') return txnTouchesCanary(r.value);
    return false;
  };
  return txn.success.some(op) || txn.failure.some(op);
}

/**
 * Whether etcd's range [key, rangeEnd) meets the canary range: an empty end means the key
 * alone, "\0" means every key from `key` on.
 */
export function touchesCanary(key: Buffer, rangeEnd: Buffer): boolean {
  if (rangeEnd.length === 0)
    return Buffer.compare(key, canaryPrefix) >= 0 && Buffer.compare(key, canaryEnd) < 0;
  const toEnd = rangeEnd.length === 1 && rangeEnd[0] === 0;
  const lo = Buffer.compare(key, canaryPrefix) > 0 ? key : canaryPrefix;
  const hi = toEnd || Buffer.compare(rangeEnd, canaryEnd) > 0 ? canaryEnd : rangeEnd;
  return Buffer.compare(lo, hi) < 0;
}
