import {setMaxListeners} from 'node:events';

import {Pacer} from './pacer.js';
import type {Recorder} from './result.js';

/** Runs one request for client number `client` and says which kind of operation it was. */
export type Operation = (client: number, signal: AbortSignal) => Promise<string>;

/** How long requests still in flight at the end of a run may take before they are aborted. */
const drainTimeoutMs = 30_000;

export interface LoopLimits {
  readonly clients: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly total: number | undefined;
}

/**
 * Runs `clients` loops, each sending one request at a time, paced together at `rate`, until
 * `total` requests were sent or `durationMs` passed. Latency runs from just before a request
 * is sent to its answer, as etcd's benchmark measures it (so a server slower than the rate
 * shows as lower throughput, not as queueing delay). Returns the elapsed wall time.
 */
export async function runClosedLoop(
  limits: LoopLimits,
  recorder: Recorder,
  operation: Operation,
): Promise<number> {
  const pacer = new Pacer(limits.rate);
  const abort = new AbortController();
  // Every request in flight listens on the one signal.
  setMaxListeners(0, abort.signal);
  let issued = 0;
  let stopped = false;
  // A function, so that the check after an await is not narrowed away.
  const isStopped = (): boolean => stopped;
  const startNs = process.hrtime.bigint();
  // The run ends with the last answer, not when paced clients waiting for a slot give up.
  let lastAnswerNs = startNs;
  const drain = (): void => {
    stopped = true;
    setTimeout(() => {
      abort.abort();
    }, drainTimeoutMs).unref();
  };
  const timer = limits.total === undefined ? setTimeout(drain, limits.durationMs) : undefined;
  await Promise.all(
    Array.from({length: limits.clients}, async (_, client) => {
      for (;;) {
        if (isStopped()) return;
        if (limits.total !== undefined) {
          if (issued >= limits.total) return;
          issued += 1;
        }
        await pacer.next();
        if (isStopped()) return;
        const sentNs = process.hrtime.bigint();
        try {
          const kind = await operation(client, abort.signal);
          recorder.histogram(kind).recordSince(sentNs);
          recorder.ops += 1;
        } catch (error) {
          recorder.recordError(error);
        }
        lastAnswerNs = process.hrtime.bigint();
      }
    }),
  );
  clearTimeout(timer);
  stopped = true;
  // Ends the streams operations keep open (lease keep-alives).
  abort.abort();
  return Number(lastAnswerNs - startNs);
}
