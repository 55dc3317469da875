import type {
  CompactionRequest,
  DeleteRangeRequest,
  KVServiceImplementation,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '@synod/proto';
import {
  CompactionResponse,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '@synod/proto';

import type {MemberLogger} from '../member/member.js';
import {RequestTrace, traceRequest} from './request-trace.js';

/** What the slow-request log needs: where to write, what slow means, what to count. */
export interface SlowRequestLogOptions {
  readonly logger: MemberLogger;
  /** etcd's `--warning-apply-duration`. */
  readonly thresholdMs: number;
  /** Monotonic time in ms. */
  readonly nowMs: () => number;
  /** Wall-clock time in ms, for the trace's start and end. */
  readonly wallMs: () => number;
  /** Told of each slow request (`etcd_server_slow_apply_total`). */
  readonly onSlow: () => void;
}

/**
 * A duration as Go's `time.Duration.String()` prints it, which is how etcd's zap logger writes
 * `took` and `duration`: `152.337ms`, `1.5s`, `850µs`.
 */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1) return `${trim((ms * 1000).toFixed(3))}µs`;
  if (ms < 1000) return `${trim(ms.toFixed(6))}ms`;
  return `${trim((ms / 1000).toFixed(9))}s`;
}

function trim(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** Bytes as protobuf's text format quotes them: printable ASCII as is, the rest octal-escaped. */
function quoted(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** The request as etcd prints it in the warning: its fields, with values replaced by their size. */
function describeRange(r: RangeRequest): string {
  let text = `key:${quoted(r.key)} `;
  if (r.rangeEnd.length > 0) text += `range_end:${quoted(r.rangeEnd)} `;
  if (r.limit !== 0n) text += `limit:${r.limit} `;
  if (r.revision !== 0n) text += `revision:${r.revision} `;
  if (r.serializable) text += 'serializable:true ';
  if (r.keysOnly) text += 'keys_only:true ';
  if (r.countOnly) text += 'count_only:true ';
  return text;
}

function describePut(r: PutRequest): string {
  let text = `key:${quoted(r.key)} value_size:${r.value.length} `;
  if (r.lease !== 0n) text += `lease:${r.lease} `;
  if (r.prevKv) text += 'prev_kv:true ';
  return text;
}

function describeDelete(r: DeleteRangeRequest): string {
  let text = `key:${quoted(r.key)} `;
  if (r.rangeEnd.length > 0) text += `range_end:${quoted(r.rangeEnd)} `;
  if (r.prevKv) text += 'prev_kv:true ';
  return text;
}

function describeOp(op: RequestOp): string {
  const r = op.request;
  switch (r?.$case) {
    case 'requestRange':
      return `request_range:<${describeRange(r.value)}> `;
    case 'requestPut':
      return `request_put:<${describePut(r.value)}> `;
    case 'requestDeleteRange':
      return `request_delete_range:<${describeDelete(r.value)}> `;
    case 'requestTxn':
      return `request_txn:<${describeTxn(r.value)}> `;
    default:
      return '';
  }
}

function describeTxn(r: TxnRequest): string {
  let text = '';
  for (const c of r.compare) text += `compare:<key:${quoted(c.key)} > `;
  text += `success:<${r.success.map(describeOp).join('')}> `;
  text += `failure:<${r.failure.map(describeOp).join('')}>`;
  return text;
}

function isReadOnlyTxn(r: TxnRequest): boolean {
  return [...r.success, ...r.failure].every(
    op =>
      op.request?.$case === 'requestRange' ||
      (op.request?.$case === 'requestTxn' && isReadOnlyTxn(op.request.value)),
  );
}

/**
 * Logs client requests slower than `--warning-apply-duration` the way etcd does: a warning
 * `apply request took too long` with `took`, `expected-duration`, `prefix` (`read-only range `
 * for reads), `request` and `response` (sizes, not values), then the request's trace at info:
 * `trace[<n>] <operation>` with `detail`, `duration`, `start`, `end` and the steps that took
 * longer than their share of the threshold, as etcd's `traceutil` prints them.
 *
 * It measures each KV call from the moment the handler is called to its answer, on the member
 * that served it; etcd logs writes when each member applies them, which this does not see.
 */
export class SlowRequestLog {
  private traceNumber = 0;

  constructor(private readonly options: SlowRequestLogOptions) {}

  /** The KV service with every call timed, traced and, when slow, logged. */
  kvService(kv: KVServiceImplementation): KVServiceImplementation {
    return {
      range: (request, context) =>
        this.timed(
          'range',
          'read-only range ',
          context,
          () => kv.range(request, context),
          () => describeRange(request),
          response =>
            `range_response_count:${response.kvs?.length ?? 0} size:${RangeResponse.encode(RangeResponse.fromPartial(response)).finish().length}`,
          response =>
            `{range_begin:${request.key.toString('latin1')}; range_end:${request.rangeEnd.toString('latin1')}; response_count:${response.kvs?.length ?? 0}; response_revision:${String(response.header?.revision ?? 0)}; }`,
        ),
      put: (request, context) =>
        this.timed(
          'put',
          '',
          context,
          () => kv.put(request, context),
          () => describePut(request),
          response =>
            `size:${PutResponse.encode(PutResponse.fromPartial(response)).finish().length}`,
          response =>
            `{key:${request.key.toString('latin1')}; req_size:${request.key.length + request.value.length}; response_revision:${String(response.header?.revision ?? 0)}; }`,
        ),
      deleteRange: (request, context) =>
        this.timed(
          'delete_range',
          '',
          context,
          () => kv.deleteRange(request, context),
          () => describeDelete(request),
          response =>
            `size:${DeleteRangeResponse.encode(DeleteRangeResponse.fromPartial(response)).finish().length}`,
          response =>
            `{key:${request.key.toString('latin1')}; range_end:${request.rangeEnd.toString('latin1')}; response_revision:${String(response.header?.revision ?? 0)}; }`,
        ),
      txn: (request, context) =>
        this.timed(
          'transaction',
          isReadOnlyTxn(request) ? 'read-only txn ' : '',
          context,
          () => kv.txn(request, context),
          () => describeTxn(request),
          response =>
            `size:${TxnResponse.encode(TxnResponse.fromPartial(response)).finish().length}`,
          response =>
            `{read_only:${String(isReadOnlyTxn(request))}; number_of_response:${response.responses?.length ?? 0}; response_revision:${String(response.header?.revision ?? 0)}; }`,
        ),
      compact: (request: CompactionRequest, context) =>
        this.timed(
          'compact',
          '',
          context,
          () => kv.compact(request, context),
          () => `revision:${request.revision} ${request.physical ? 'physical:true ' : ''}`,
          response =>
            `size:${CompactionResponse.encode(CompactionResponse.fromPartial(response)).finish().length}`,
          () => `{revision:${request.revision}; }`,
        ),
    };
  }

  private async timed<Response>(
    operation: string,
    prefix: string,
    context: object,
    call: () => Promise<Response>,
    request: () => string,
    response: (r: Response) => string,
    detail: (r: Response) => string,
  ): Promise<Response> {
    const {nowMs, thresholdMs} = this.options;
    const trace = new RequestTrace(operation, nowMs(), nowMs);
    traceRequest(context, trace);
    let answer: Response | undefined;
    let failure: unknown;
    try {
      answer = await call();
      return answer;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const tookMs = nowMs() - trace.startedMs;
      if (tookMs > thresholdMs) {
        this.options.onSlow();
        this.warn(tookMs, prefix, request(), answer, failure, response);
        this.logTrace(trace, tookMs, answer === undefined ? '{}' : detail(answer));
      }
    }
  }

  private warn<Response>(
    tookMs: number,
    prefix: string,
    request: string,
    answer: Response | undefined,
    failure: unknown,
    response: (r: Response) => string,
  ): void {
    const fields: Record<string, string> = {
      took: goDuration(tookMs),
      'expected-duration': goDuration(this.options.thresholdMs),
      prefix,
      request,
    };
    if (answer !== undefined) fields.response = response(answer);
    else fields.error = failure instanceof Error ? failure.message : String(failure);
    this.options.logger.warn(fields, 'apply request took too long');
  }

  /** etcd's `LogIfLong`: the steps longer than the threshold shared among them all. */
  private logTrace(trace: RequestTrace, tookMs: number, detail: string): void {
    const n = (this.traceNumber = (this.traceNumber + 1) % 2 ** 31);
    const stepThresholdMs = this.options.thresholdMs / (trace.steps.length + 1);
    const steps: string[] = [];
    let lastMs = trace.startedMs;
    for (const step of trace.steps) {
      const durationMs = step.atMs - lastMs;
      if (durationMs > stepThresholdMs) {
        steps.push(`trace[${n}] '${step.name}'  (duration: ${goDuration(durationMs)})`);
      }
      lastMs = step.atMs;
    }
    const endMs = this.options.wallMs();
    this.options.logger.info(
      {
        detail,
        duration: goDuration(tookMs),
        start: new Date(endMs - tookMs).toISOString(),
        end: new Date(endMs).toISOString(),
        steps,
        step_count: steps.length,
      },
      `trace[${n}] ${trace.operation}`,
    );
  }
}
