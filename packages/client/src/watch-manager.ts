import {Event_EventType, WatchCreateRequest_FilterType} from '@synod/proto';
import type {DeepPartial, Event, ResponseHeader, WatchRequest, WatchResponse} from '@synod/proto';
import {delay, isAbortError} from 'abort-controller-x';
import {Status} from 'nice-grpc';

import {AsyncQueue} from './async-queue.js';
import {backoffDelayMs} from './backoff.js';
import type {Int64Like} from './compare.js';
import {toInt64} from './compare.js';
import type {ConnectionPool, Endpoint} from './connection-pool.js';
import {
  CompactedError,
  EtcdError,
  InvalidAuthTokenError,
  etcdErrorFromStatus,
  toEtcdError,
} from './errors.js';
import type {KeySelector, KeySpace} from './key-space.js';
import type {KeyValue} from './key-value.js';
import {headerOf} from './ops.js';

/** Events a watch can leave out on the server side. */
export type WatchFilter = 'noPut' | 'noDelete';

/** Options of a watch. */
export interface WatchOptions {
  /**
   * First revision to report, inclusive. Omitted: changes after the watch is created. To
   * see everything after a read, pass the read's `header.revision + 1n`.
   */
  readonly startRevision?: Int64Like;
  /** Attach the previous key-value to each event (when not compacted). */
  readonly prevKv?: boolean;
  /** Leave out puts or deletes. */
  readonly filters?: readonly WatchFilter[];
  /**
   * Ask the server for periodic progress notifications (every 10 minutes in etcd) while
   * there are no events; they arrive as batches with `progressNotify: true` and no events.
   */
  readonly progressNotify?: boolean;
  /**
   * Let the server split a response larger than its request size limit into fragments,
   * which the client joins back into one batch. Off by default: the client accepts large
   * messages, and etcd's fragmenting is slow on big catch-ups.
   */
  readonly fragment?: boolean;
}

/** One change of a watched key. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** The key after the change; for a delete only `key` and `modRevision` are set. */
  readonly kv: KeyValue;
  /** The key before the change, when asked for with `prevKv`. */
  readonly prevKv: KeyValue | undefined;
}

/** The events of one or more revisions, delivered together, in revision order. */
export interface WatchBatch {
  readonly header: ResponseHeader;
  readonly events: readonly WatchEvent[];
  /**
   * A progress notification: no events, and every event up to `header.revision` has
   * been delivered.
   */
  readonly progressNotify: boolean;
}

/** @internal One watcher as the manager tracks it. */
export interface WatcherState {
  readonly space: KeySpace;
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
  readonly options: WatchOptions;
  /**
   * The first revision not yet delivered; 0n until a watch "from now" is created.
   * Invariant: every event below it was delivered exactly once.
   */
  nextRevision: bigint;
  /** The server's id on the current stream; undefined until created there. */
  id: bigint | undefined;
  closed: boolean;
  /** Events of a fragmented response, held until its last fragment. */
  fragments: Event[];
  readonly next: (batch: WatchBatch) => void;
  readonly error: (error: Error) => void;
  readonly complete: () => void;
}

interface Session {
  readonly endpoint: Endpoint;
  readonly requests: AsyncQueue<DeepPartial<WatchRequest>>;
  readonly controller: AbortController;
  token: string | undefined;
}

const filterTypes: Record<WatchFilter, WatchCreateRequest_FilterType> = {
  noPut: WatchCreateRequest_FilterType.NOPUT,
  noDelete: WatchCreateRequest_FilterType.NODELETE,
};

/**
 * @internal All watches of one client, multiplexed on one bidi Watch stream.
 *
 * The stream is opened when the first watcher arrives and closed when the last leaves.
 * Watchers are created in order and the server answers creates in order, so create
 * replies are matched to watchers first-in first-out (as etcd's Go client does).
 *
 * When the stream fails (member down, leader lost: the stream carries `hasleader`, so a
 * member without a leader ends it), the manager opens a new one, on another endpoint if
 * the failure was UNAVAILABLE, and re-creates every watcher from its `nextRevision`.
 * Events below `nextRevision` are dropped, so nothing is delivered twice; nothing is
 * lost, because each watcher resumes at the first revision it has not seen.
 */
export class WatchManager {
  private readonly watchers = new Set<WatcherState>();
  private readonly byId = new Map<bigint, WatcherState>();
  private pendingCreates: WatcherState[] = [];
  private session: Session | undefined;
  private running = false;
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(private readonly pool: ConnectionPool) {}

