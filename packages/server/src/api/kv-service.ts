import type {
  KVDefinition,
  KVServiceImplementation,
  RangeRequest as WireRangeRequest,
  TxnRequest as WireTxnRequest,
} from '@synod/proto';
import {validateDeleteRange, validatePut, validateRange, validateTxn} from '@synod/storage';
import type {DeleteRangeResponse, PutResponse, TxnResponse} from '@synod/storage';

import type {MemberConfig} from '../config/member-config.js';
import {traceStep} from '../metrics/request-trace.js';
import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {unwrap} from './errors.js';
import type {KvBackend} from './member-ports.js';
import {toWireDeleteRange, toWirePut, toWireRange, toWireTxn} from './wire.js';
import {
  fromWireDeleteRange,
  fromWirePut,
  fromWireRange,
  fromWireTxn,
} from '../member/wire-requests.js';

/** Whether a txn only reads, in every branch and nested txn: then it needs no consensus. */
function isReadOnly(t: WireTxnRequest): boolean {
  return [...t.success, ...t.failure].every(op => {
    const r = op.request;
    if (r?.$case === 'requestRange') return true;
    if (r?.$case === 'requestTxn') return isReadOnly(r.value);
    return false;
  });
}

function allSerializable(t: WireTxnRequest): boolean {
  return [...t.success, ...t.failure].every(op => {
    const r = op.request;
    if (r?.$case === 'requestRange') return r.value.serializable;
    if (r?.$case === 'requestTxn') return allSerializable(r.value);
    return true;
  });
}

/**
 * What a KV call passes before its handler: etcd validates every request before it reads
 * the caller's token, so a bad request is refused as bad whoever sends it; a learner serves
 * only serializable ranges.
 */
export function kvGuards(
  limits: Pick<MemberConfig, 'maxTxnOps'>,
): ServiceGuards<typeof KVDefinition> {
  return {
    range: {
      onLearner: (request: WireRangeRequest) => request.serializable,
      hasLeader: true,
      validate: request => {
        validateRange(fromWireRange(request));
      },
      caller: 'user',
    },
    put: {
      hasLeader: true,
      validate: request => {
        validatePut(fromWirePut(request));
      },
      caller: 'user',
    },
    deleteRange: {
      hasLeader: true,
      validate: request => {
        validateDeleteRange(fromWireDeleteRange(request));
      },
      caller: 'user',
    },
    txn: {
      hasLeader: true,
      validate: request => {
        validateTxn(fromWireTxn(request), limits.maxTxnOps);
      },
      caller: 'user',
    },
    compact: {hasLeader: true, caller: 'user'},
  };
}

/**
 * The KV service. Reads are linearizable by default (a ReadIndex round, then a
 * local read) and local when `serializable`; writes are proposed through Raft
 * and answered once applied on this member. Requests are validated (by
 * {@link kvGuards}) before they are proposed, so a bad request never enters the log.
 */
export function kvService(member: KvBackend): KVServiceImplementation {
  return {
    async range(request, context) {
      const auth = callerOf(context);
      if (!request.serializable) {
        await member.linearizableRead();
        traceStep(context, 'agreement among raft nodes before linearized reading');
      }
      member.auth.checkRange(auth, request.key, request.rangeEnd);
      const {response, revision} = member.executor.range(fromWireRange(request));
      traceStep(context, 'range keys from in-memory index tree');
      return toWireRange(response, member.header(revision));
    },

    async put(request, context) {
      member.checkQuota();
      const {response, revision} = unwrap(
        await member.propose({$case: 'put', value: request}, callerOf(context)),
      );
      traceStep(context, 'process raft request');
      return toWirePut(response as PutResponse, member.header(revision));
    },

    async deleteRange(request, context) {
      const {response, revision} = unwrap(
        await member.propose({$case: 'deleteRange', value: request}, callerOf(context)),
      );
      traceStep(context, 'process raft request');
      return toWireDeleteRange(response as DeleteRangeResponse, member.header(revision));
    },

    async txn(request, context) {
      const auth = callerOf(context);
      if (isReadOnly(request)) {
        if (!allSerializable(request)) {
          await member.linearizableRead();
          traceStep(context, 'agreement among raft nodes before linearized reading');
        }
        member.auth.checkTxn(auth, request, () => []);
        const {response, revision} = member.executor.txn(fromWireTxn(request));
        traceStep(context, 'evaluate txn');
        return toWireTxn(response, member.header(revision));
      }
      member.checkQuota();
      const {response, revision} = unwrap(
        await member.propose({$case: 'txn', value: request}, auth),
      );
      traceStep(context, 'process raft request');
      return toWireTxn(response as TxnResponse, member.header(revision));
    },

    async compact(request, context) {
      const {response, revision} = unwrap(
        await member.propose({$case: 'compaction', value: request}, callerOf(context)),
      );
      if (request.physical) await (response as {physical: Promise<void>}).physical;
      return {header: member.header(revision)};
    },
  };
}
