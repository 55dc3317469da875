import {ServerError, Status} from 'nice-grpc-common';

/** gRPC status codes as grpc-gateway (v1, as etcd 3.4 vendors it) answers them in HTTP. */
const httpStatusOfCode: Readonly<Record<number, number>> = {
  [Status.OK]: 200,
  [Status.CANCELLED]: 408,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.UNAUTHENTICATED]: 401,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 412,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
};

/** Go's `http.StatusText` for the statuses above. */
export const statusTexts: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The HTTP status grpc-gateway answers a gRPC status `code` with; 500 for a code it does not know. */
export function httpStatus(code: number): number {
  return httpStatusOfCode[code] ?? 500;
}

/** A failure with its gRPC status, before or instead of a handler's answer. */
export function statusOf(error: unknown): {code: number; message: string} | undefined {
  if (error instanceof ServerError) return {code: error.code, message: error.details};
  return undefined;
}
