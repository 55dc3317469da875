import type {HealthServiceImplementation} from '@synod/proto';
import {HealthCheckResponse_ServingStatus} from '@synod/proto';
import {ServerError, Status} from 'nice-grpc-common';

import type {HealthHost} from './member-ports.js';

function servingStatus(member: HealthHost): HealthCheckResponse_ServingStatus {
  return member.leader !== 0 && member.fatalError === undefined && member.isPublished
    ? HealthCheckResponse_ServingStatus.SERVING
    : HealthCheckResponse_ServingStatus.NOT_SERVING;
}

/**
 * The standard gRPC health service. The member serves when it knows a leader
 * (so that its requests can be ordered), has published its client URLs, and
 * has not stopped on an error.
 */
export function healthService(member: HealthHost): HealthServiceImplementation {
  // etcd registers the server as a whole, the empty name, and no service by name: a check
  // naming one is NOT_FOUND "unknown service", as grpc-go's health server answers.
  const known = new Set(['']);
  return {
    check(request) {
      if (!known.has(request.service)) {
        return Promise.reject(new ServerError(Status.NOT_FOUND, 'unknown service'));
      }
      return Promise.resolve({status: servingStatus(member)});
    },
    async *watch(request, context) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!context.signal.aborted) {
        const status = known.has(request.service)
          ? servingStatus(member)
          : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) {
          last = status;
          yield {status};
        }
        await new Promise(resolve => setTimeout(resolve, member.config.heartbeatIntervalMs));
      }
    },
  };
}
