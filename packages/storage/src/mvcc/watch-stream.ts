import type {KvEvent} from './key-value.js';
import {ErrorMessages, StorageError} from './storage-error.js';

/** Numbering as etcd's `WatchCreateRequest.FilterType`. */
export enum WatchFilter {
  NoPut = 0,
  NoDelete = 1,
}

export interface WatchRequest {
  readonly key: Uint8Array;
  /** As in ranges: absent/empty = one key, `\0` = every key >= key. */
  readonly rangeEnd?: Uint8Array;
  /**
   * First revision to deliver (inclusive); 0 or absent = only future changes. A negative
   * start is older than any compaction: the watcher is canceled as compacted, as in etcd.
   */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly filters?: readonly WatchFilter[];
  /** 0 or absent = the stream picks the next free id. */
  readonly watchId?: number;
}

/** What a watcher receives, mapped to etcd's `WatchResponse` by the server. */
export interface WatchResponse {
  readonly watchId: number;
  /** Whole revisions, in revision order. */
  readonly events: readonly KvEvent[];
  /** Store revision at the time of sending (the header revision). */
  readonly revision: number;
  /** Set with `canceled` when the watcher's start revision was compacted. */
  readonly compactRevision: number;
  readonly canceled: boolean;
}

/** @internal what the watchable store needs from a stream. */
export interface WatchHub {
  register(stream: WatchStream, id: number, req: WatchRequest): void;
  unregister(stream: WatchStream, id: number): void;
  /** A consumer made room: parked responses can be retried. */
  drained(): void;
  /** Revision up to which every watcher of the stream is synced, or undefined. */
  progress(stream: WatchStream): number | undefined;
}

/**
 * One client's watch stream: many watchers, one bounded queue of responses. When the queue
 * is full the store parks the watcher's next response and retries later; the apply path never
 * waits for a consumer.
 */
export class WatchStream {
  private readonly queue: WatchResponse[] = [];
  private readonly ids = new Set<number>();
  private nextId = 0;
  private waiter: (() => void) | undefined;
  private closed = false;

  /** @internal */
  constructor(
    private readonly hub: WatchHub,
    readonly capacity: number,
  ) {}

  /**
   * Starts a watcher; returns its id. Throws "mvcc: watcher range is empty" if `key >=
   * rangeEnd`, and etcd's duplicate-id error for an id in use.
   */
  watch(req: WatchRequest): number {
    if (this.closed) throw new Error('watch stream is closed');
    const end = req.rangeEnd;
    if (end !== undefined && end.length > 0 && !(end.length === 1 && end[0] === 0)) {
      if (Buffer.compare(req.key, end) >= 0) {
        throw new StorageError('InvalidArgument', ErrorMessages.watcherRangeEmpty);
      }
    }
    let id = req.watchId ?? 0;
    if (id === 0) {
      while (this.ids.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.ids.has(id)) {
      throw new StorageError(
        'InvalidArgument',
        'mvcc: duplicate watch ID provided on the WatchStream',
      );
    }
    this.ids.add(id);
    this.hub.register(this, id, req);
    return id;
  }

  /** Stops a watcher; false if the id is unknown. */
  cancel(id: number): boolean {
    if (!this.ids.delete(id)) return false;
    this.hub.unregister(this, id);
    return true;
  }

  /**
   * Queues an empty response with the current revision (etcd's progress notification) if all
   * watchers of the stream are synced; returns whether it did.
   */
  requestProgress(): boolean {
    const rev = this.hub.progress(this);
    if (rev === undefined) return false;
    this.enqueue(
      {watchId: -1, events: [], revision: rev, compactRevision: 0, canceled: false},
      true,
    );
    return true;
  }

  /** Events in the queued responses (etcd's pending events). */
  get queuedEvents(): number {
    let n = 0;
    for (const r of this.queue) n += r.events.length;
    return n;
  }

  /** Takes every queued response. */
  drain(): WatchResponse[] {
    const out = this.queue.splice(0);
    if (out.length > 0) this.hub.drained();
    return out;
  }

  /**
   * Sets the one function called whenever a response is queued and when the stream closes
   * (undefined removes it). For a consumer that {@link drain}s the queue itself; a stream has
   * one consumer, so this cannot be combined with {@link responses}.
   */
  onReadable(listener: (() => void) | undefined): void {
    this.waiter = listener;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Responses as they come, until the stream is closed or `signal` aborts. */
  async *responses(signal?: AbortSignal): AsyncGenerator<WatchResponse> {
    let wake: (() => void) | undefined;
    const onEvent = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    this.waiter = onEvent;
    signal?.addEventListener('abort', onEvent);
    try {
      while (!this.closed && signal?.aborted !== true) {
        const batch = this.drain();
        if (batch.length === 0) {
          await new Promise<void>(resolve => (wake = resolve));
          continue;
        }
        yield* batch;
      }
    } finally {
      signal?.removeEventListener('abort', onEvent);
      if (this.waiter === onEvent) this.waiter = undefined;
    }
  }

  /** Cancels every watcher and ends {@link responses}. */
  close(): void {
    if (this.closed) return;
    for (const id of [...this.ids]) this.cancel(id);
    this.closed = true;
    this.waiter?.();
  }

  get watcherIds(): readonly number[] {
    return [...this.ids];
  }

  /**
   * @internal Queues a response; false (and nothing queued) if the queue is full, unless
   * `force` (for final cancel responses, at most one per watcher).
   */
  enqueue(resp: WatchResponse, force = false): boolean {
    if (this.closed) return true;
    if (!force && this.queue.length >= this.capacity) return false;
    this.queue.push(resp);
    this.waiter?.();
    return true;
  }

  /** @internal the store dropped a watcher on its own (compaction). */
  forget(id: number): void {
    this.ids.delete(id);
  }
}
