import {ServerError, Status} from 'nice-grpc-common';

import type {GrpcCallObserver} from '../transport/grpc-call-observer.js';
import {grpcCallType} from '../transport/grpc-call-observer.js';
import type {Handler, ServedMethod} from '../transport/grpc-service.js';

/**
 * A method whose calls are counted by `observer`: started when the handler is called, handled
 * with the status it ends with (a response stream: when it ends, fails, or is left).
 */
export function observedMethod(
  grpcPath: string,
  served: ServedMethod,
  observer: GrpcCallObserver,
): ServedMethod {
  const [, service = '', name = ''] = grpcPath.split('/');
  const {method} = served;
  const type = grpcCallType(method);
  const codeOf = (error: unknown) => (error instanceof ServerError ? error.code : Status.UNKNOWN);
  const handler: Handler = (request, context) => {
    observer.started(service, name, type);
    if (!method.responseStream) {
      return (served.handler(request, context) as Promise<unknown>).then(
        response => {
          observer.handled(service, name, type, Status.OK);
          return response;
        },
        (error: unknown) => {
          observer.handled(service, name, type, codeOf(error));
          throw error;
        },
      );
    }
    const responses = served.handler(request, context) as AsyncIterable<unknown>;
    return (async function* counted() {
      let code: number = Status.CANCELLED;
      try {
        yield* responses;
        code = Status.OK;
      } catch (error) {
        code = codeOf(error);
        throw error;
      } finally {
        observer.handled(service, name, type, code);
      }
    })();
  };
  return {method, handler};
}
