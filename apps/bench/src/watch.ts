import {setMaxListeners} from 'node:events';

import {WatchRequest} from '@synod/proto';
import type {WatchResponse} from '@synod/proto';

import {AsyncQueue} from './async-queue.js';
import {runClosedLoop} from './closed-loop.js';
import type {Connections} from './connections.js';
import {DeliveryCheck, endMarkerValue, writerValue} from './delivery-check.js';
import {KeySource, prefixEnd} from './key-source.js';
import type {BenchOptions} from './options.js';
import type {Recorder} from './result.js';
import type {WorkerShare} from './share.js';

/** How long watchers wait for the last events after the writer should have finished. */
const settleTimeoutMs = 30_000;

/**
 * The watch workload. Every watcher has its own stream and watches the whole prefix. The
 * writer (in worker 0 only) puts values `"<seq> <hrtime ns>"` at the target rate, then one
 * end marker `"end <count>"`. A watcher measures put-to-delivery latency from the embedded
 * time (the monotonic clock is shared by the processes of one machine) and checks:
 * revisions strictly increase (in order, no duplicate), no sequence number arrives twice,
 * and on the end marker, every one of the `count` sequence numbers has arrived.
 */
export class WatchWorkload {
  private readonly watchers: Watcher[] = [];
  private readonly abort = new AbortController();

  constructor(
    private readonly options: BenchOptions,
    private readonly share: WorkerShare,
    private readonly conns: Connections,
    private readonly recorder: Recorder,
  ) {
    setMaxListeners(0, this.abort.signal);
  }

  /** Opens every watcher and resolves once the server confirmed all of them. */
  async prepare(): Promise<void> {
    const prefix = Buffer.from(this.options.prefix);
    for (let i = 0; i < this.options.watchers; i++) {
      const watcher = new Watcher(
        `watcher ${this.share.index}.${i}`,
        this.recorder,
        this.abort.signal,
      );
      watcher.open(this.conns.of(i), prefix, prefixEnd(prefix));
      this.watchers.push(watcher);
    }
    await Promise.all(this.watchers.map(w => w.created));
  }

  /**
   * Runs the writer (worker 0) and waits until every watcher saw the end marker. Returns the
   * writer's run time (0 in a process without the writer), so that throughput is the
   * writer's.
   */
  async run(): Promise<number> {
    let writerNs = 0;
    const options = this.options;
    if (this.share.index === 0) {
      const keys = new KeySource(
        options.prefix,
        options.keySize,
        options.keySpace,
        options.sequentialKeys,
      );
      let nextSeq = 0;
      writerNs = await runClosedLoop(options, this.recorder, async (client, signal) => {
        const seq = nextSeq++;
        const value = writerValue(seq, process.hrtime.bigint(), options.valSize);
        await this.conns
          .of(client)
          .kv.put({key: keys.keyOf(seq % options.keySpace), value}, {signal});
        return 'put';
      });
      // The marker's revision follows every put's, so a watcher that sees it saw them all.
      const marker = Buffer.from(`${options.prefix}~end`);
      await this.conns.of(0).kv.put({key: marker, value: endMarkerValue(this.recorder.ops)});
    }
    const expectedMs =
      options.total !== undefined && options.rate > 0
        ? (options.total / options.rate) * 1000
        : options.durationMs;
    const deadline = setTimeout(() => {
      this.abort.abort();
    }, expectedMs + settleTimeoutMs);
    await Promise.all(this.watchers.map(w => w.done));
    clearTimeout(deadline);
    this.abort.abort();
    for (const w of this.watchers) w.report();
    return writerNs;
  }

  close(): void {
    this.abort.abort();
  }
}

class Watcher {
  created: Promise<void>;
  done: Promise<void> = Promise.resolve();
  private resolveCreated: () => void = () => undefined;
  private rejectCreated: (error: unknown) => void = () => undefined;
  private readonly check: DeliveryCheck;
  private readonly stop = new AbortController();

  constructor(
    private readonly name: string,
    private readonly recorder: Recorder,
    signal: AbortSignal,
  ) {
    this.check = new DeliveryCheck(name, recorder);
    this.created = new Promise((resolve, reject) => {
      this.resolveCreated = resolve;
      this.rejectCreated = reject;
    });
    signal.addEventListener('abort', () => {
      this.stop.abort();
    });
  }

  open(conn: Connections['all'][number], key: Buffer, rangeEnd: Buffer): void {
    const requests = new AsyncQueue<WatchRequest>(this.stop.signal);
    requests.push(
      WatchRequest.fromPartial({requestUnion: {$case: 'createRequest', value: {key, rangeEnd}}}),
    );
    const responses = conn.watch.watch(requests, {signal: this.stop.signal});
    this.done = this.consume(responses);
  }

  private async consume(responses: AsyncIterable<WatchResponse>): Promise<void> {
    try {
      for await (const response of responses) {
        if (response.created) this.resolveCreated();
        if (response.canceled) {
          this.recorder.violation(
            'watchCanceled',
            `${this.name}: canceled by the server: ${response.cancelReason}`,
          );
          break;
        }
        if (this.handleEvents(response)) break;
      }
    } catch (error) {
      if (!this.stop.signal.aborted) {
        this.recorder.recordError(error);
        this.rejectCreated(error);
      }
    } finally {
      this.stop.abort();
      this.resolveCreated();
    }
  }

  /** Returns true once the end marker arrived. */
  private handleEvents(response: WatchResponse): boolean {
    const nowNs = process.hrtime.bigint();
    for (const event of response.events) {
      const kv = event.kv;
      if (kv !== undefined && this.check.observe(kv.modRevision, kv.value, nowNs)) return true;
    }
    return false;
  }

  /** Counts what never arrived. */
  report(): void {
    this.check.finish();
  }
}
