import {EtcdErrors} from '@synod/proto';
import type {ServiceImplementation, TsProtoServiceDefinition} from 'nice-grpc';
import type {CallContext} from 'nice-grpc-common';

import type {RequestAuth} from '../auth/auth-store.js';
import {etcdError, requireLeaderIfAsked, toGrpcError} from './errors.js';
import type {GuardHost} from './member-ports.js';
import {requestAuth, requireRoot, requireRootForMaintenance} from './request-auth.js';

/**
 * Who a call must run as, established before its handler runs:
 * - `none`: nobody; the handler reads no caller.
 * - `user`: the user of the call's token (or TLS Common Name), anonymous without either.
 * - `root`: that user, refused unless root while auth is on (etcd's `IsAdminPermitted`).
 * - `root-maintenance`: the same, with the refusal unconverted as etcd's maintenance
 *   calls give it (see {@link requireRootForMaintenance}).
 * - `each-request`: a stream that identifies its caller again for each request it carries
 *   (Watch: at each create), through {@link identifyCaller}.
 */
export type CallerCheck = 'none' | 'user' | 'root' | 'root-maintenance' | 'each-request';

/**
 * The checks one method's calls pass before its handler runs, in this order, which is
 * etcd's: the learner refusal and has-leader check of its interceptors, then the request's
 * own validation (etcd validates a Put, Range, DeleteRange or Txn before it reads the
 * caller's token), then the caller.
 */
export interface MethodGuard<Request> {
  /** Whether a learner serves this call (etcd's learners serve Status and serializable Range). */
  readonly onLearner?: boolean | ((request: Request) => boolean);
  /** Fail at once with "no leader" when the client sent `hasleader: true` and none is known. */
  readonly hasLeader?: boolean;
  /** Throws etcd's error for a request that must be refused before the caller is read. */
  readonly validate?: (request: Request) => void;
  readonly caller: CallerCheck | ((request: Request) => CallerCheck);
}

type MethodKeys<D extends TsProtoServiceDefinition> = keyof D['methods'] & string;

type RequestOf<
  D extends TsProtoServiceDefinition,
  K extends MethodKeys<D>,
> = ServiceImplementation<D>[K] extends (request: infer R, ...rest: never[]) => unknown ? R : never;

/** One guard for every method of a service: a method nobody decided on does not compile. */
export type ServiceGuards<D extends TsProtoServiceDefinition> = {
  readonly [K in MethodKeys<D>]: MethodGuard<RequestOf<D, K>>;
};

type Method = (request: unknown, context: CallContext) => unknown;

/** The callers established for calls in progress, by the call's context object. */
const callers = new WeakMap<object, RequestAuth>();
const identifiers = new WeakMap<object, () => Promise<RequestAuth>>();

/** The caller the guard established for this call (its method's guard names one). */
export function callerOf(context: CallContext): RequestAuth {
  const auth = callers.get(context);
  if (auth === undefined) {
    throw new Error('no caller was established for this call: its guard must name one');
  }
  return auth;
}

/** Identifies the caller of a stream whose guard says `each-request`, at this moment. */
export function identifyCaller(context: CallContext): Promise<RequestAuth> {
  const identify = identifiers.get(context);
  if (identify === undefined) {
    throw new Error('this call identifies no caller per request: its guard must say each-request');
  }
  return identify();
}

/**
 * `implementation` with each method running `before` (when given) and then its handler, and
 * every error either throws mapped by {@link toGrpcError}.
 */
function wrapped<D extends TsProtoServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D>,
  before?: (key: string, request: unknown, context: CallContext) => Promise<void>,
): ServiceImplementation<D> {
  const impl = implementation as unknown as Record<string, Method>;
  const methods: Record<string, Method> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    const handler = impl[key];
    if (handler === undefined) continue;
    // A client stream's requests are the handler's to read: the guard sees none of them.
    const check = (request: unknown, context: CallContext) =>
      before?.(key, method.requestStream ? undefined : request, context);
    methods[key] = method.responseStream
      ? async function* (request, context) {
          try {
            await check(request, context);
            yield* handler.call(implementation, request, context) as AsyncIterable<unknown>;
          } catch (error) {
            throw toGrpcError(error);
          }
        }
      : async (request, context) => {
          try {
            await check(request, context);
            const result: unknown = await handler.call(implementation, request, context);
            return result;
          } catch (error) {
            throw toGrpcError(error);
          }
        };
  }
  return methods as unknown as ServiceImplementation<D>;
}

/**
 * `implementation` with every error its methods throw mapped by {@link toGrpcError}: for the
 * services on the peer port, which answer other members, not clients.
 */
export function withGrpcErrors<D extends TsProtoServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D>,
): ServiceImplementation<D> {
  return wrapped(definition, implementation);
}

/**
 * The client API's middleware, applied once to every service where services are registered:
 * the learner refusal, the has-leader check, the request validation and the caller's
 * identity (token, TLS Common Name, root) come from each method's {@link MethodGuard}, so a
 * handler only delegates and answers; every error leaving a handler is mapped to etcd's
 * gRPC status and message by the one table in {@link toGrpcError}.
 */
export class CallGuard {
  constructor(private readonly host: GuardHost) {}

  /** `implementation` with each method behind its guard. */
  guard<D extends TsProtoServiceDefinition>(
    definition: D,
    implementation: ServiceImplementation<D>,
    guards: ServiceGuards<D>,
  ): ServiceImplementation<D> {
    const table = guards as unknown as Record<string, MethodGuard<unknown> | undefined>;
    return wrapped(definition, implementation, (key, request, context) => {
      const guard = table[key];
      if (guard === undefined) throw new Error(`no guard for ${definition.fullName}.${key}`);
      return this.check(guard, request, context);
    });
  }

  private async check(
    guard: MethodGuard<unknown>,
    request: unknown,
    context: CallContext,
  ): Promise<void> {
    const host = this.host;
    if (host.isLearner) {
      const served =
        typeof guard.onLearner === 'function' ? guard.onLearner(request) : guard.onLearner;
      if (served !== true) throw etcdError(EtcdErrors.learnerNotSupported);
    }
    if (guard.hasLeader === true) requireLeaderIfAsked(context, host.leader);
    guard.validate?.(request);
    const caller = typeof guard.caller === 'function' ? guard.caller(request) : guard.caller;
    switch (caller) {
      case 'none':
        return;
      case 'user':
        callers.set(context, await requestAuth(host, context));
        return;
      case 'root':
        callers.set(context, await requireRoot(host, context));
        return;
      case 'root-maintenance':
        callers.set(context, await requireRootForMaintenance(host, context));
        return;
      case 'each-request':
        identifiers.set(context, () => requestAuth(host, context));
        return;
    }
  }
}
