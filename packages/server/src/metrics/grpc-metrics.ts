import type {Registry} from 'prom-client';
import {Counter, Histogram} from 'prom-client';

import type {GrpcCallObserver, GrpcCallType} from '../transport/grpc-call-observer.js';
import {grpcCallType} from '../transport/grpc-call-observer.js';
import type {MethodTable, ServedMethod} from '../transport/grpc-service.js';

/** gRPC status codes by the names Go's grpc (and so etcd's metrics) give them. */
export const grpcCodeNames = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

export type {GrpcCallObserver, GrpcCallType} from '../transport/grpc-call-observer.js';

/** A method the server serves, as the labels of its metrics name it. */
export interface GrpcMethodLabels {
  readonly service: string;
  readonly method: string;
  readonly type: GrpcCallType;
}

type CallLabels = 'grpc_method' | 'grpc_service' | 'grpc_type';

/**
 * The server-side gRPC metrics etcd exports through go-grpc-prometheus, by the same names,
 * labels and help texts, plus etcd's client byte counters. With `extensive` (etcd's
 * `--metrics extensive`) it also keeps `grpc_server_handling_seconds`, with that library's
 * default buckets, which etcd's etcdGRPCRequestsSlow alert reads.
 */
export class GrpcMetrics implements GrpcCallObserver {
  private readonly startedTotal: Counter<CallLabels>;
  private readonly handledTotal: Counter<CallLabels | 'grpc_code'>;
  private readonly receivedMessages: Counter<CallLabels>;
  private readonly sentMessages: Counter<CallLabels>;
  private readonly handlingSeconds: Histogram<CallLabels> | undefined;
  private readonly receivedBytesTotal: Counter;
  private readonly sentBytesTotal: Counter;

  constructor(registry: Registry, extensive: boolean) {
    const registers = [registry];
    // Labels in sorted order, as Go's exporter writes them.
    const labelNames: CallLabels[] = ['grpc_method', 'grpc_service', 'grpc_type'];
    this.startedTotal = new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames,
      registers,
    });
    this.handledTotal = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: ['grpc_code', ...labelNames],
      registers,
    });
    this.receivedMessages = new Counter({
      name: 'grpc_server_msg_received_total',
      help: 'Total number of RPC stream messages received on the server.',
      labelNames,
      registers,
    });
    this.sentMessages = new Counter({
      name: 'grpc_server_msg_sent_total',
      help: 'Total number of gRPC stream messages sent by the server.',
      labelNames,
      registers,
    });
    this.handlingSeconds = extensive
      ? new Histogram({
          name: 'grpc_server_handling_seconds',
          help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
          labelNames,
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        })
      : undefined;
    this.receivedBytesTotal = new Counter({
      name: 'etcd_network_client_grpc_received_bytes_total',
      help: 'The total number of bytes received from grpc clients.',
      registers,
    });
    this.sentBytesTotal = new Counter({
      name: 'etcd_network_client_grpc_sent_bytes_total',
      help: 'The total number of bytes sent to grpc clients.',
      registers,
    });
  }

  /**
   * Exports every method with zero counts before its first call (every code of
   * `grpc_server_handled_total` too), as go-grpc-prometheus' InitializeMetrics does for etcd:
   * a rate over a series that appears only with its first failure would miss that failure.
   */
  initialize(methods: Iterable<GrpcMethodLabels>): void {
    for (const {service, method, type} of methods) {
      const labels = {grpc_method: method, grpc_service: service, grpc_type: type};
      this.startedTotal.inc(labels, 0);
      this.receivedMessages.inc(labels, 0);
      this.sentMessages.inc(labels, 0);
      this.handlingSeconds?.zero(labels);
      for (const code of grpcCodeNames) this.handledTotal.inc({grpc_code: code, ...labels}, 0);
    }
  }

  started(service: string, method: string, type: GrpcCallType): void {
    this.startedTotal.inc({grpc_method: method, grpc_service: service, grpc_type: type});
  }

  handled(service: string, method: string, type: GrpcCallType, code: number): void {
    this.handledTotal.inc({
      grpc_code: grpcCodeNames[code] ?? String(code),
      grpc_method: method,
      grpc_service: service,
      grpc_type: type,
    });
  }

  receivedBytes(bytes: number): void {
    this.receivedBytesTotal.inc(bytes);
  }

  sentBytes(bytes: number): void {
    this.sentBytesTotal.inc(bytes);
  }

  /**
   * The same methods, with their messages counted (`grpc_server_msg_received_total`,
   * `grpc_server_msg_sent_total`) and, with `--metrics extensive`, the time from the handler's
   * call to its answer or the end of its response stream (`grpc_server_handling_seconds`).
   * Both front ends serve this table, so a gateway call counts as the gRPC call it stands for,
   * as in etcd, whose gateway calls its own gRPC port.
   */
  observed(methods: MethodTable, nowMs: () => number): MethodTable {
    const table: MethodTable = new Map();
    for (const [path, served] of methods) table.set(path, this.observedMethod(path, served, nowMs));
    return table;
  }

  private observedMethod(path: string, served: ServedMethod, nowMs: () => number): ServedMethod {
    const {service, method: name, type} = methodLabels(path, served.method);
    const labels = {grpc_method: name, grpc_service: service, grpc_type: type};
    const received = this.receivedMessages.labels(labels);
    const sent = this.sentMessages.labels(labels);
    const handling = this.handlingSeconds?.labels(labels);
    const {method, handler} = served;
    const countIn = async function* (requests: AsyncIterable<unknown>) {
      for await (const request of requests) {
        received.inc();
        yield request;
      }
    };
    return {
      method,
      handler: (request, context) => {
        const startedMs = nowMs();
        const done = () => handling?.observe((nowMs() - startedMs) / 1000);
        if (method.requestStream) request = countIn(request as AsyncIterable<unknown>);
        else received.inc();
        const answer = handler(request, context);
        if (!method.responseStream) {
          return (answer as Promise<unknown>).then(
            response => {
              sent.inc();
              done();
              return response;
            },
            (error: unknown) => {
              done();
              throw error;
            },
          );
        }
        return (async function* countOut() {
          try {
            for await (const response of answer as AsyncIterable<unknown>) {
              sent.inc();
              yield response;
            }
          } finally {
            done();
          }
        })();
      },
    };
  }
}

/** The labels of every method in a table of served methods (keyed `/service/method`). */
export function grpcMethodLabels(methods: MethodTable): GrpcMethodLabels[] {
  return [...methods].map(([path, {method}]) => methodLabels(path, method));
}

function methodLabels(
  path: string,
  method: {readonly requestStream: boolean; readonly responseStream: boolean},
): GrpcMethodLabels {
  const [, service = '', name = ''] = path.split('/');
  return {service, method: name, type: grpcCallType(method)};
}
