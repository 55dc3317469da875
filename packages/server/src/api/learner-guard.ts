import {EtcdErrors} from '@synod/proto';
import type {ServiceImplementation, TsProtoServiceDefinition} from 'nice-grpc';
import type {CallContext} from 'nice-grpc-common';

import {etcdError} from './errors.js';

/** Whether a learner serves `method` (as named in the service definition) with `request`. */
export type LearnerAllows = (method: string, request: unknown) => boolean;

type Method = (request: unknown, context: CallContext) => unknown;

/**
 * Wraps a service so that while this member is a learner every call it does not
 * serve fails with etcd's "rpc not supported for learner": a learner's state may
 * lag the cluster's, and it does not take part in elections or commits. etcd's
 * learners serve only Status and serializable Range.
 */
export function refusedOnLearner<D extends TsProtoServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D>,
  isLearner: () => boolean,
  allows: LearnerAllows = () => false,
): ServiceImplementation<D> {
  const impl = implementation as unknown as Record<string, Method>;
  const wrapped: Record<string, Method> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    const handler = impl[key];
    if (handler === undefined) continue;
    const check = (request: unknown) => {
      if (isLearner() && !allows(method.name, request)) {
        throw etcdError(EtcdErrors.learnerNotSupported);
      }
    };
    wrapped[key] = method.responseStream
      ? async function* (request, context) {
          check(request);
          yield* handler.call(implementation, request, context) as AsyncIterable<unknown>;
        }
      : async (request, context) => {
          check(request);
          const result: unknown = await handler.call(implementation, request, context);
          return result;
        };
  }
  return wrapped as unknown as ServiceImplementation<D>;
}
