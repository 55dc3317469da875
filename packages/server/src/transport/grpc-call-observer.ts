/** How a gRPC call is shaped: which of its sides stream. */
export type GrpcCallType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** A method's call type, by which of its sides stream, as grpc's metrics name it. */
export function grpcCallType(method: {
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}): GrpcCallType {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

/**
 * What the gRPC server and the JSON gateway report about each call: its start and its status.
 * Messages and handling time are counted around the handlers ({@link GrpcMetrics.observed}),
 * whatever carries the call; the bytes by the transport that reads and writes them.
 */
export interface GrpcCallObserver {
  /** A call started; `clientApiVersion` is its `client-api-version` metadata, if it has one. */
  started(service: string, method: string, type: GrpcCallType, clientApiVersion?: string): void;
  handled(service: string, method: string, type: GrpcCallType, code: number): void;
  /** A request message of `bytes` (its protobuf encoding) was read from a client. */
  receivedBytes?(bytes: number): void;
  /** A response message of `bytes` was written to a client. */
  sentBytes?(bytes: number): void;
}
