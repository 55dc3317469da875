import type {RawGrpcResult} from '@synod/testing';

/** What one server did with one input, reduced to what the comparison looks at. */
export interface Outcome {
  readonly status: number | undefined;
  readonly message: string;
  readonly timedOut: boolean;
  readonly resetCode: number | undefined;
  readonly httpStatus: number | undefined;
}

/** How an input's two outcomes compare. */
export type OutcomeClass =
  | 'same'
  | 'different status'
  | 'different message only'
  | 'Synod timed out'
  | 'etcd timed out'
  | 'etcd crashes'
  | 'Synod crashes'
  | 'not compared'
  | 'skipped';

/** The classes in the order the summary prints them. */
export const outcomeClasses: readonly OutcomeClass[] = [
  'same',
  'different status',
  'different message only',
  'Synod timed out',
  'etcd timed out',
  'etcd crashes',
  'Synod crashes',
  'not compared',
  'skipped',
];

const statusNames = [
  'OK',
  'Cancelled',
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
];

/**
 * The normalisation rules, all in one place. Outcomes are compared after:
 *
 * 1. Member and cluster ids, which differ between any two clusters, are replaced by
 *    `<member id>` in messages (etcd prints them in hex, as "member 8e9e05c52164694d").
 * 2. A call left open past its deadline is "open"; for methods that may legitimately wait
 *    (Watch, LeaseKeepAlive, Lock, Campaign, Observe) both servers leaving it open is the
 *    same outcome.
 * 3. A call that ended without a grpc-status is described by how it ended: a stream reset
 *    (with its HTTP/2 error code) or an HTTP status without grpc-status.
 * 4. The message of status OK is dropped: grpc-go sends none, grpc-js sends "OK", and no
 *    client reads it.
 *
 * Nothing else is normalised: the message text is compared exactly, since etcd's messages
 * are part of the API clients match on.
 */
export function normaliseMessage(message: string, memberIdsHex: readonly string[]): string {
  let out = message;
  for (const id of memberIdsHex) out = out.split(id).join('<member id>');
  return out;
}

export function toOutcome(result: RawGrpcResult, memberIdsHex: readonly string[]): Outcome {
  return {
    status: result.status,
    message: result.status === 0 ? '' : normaliseMessage(result.message, memberIdsHex),
    timedOut: result.timedOut,
    resetCode: result.resetCode,
    httpStatus: result.httpStatus,
  };
}

/** The outcome as the summary prints it: `InvalidArgument "etcdserver: key is not provided"`. */
export function describeOutcome(outcome: Outcome | undefined, width = 90): string {
  if (outcome === undefined) return '-';
  if (outcome.timedOut)
    return outcome.status === undefined ? 'open (no status by the deadline)' : 'open';
  if (outcome.status === undefined) {
    if (outcome.resetCode !== undefined) return `stream reset (HTTP/2 code ${outcome.resetCode})`;
    if (outcome.message !== '') return outcome.message;
    return outcome.httpStatus === undefined
      ? 'connection closed, no answer'
      : `HTTP ${outcome.httpStatus}, no grpc-status`;
  }
  const name = statusNames[outcome.status] ?? `status ${outcome.status}`;
  if (outcome.message === '') return name;
  const text =
    outcome.message.length > width ? `${outcome.message.slice(0, width - 1)}…` : outcome.message;
  return `${name} "${text}"`;
}

function statusKey(o: Outcome): string {
  if (o.timedOut) return 'open';
  if (o.status !== undefined) return `status ${o.status}`;
  return o.resetCode !== undefined ? `reset ${o.resetCode}` : `http ${o.httpStatus ?? '-'}`;
}

/** Compares etcd's and Synod's outcomes for one input. */
export function classify(etcd: Outcome, synod: Outcome): OutcomeClass {
  if (synod.timedOut && !etcd.timedOut) return 'Synod timed out';
  if (etcd.timedOut && !synod.timedOut) return 'etcd timed out';
  if (statusKey(etcd) !== statusKey(synod)) return 'different status';
  if (etcd.message !== synod.message) return 'different message only';
  return 'same';
}
