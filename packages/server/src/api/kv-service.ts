import type {KVServiceImplementation, TxnRequest as WireTxnRequest} from '@synod/proto';
import {validateDeleteRange, validatePut, validateRange, validateTxn} from '@synod/storage';
import type {DeleteRangeResponse, PutResponse, TxnResponse} from '@synod/storage';

import type {MemberCore} from '../member/member.js';
import {traceStep} from '../metrics/request-trace.js';
import {requireLeaderIfAsked, unwrap, validated} from './errors.js';
import {authChecked, requestAuth} from './request-auth.js';
import {
  fromWireDeleteRange,
  fromWirePut,
  fromWireRange,
  fromWireTxn,
  toWireDeleteRange,
  toWirePut,
  toWireRange,
  toWireTxn,
} from './wire.js';

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
 * The KV service. Reads are linearizable by default (a ReadIndex round, then a
 * local read) and local when `serializable`; writes are proposed through Raft
 * and answered once applied on this member. Requests are validated before they
 * are proposed, so a bad request never enters the log.
 */
export function kvService(member: MemberCore): KVServiceImplementation {
  return {
    async range(request, context) {
      requireLeaderIfAsked(context, member.leader);
      const range = fromWireRange(request);
      validated(() => {
        validateRange(range);
      });
      const auth = await requestAuth(member, context);
      if (!request.serializable) {
        await member.linearizableRead();
        traceStep(context, 'agreement among raft nodes before linearized reading');
      }
      authChecked(() => {
        member.auth.checkRange(auth, request.key, request.rangeEnd);
      });
      const {response, revision} = validated(() => member.executor.range(range));
      traceStep(context, 'range keys from in-memory index tree');
      return toWireRange(response, member.header(revision));
    },

    async put(request, context) {
      requireLeaderIfAsked(context, member.leader);
      validated(() => {
        validatePut(fromWirePut(request));
      });
      const auth = await requestAuth(member, context);
      member.checkQuota();
      const {response, revision} = unwrap(
        await member.propose({$case: 'put', value: request}, auth),
      );
      traceStep(context, 'process raft request');
      return toWirePut(response as PutResponse, member.header(revision));
    },

    async deleteRange(request, context) {
      requireLeaderIfAsked(context, member.leader);
      validated(() => {
        validateDeleteRange(fromWireDeleteRange(request));
      });
      const auth = await requestAuth(member, context);
      const {response, revision} = unwrap(
        await member.propose({$case: 'deleteRange', value: request}, auth),
      );
      traceStep(context, 'process raft request');
      return toWireDeleteRange(response as DeleteRangeResponse, member.header(revision));
    },

    async txn(request, context) {
      requireLeaderIfAsked(context, member.leader);
      const txn = fromWireTxn(request);
      validated(() => {
        validateTxn(txn, member.config.maxTxnOps);
      });
      const auth = await requestAuth(member, context);
      if (isReadOnly(request)) {
        if (!allSerializable(request)) {
          await member.linearizableRead();
          traceStep(context, 'agreement among raft nodes before linearized reading');
        }
        authChecked(() => {
          member.auth.checkTxn(auth, request, () => []);
        });
        const {response, revision} = validated(() => member.executor.txn(txn));
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
      requireLeaderIfAsked(context, member.leader);
      const {response, revision} = unwrap(
        await member.propose(
          {$case: 'compaction', value: request},
          await requestAuth(member, context),
        ),
      );
      if (request.physical) await (response as {physical: Promise<void>}).physical;
      return {header: member.header(revision)};
    },
  };
}