  /** Starts a watcher. */
  add(
    space: KeySpace,
    selector: KeySelector,
    options: WatchOptions,
    sink: Pick<WatcherState, 'next' | 'error' | 'complete'>,
  ): WatcherState {
    const {key, rangeEnd} = space.range(selector);
    const state: WatcherState = {
      space,
      // etcd rewrites an empty watch key to "\0"; do it here so a resume sends the same.
      key: key.length === 0 ? Buffer.from([0]) : key,
      rangeEnd,
      options,
      nextRevision:
        options.startRevision === undefined ? 0n : toInt64(options.startRevision, 'startRevision'),
      id: undefined,
      closed: false,
      fragments: [],
      ...sink,
    };
    if (this.closed) {
      state.complete();
      return state;
    }
    this.watchers.add(state);
    if (this.session !== undefined) this.sendCreate(this.session, state);
    this.ensureRunning();
    return state;
  }

  /** Stops a watcher (on unsubscribe). */
  remove(state: WatcherState): void {
    if (state.closed) return;
    state.closed = true;
    this.watchers.delete(state);
    const session = this.session;
    if (state.id !== undefined) {
      this.byId.delete(state.id);
      session?.requests.push({requestUnion: {$case: 'cancelRequest', value: {watchId: state.id}}});
    }
    if (this.watchers.size === 0) session?.controller.abort();
  }

  /**
   * Asks the server to report progress to every watcher of the stream: each then gets a
   * batch with `progressNotify: true` once every event up to its revision was delivered.
   */
  requestProgress(): void {
    this.session?.requests.push({requestUnion: {$case: 'progressRequest', value: {}}});
  }

  /** Completes every watcher and closes the stream. */
  close(): void {
    this.closed = true;
    this.closeController.abort();
    this.session?.controller.abort();
    for (const state of [...this.watchers]) {
      this.remove(state);
      state.complete();
    }
  }

