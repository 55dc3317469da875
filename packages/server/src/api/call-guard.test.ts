import {EtcdErrors, KVDefinition, PutRequest, RangeRequest} from '@synod/proto';
import type {KVServiceImplementation} from '@synod/proto';
import {Metadata, ServerError} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';
import {describe, expect, it} from 'vitest';

import type {RequestAuth} from '../auth/auth-store.js';
import {AuthError} from '../auth/auth-store.js';
import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import {CallGuard, callerOf} from './call-guard.js';
import {kvGuards} from './kv-service.js';
import type {GuardHost} from './member-ports.js';

/** A member as the guard sees it: `alice` holds the token `good`, any member reads it at once. */
function host(state: {leader: number; isLearner?: boolean}): GuardHost {
  return {
    leader: state.leader,
    isLearner: state.isLearner ?? false,
    appliedIndex: 0,
    config: {clientTls: undefined},
    auth: {
      revision: 1n,
      checkAdmin: auth => {
        if (auth.username !== 'root') throw new AuthError(EtcdErrors.permissionDenied);
      },
    },
    authTokens: {
      issuedAt: token => (token === 'good' ? 0 : undefined),
      info: (token, revision) => (token === 'good' ? {username: 'alice', revision} : undefined),
    },
  };
}

function call(metadata: Record<string, string>): CallContext {
  const m = Metadata();
  for (const [key, value] of Object.entries(metadata)) m.set(key, value);
  return {
    metadata: m,
    peer: 'test',
    header: Metadata(),
    trailer: Metadata(),
    sendHeader: () => undefined,
    signal: new AbortController().signal,
  };
}

/** The KV service behind its guards, with handlers that report the caller they were given. */
function guardedKv(member: GuardHost, put?: () => never) {
  const seen: RequestAuth[] = [];
  const answer = (context: CallContext) => {
    seen.push(callerOf(context));
    return Promise.resolve({header: undefined});
  };
  const kv: KVServiceImplementation = {
    range: (_r, context) => answer(context).then(() => ({kvs: [], more: false, count: 0n})),
    put: (_r, context) => (put === undefined ? answer(context) : Promise.resolve(put())),
    deleteRange: (_r, context) => answer(context).then(() => ({deleted: 0n, prevKvs: []})),
    txn: (_r, context) => answer(context).then(() => ({succeeded: true, responses: []})),
    compact: (_r, context) => answer(context),
  };
  return {kv: new CallGuard(member).guard(KVDefinition, kv, kvGuards({maxTxnOps: 128})), seen};
}

async function refusal(promise: Promise<unknown>): Promise<{code: number; details: string}> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ServerError) return {code: error.code, details: error.details};
    throw error;
  }
  throw new Error('the call was not refused');
}

const validPut = PutRequest.fromPartial({key: Buffer.from('k'), value: Buffer.from('v')});
const emptyKeyPut = PutRequest.fromPartial({key: Buffer.alloc(0)});
const spec = ({code, message}: {code: number; message: string}) => ({code, details: message});

describe('the client API guard, in etcd order', () => {
  it('refuses on a learner before it looks for a leader', async () => {
    const {kv} = guardedKv(host({leader: 0, isLearner: true}));
    expect(await refusal(kv.put(validPut, call({hasleader: 'true'})))).toEqual(
      spec(EtcdErrors.learnerNotSupported),
    );
  });

  it('lets a learner serve a serializable range, and only that', async () => {
    const {kv, seen} = guardedKv(host({leader: 1, isLearner: true}));
    await kv.range(RangeRequest.fromPartial({key: Buffer.from('k'), serializable: true}), call({}));
    expect(seen).toHaveLength(1);
    expect(
      await refusal(kv.range(RangeRequest.fromPartial({key: Buffer.from('k')}), call({}))),
    ).toEqual(spec(EtcdErrors.learnerNotSupported));
  });

  it('refuses a client that asks for a leader when none is known, before validating', async () => {
    const {kv} = guardedKv(host({leader: 0}));
    expect(await refusal(kv.put(emptyKeyPut, call({hasleader: 'true'})))).toEqual(
      spec(EtcdErrors.noLeader),
    );
  });

  it('validates the request before it reads the token', async () => {
    const {kv} = guardedKv(host({leader: 1}));
    expect(await refusal(kv.put(emptyKeyPut, call({token: 'forged'})))).toEqual(
      spec(EtcdErrors.emptyKey),
    );
    expect(await refusal(kv.put(validPut, call({token: 'forged'})))).toEqual(
      spec(EtcdErrors.invalidAuthToken),
    );
  });

  it("hands the handler the token's user, or anonymous without a token", async () => {
    const {kv, seen} = guardedKv(host({leader: 1}));
    await kv.put(validPut, call({token: 'good'}));
    await kv.put(validPut, call({}));
    expect(seen.map(a => a.username)).toEqual(['alice', '']);
  });

  it("maps the core's domain errors to etcd's gRPC status and message", async () => {
    const {kv} = guardedKv(host({leader: 1}), () => {
      throw EtcdDomainError.of('noSpace');
    });
    expect(await refusal(kv.put(validPut, call({})))).toEqual(spec(EtcdErrors.noSpace));
  });
});
