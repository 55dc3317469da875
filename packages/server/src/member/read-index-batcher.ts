import type {Clock, TimerHandle} from './clock.js';

/** A batch of linearizable reads that share one ReadIndex round. */
interface Batch {
  readonly ctx: Uint8Array;
  readonly key: string;
  readonly waiters: {resolve: () => void; reject: (e: unknown) => void}[];
  readonly deadline: number;
  retryTimer: TimerHandle | undefined;
  /** Set once the leader has answered: the index the state must reach. */
  readIndex: number | undefined;
}

/** What the batcher needs from the member. */
export interface ReadIndexSource {
  /** Asks raft for a read index for `ctx`; throws when raft cannot take it now. */
  requestReadIndex(ctx: Uint8Array): void;
  appliedIndex(): number;
  /** Told when a round got no answer in time and is asked again (etcd's slow read index). */
  readIndexSlow?(): void;
  /** Told when raft could not take a ReadIndex request (etcd's failed read index). */
  readIndexFailed?(): void;
}

/**
 * Linearizable reads, batched: every read that arrives during one event-loop
 * turn joins one ReadIndex request (Raft thesis §6.4). The leader confirms it is
 * still leader with a heartbeat round and answers with its commit index; once
 * this member has applied up to that index, every read of the batch may be
 * served from local state. A read never joins a round that began before it
 * arrived, or it could miss a write that completed before it was issued.
 *
 * A round that gets no answer (the leader changed, or there is none) is asked
 * again every `retryMs` until the read's deadline, when it fails with
 * `timeoutError()`.
 */
export class ReadIndexBatcher {
  private next: Batch['waiters'] = [];
  private flushScheduled = false;
  private counter = 0n;
  private readonly inFlight = new Map<string, Batch>();
  private readonly waitingApply: Batch[] = [];

  constructor(
    private readonly source: ReadIndexSource,
    private readonly timeoutMs: number,
    private readonly retryMs: number,
    private readonly timeoutError: () => Error,
    private readonly clock: Clock,
    /**
     * A fresh id for each read's context. The leader keeps one pending read per context and
     * drops a second with the same bytes, so contexts must differ across members, not only
     * within one: the member passes its cluster-unique request ids. A local counter otherwise.
     */
    private readonly nextId: () => bigint = () => (this.counter += 1n),
  ) {}

  /** Resolves when a read that starts now may be served from this member's state. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.next.push({resolve, reject});
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.clock.soon(() => {
          this.flush();
        });
      }
    });
  }

  /** Delivers raft's answer to a ReadIndex request. */
  onReadState(index: number, ctx: Uint8Array): void {
    const key = Buffer.from(ctx).toString('hex');
    const batch = this.inFlight.get(key);
    if (batch === undefined) return;
    this.inFlight.delete(key);
    this.clock.clearTimer(batch.retryTimer);
    batch.readIndex = index;
    if (this.source.appliedIndex() >= index) {
      this.settle(batch);
    } else {
      this.waitingApply.push(batch);
    }
  }

  /** Tells the batcher the member has applied up to `index`. */
  onApplied(index: number): void {
    if (this.waitingApply.length === 0) return;
    const ready: Batch[] = [];
    let w = 0;
    for (const batch of this.waitingApply) {
      if ((batch.readIndex ?? Infinity) <= index) ready.push(batch);
      else this.waitingApply[w++] = batch;
    }
    this.waitingApply.length = w;
    for (const batch of ready) this.settle(batch);
  }

  /** Fails every pending read, e.g. when the member stops. */
  failAll(error: unknown): void {
    const waiters = [
      ...this.next,
      ...[...this.inFlight.values(), ...this.waitingApply].flatMap(b => b.waiters),
    ];
    for (const b of this.inFlight.values()) this.clock.clearTimer(b.retryTimer);
    this.next = [];
    this.inFlight.clear();
    this.waitingApply.length = 0;
    for (const w of waiters) w.reject(error);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.next.length === 0) return;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, this.nextId());
    const batch: Batch = {
      ctx,
      key: Buffer.from(ctx).toString('hex'),
      waiters: this.next,
      deadline: this.clock.monotonicMs() + this.timeoutMs,
      retryTimer: undefined,
      readIndex: undefined,
    };
    this.next = [];
    this.inFlight.set(batch.key, batch);
    this.ask(batch);
  }

  private ask(batch: Batch): void {
    try {
      this.source.requestReadIndex(batch.ctx);
    } catch {
      // No leader to ask right now: the retry below asks again.
      this.source.readIndexFailed?.();
    }
    const remaining = batch.deadline - this.clock.monotonicMs();
    if (remaining <= 0) {
      this.inFlight.delete(batch.key);
      for (const w of batch.waiters) w.reject(this.timeoutError());
      return;
    }
    batch.retryTimer = this.clock.setTimeout(
      () => {
        if (!this.inFlight.has(batch.key)) return;
        this.source.readIndexSlow?.();
        this.ask(batch);
      },
      Math.min(this.retryMs, remaining),
    );
  }

  private settle(batch: Batch): void {
    for (const w of batch.waiters) w.resolve();
  }
}