  /** Whether the stream loop should end: closed, or nothing left to serve. */
  private get stopping(): boolean {
    return this.closed || this.watchers.size === 0;
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (!this.closed && this.watchers.size > 0) this.ensureRunning();
    });
  }

  private sendCreate(session: Session, state: WatcherState): void {
    this.pendingCreates.push(state);
    state.id = undefined;
    state.fragments = [];
    session.requests.push({
      requestUnion: {
        $case: 'createRequest',
        value: {
          key: state.key,
          rangeEnd: state.rangeEnd,
          startRevision: state.nextRevision,
          progressNotify: state.options.progressNotify ?? false,
          filters: (state.options.filters ?? []).map(f => filterTypes[f]),
          prevKv: state.options.prevKv ?? false,
          fragment: state.options.fragment ?? false,
        },
      },
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed && this.watchers.size > 0) {
      const endpoint = this.pool.current();
      const session: Session = {
        endpoint,
        requests: new AsyncQueue(),
        controller: new AbortController(),
        token: undefined,
      };
      this.session = session;
      this.byId.clear();
      this.pendingCreates = [];
      for (const state of this.watchers) this.sendCreate(session, state);
      const signal = session.controller.signal;
      try {
        const metadata = await this.pool.metadata(endpoint, signal, {hasleader: 'true'});
        session.token = metadata.get('token');
        const responses = endpoint.clients.watch.watch(session.requests, {signal, metadata});
        for await (const response of responses) {
          attempt = 0;
          this.pool.reportSuccess(endpoint);
          this.handle(session, response);
        }
        // A stream the server ended cleanly is reopened like a failed one.
      } catch (thrown) {
        if (!(isAbortError(thrown) && this.stopping)) {
          this.handleStreamError(session, toEtcdError(thrown));
        }
      } finally {
        session.controller.abort();
        session.requests.end();
        if (this.session === session) this.session = undefined;
      }
      if (this.stopping) break;
      try {
        await delay(
          this.closeController.signal,
          backoffDelayMs(attempt++, this.pool.settings.backoff),
        );
      } catch {
        break;
      }
    }
  }

  private handleStreamError(session: Session, error: unknown): void {
    if (error instanceof InvalidAuthTokenError) {
      this.pool.invalidateToken(session.endpoint, session.token);
      return;
    }
    if (error instanceof EtcdError && !error.unavailable && error.code !== Status.CANCELLED) {
      // Not a fault another attempt can cure (bad credentials, say): tell the watchers.
      for (const state of [...this.watchers]) this.fail(state, error);
      return;
    }
    this.pool.reportFailure(session.endpoint);
  }

  private fail(state: WatcherState, error: Error): void {
    this.remove(state);
    state.error(error);
  }

  private handle(session: Session, response: WatchResponse): void {
    const header = headerOf(response.header);
    if (response.created) {
      const state = this.pendingCreates.shift();
      if (state === undefined) return;
      if (response.canceled || response.watchId === -1n) {
        this.failCreate(session, state, response);
        return;
      }
      state.id = response.watchId;
      if (state.closed) {
        session.requests.push({
          requestUnion: {$case: 'cancelRequest', value: {watchId: response.watchId}},
        });
        return;
      }
      this.byId.set(response.watchId, state);
      if (state.nextRevision === 0n) state.nextRevision = header.revision + 1n;
      if (response.events.length > 0) this.deliver(state, response.events, header);
      return;
    }
    if (response.canceled) {
      const state = this.byId.get(response.watchId);
      if (state === undefined || state.closed) return;
      this.byId.delete(response.watchId);
      if (response.compactRevision !== 0n) {
        this.fail(state, this.compactedError(state, response.compactRevision));
      } else {
        this.fail(state, this.cancelError(response.cancelReason));
      }
      return;
    }
    if (response.events.length === 0 && !response.fragment) {
      this.progress(response.watchId, header);
      return;
    }
    const state = this.byId.get(response.watchId);
    if (state === undefined || state.closed) return;
    if (response.fragment) {
      state.fragments.push(...response.events);
      return;
    }
    const events =
      state.fragments.length === 0 ? response.events : [...state.fragments, ...response.events];
    state.fragments = [];
    this.deliver(state, events, header);
  }

  private failCreate(session: Session, state: WatcherState, response: WatchResponse): void {
    if (state.closed) return;
    if (response.compactRevision !== 0n) {
      this.fail(state, this.compactedError(state, response.compactRevision));
      return;
    }
    const error = this.cancelError(response.cancelReason);
    if (
      error instanceof InvalidAuthTokenError ||
      (error instanceof EtcdError && error.unavailable)
    ) {
      // Retry on a new stream, with a fresh token or on another member.
      this.handleStreamError(session, error);
      session.controller.abort();
      return;
    }
    this.fail(state, error);
  }

  private compactedError(state: WatcherState, compactRevision: bigint): CompactedError {
    return new CompactedError(
      `etcdserver: mvcc: required revision has been compacted (watch from revision ` +
        `${state.nextRevision}, compacted to ${compactRevision}): read the current state ` +
        'and watch again from its header.revision + 1',
      '/etcdserverpb.Watch/Watch',
      compactRevision,
    );
  }

  private cancelError(reason: string): EtcdError {
    if (reason === '') {
      return new EtcdError(
        Status.CANCELLED,
        'etcdserver: watch canceled',
        '/etcdserverpb.Watch/Watch',
      );
    }
    const error = etcdErrorFromStatus(Status.UNKNOWN, reason, '/etcdserverpb.Watch/Watch');
    return error.etcdName === undefined
      ? new EtcdError(Status.FAILED_PRECONDITION, reason, '/etcdserverpb.Watch/Watch')
      : error;
  }

  private progress(watchId: bigint, header: ResponseHeader): void {
    const targets = watchId === -1n ? [...this.byId.values()] : [this.byId.get(watchId)];
    for (const state of targets) {
      if (state === undefined || state.closed) continue;
      if (state.nextRevision <= header.revision) state.nextRevision = header.revision + 1n;
      if (watchId === -1n || state.options.progressNotify === true) {
        state.next({header, events: [], progressNotify: true});
      }
    }
  }

  private deliver(state: WatcherState, events: readonly Event[], header: ResponseHeader): void {
    const fresh: WatchEvent[] = [];
    let last = state.nextRevision - 1n;
    for (const event of events) {
      const kv = event.kv;
      if (kv === undefined || kv.modRevision < state.nextRevision) continue;
      if (kv.modRevision > last) last = kv.modRevision;
      fresh.push({
        type: event.type === Event_EventType.DELETE ? 'delete' : 'put',
        kv: state.space.keyValue(kv),
        prevKv: event.prevKv === undefined ? undefined : state.space.keyValue(event.prevKv),
      });
    }
    if (fresh.length === 0) return;
    state.nextRevision = last + 1n;
    state.next({header, events: fresh, progressNotify: false});
  }
}
