import {compare, op} from '@synod/client';
import type {KeyValue} from '@synod/client';
import {Subject, merge} from 'rxjs';
import type {Observable} from 'rxjs';

import {LocalQueue} from './local-queue.js';
import {LockHandle} from './lock-handle.js';
import {statusOnLease} from './session.js';
import type {LeaseState, Session} from './session.js';
import {stateStream} from './state-stream.js';
import {throwIfAborted, waitForDeletesBelow} from './wait-for-deletes.js';

/** Thrown when the session's lease expired while waiting for a lock or leadership. */
export class SessionExpiredError extends Error {
  constructor(what: string) {
    super(`${what}: the session's lease expired while waiting; create a new session`);
    this.name = 'SessionExpiredError';
  }
}

/** Options of {@link Mutex.acquire}. */
export interface AcquireOptions {
  /** Gives up waiting; the queued key is deleted and the promise rejects. */
  readonly signal?: AbortSignal;
}

/**
 * What a {@link Mutex} is doing in this process:
 *
 * - `idle`: neither holding nor waiting;
 * - `waiting`: an `acquire` is in line (in this process or in etcd's queue);
 * - `held`: a handle this `Mutex` gave out holds the lock and is not released;
 * - `lost`: a handle is not released, but the session's lease is no longer kept (lost or
 *   closed), so the lock may be someone else's: stop acting and release the handle.
 */
export type MutexStatus = 'idle' | 'waiting' | 'held' | 'lost';

/** A {@link Mutex}'s state, known without a round trip: for logs and metrics. */
export interface MutexState {
  /** The lock's name. */
  readonly name: string;
  /** This session's key, `name/<lease in hex>`: the holder's key while `held`. */
  readonly key: string;
  readonly status: MutexStatus;
  /** When `status` became what it is, in ms since the epoch by this process's clock. */
  readonly sinceMs: number;
  /**
   * The create revision of this session's key: the fencing token while `held` or `lost`,
   * the place in line while `waiting` (once the key is written), undefined when `idle`.
   */
  readonly fencingToken: bigint | undefined;
  /** The session's lease, as last known from keep-alives. */
  readonly lease: LeaseState;
}

/** The lease id as etcd's concurrency package prints it in keys (`%x`). */
export function leaseHex(lease: bigint): string {
  return lease.toString(16);
}

/**
 * A distributed mutual-exclusion lock with etcd's key layout, so it excludes and is
 * excluded by `etcdctl lock <name>` and etcd's Go `concurrency.Mutex` on the same name.
 *
 * Each contender creates `name/<lease in hex>` under its session's lease (create-if-absent
 * transaction); the contender with the lowest create revision holds the lock and the
 * others each wait for the deletion of the key just ahead of theirs, so waiters are served
 * in arrival order without a thundering herd. Callers sharing one `Mutex` (one session,
 * one key) queue in arrival order inside the process first.
 */
export class Mutex {
  private readonly prefix: string;
  private readonly local: LocalQueue;
  private readonly changes = new Subject<void>();
  /** `acquire` calls that have neither got the lock nor given up. */
  private pending = 0;
  /** The create revision of the key of the acquisition in etcd's queue, if any. */
  private queuedRevision: bigint | undefined;
  /** The fencing token of the handle this Mutex gave out and that is not released. */
  private heldToken: bigint | undefined;
  // Invariant: status and fencingToken are what recordStatus last derived from the three above.
  private status: MutexStatus = 'idle';
  private statusSinceMs = Date.now();
  private fencingToken: bigint | undefined;

  constructor(
    private readonly session: Session,
    /** The lock's name; keys live under `name + '/'`. */
    readonly name: string,
  ) {
    this.prefix = `${name}/`;
    this.local = LocalQueue.of(session, this.prefix);
    this.state$ = stateStream(
      () => this.state,
      merge(this.changes, session.lost$),
      session.closed$,
    );
  }

  /**
   * What this `Mutex` is doing, from what this process knows (no round trip): whether it
   * holds the lock or waits for it, since when, the fencing token, and the session's lease.
   * A lock key deleted behind the holder's back shows in the handle's `lost$`, not here.
   */
  get state(): MutexState {
    const lease = this.session.state;
    return {
      name: this.name,
      key: this.key,
      ...statusOnLease(this.status, this.statusSinceMs, lease, ['held']),
      fencingToken: this.fencingToken,
      lease,
    };
  }

  /**
   * {@link state} on subscribe, then a new snapshot whenever the status or fencing token
   * changes and when the session's lease is lost (not on every keep-alive: read `state` for
   * the current TTL). Never errors. Completes, after a last snapshot, when the session is
   * closed. Shared, with the latest snapshot replayed to a late subscriber.
   */
  readonly state$: Observable<MutexState>;

  /** The key this session queues with: `name/<lease in hex>`. */
  get key(): string {
    return this.prefix + leaseHex(this.session.lease);
  }

  /**
   * Waits for the lock. Rejects with the signal's reason when aborted (having removed its
   * queued key), with {@link SessionExpiredError} when the session's lease is lost while
   * waiting, or with the client's error when the cluster refuses the request.
   */
  async acquire(options: AcquireOptions = {}): Promise<LockHandle> {
    this.pending++;
    this.recordStatus();
    try {
      return await this.acquireInTurn(options.signal);
    } finally {
      this.pending--;
      this.recordStatus();
    }
  }

  private async acquireInTurn(signal: AbortSignal | undefined): Promise<LockHandle> {
    const leave = await this.local.enter(signal);
    const lostController = new AbortController();
    const onLost = this.session.lost$.subscribe(() => {
      lostController.abort(new SessionExpiredError(`lock ${this.name}`));
    });
    let linked: LinkedSignal | undefined;
    let queued: bigint | undefined;
    try {
      linked = linkSignals(signal, lostController.signal);
      const combined = linked.signal;
      const {myRevision, ownerRevision} = await this.enqueue();
      queued = this.queuedRevision = myRevision;
      this.recordStatus();
      if (ownerRevision !== myRevision) {
        try {
          await waitForDeletesBelow(
            this.session.client,
            Buffer.from(this.prefix),
            myRevision,
            combined,
          );
        } catch (error) {
          await this.session.client.kv
            .txn()
            .if(compare.createRevision(this.key, '=', myRevision))
            .then(op.delete(this.key))
            .commit()
            .catch(() => undefined);
          throw lostController.signal.aborted ? lostController.signal.reason : error;
        }
        const mine = await this.session.client.kv.get(this.key);
        if (mine?.createRevision !== myRevision) {
          throw new SessionExpiredError(`lock ${this.name}`);
        }
      }
      return this.hold(myRevision, leave);
    } catch (error) {
      leave();
      throw error;
    } finally {
      if (queued !== undefined && this.queuedRevision === queued) this.queuedRevision = undefined;
      linked?.unlink();
      onLost.unsubscribe();
    }
  }

  /**
   * Takes the lock if nobody holds it or waits for it ahead of this session, without
   * waiting; resolves undefined otherwise (and leaves no key behind).
   */
  async tryAcquire(): Promise<LockHandle | undefined> {
    if (this.local.busy) return undefined;
    const leave = await this.local.enter();
    try {
      const {myRevision, ownerRevision, created} = await this.enqueue();
      if (ownerRevision === myRevision) return this.hold(myRevision, leave);
      if (created) {
        await this.session.client.kv
          .txn()
          .if(compare.createRevision(this.key, '=', myRevision))
          .then(op.delete(this.key))
          .commit();
      }
      leave();
      return undefined;
    } catch (error) {
      leave();
      throw error;
    }
  }

  /**
   * Runs `fn` holding the lock and releases it afterwards, whatever happens. `fn` gets
   * the handle (for its fencing token and `lost$`) and a signal that aborts when the lock
   * is lost.
   */
  async withLock<T>(
    fn: (handle: LockHandle, signal: AbortSignal) => Promise<T> | T,
    options: AcquireOptions = {},
  ): Promise<T> {
    const handle = await this.acquire(options);
    const lostController = new AbortController();
    const lost = handle.lost$.subscribe(error => {
      lostController.abort(error);
    });
    try {
      return await fn(handle, lostController.signal);
    } finally {
      lost.unsubscribe();
      await handle.release();
    }
  }

  /** Hands out the lock, and records the hold until the handle is released. */
  private hold(fencingToken: bigint, leave: () => void): LockHandle {
    this.heldToken = fencingToken;
    this.recordStatus();
    return new LockHandle(this.session, this.key, fencingToken, () => {
      if (this.heldToken === fencingToken) this.heldToken = undefined;
      this.recordStatus();
      leave();
    });
  }

  /** Derives the status and fencing token, notes when the status changed, and tells `state$`. */
  private recordStatus(): void {
    const status = this.heldToken !== undefined ? 'held' : this.pending > 0 ? 'waiting' : 'idle';
    const fencingToken = this.heldToken ?? (status === 'waiting' ? this.queuedRevision : undefined);
    if (status === this.status && fencingToken === this.fencingToken) return;
    if (status !== this.status) {
      this.status = status;
      this.statusSinceMs = Date.now();
    }
    this.fencingToken = fencingToken;
    this.changes.next();
  }

  /**
   * Creates this session's key unless it exists, and reads the current owner: etcd's
   * `Mutex.tryAcquire` transaction.
   */
  private async enqueue(): Promise<{
    myRevision: bigint;
    ownerRevision: bigint | undefined;
    created: boolean;
  }> {
    const owner = op.range(
      {prefix: this.prefix},
      {sort: {target: 'create', order: 'ascend'}, limit: 1},
    );
    const result = await this.session.client.kv
      .txn()
      .if(compare.createRevision(this.key, '=', 0))
      .then(op.put(this.key, '', {lease: this.session.lease}), owner)
      .else(op.get(this.key), owner)
      .commit();
    const firstOf = (index: number): KeyValue | undefined => {
      const response = result.responses[index];
      return response?.type === 'range' ? response.kvs[0] : undefined;
    };
    const myRevision = result.succeeded
      ? result.header.revision
      : (firstOf(0)?.createRevision ?? result.header.revision);
    return {myRevision, ownerRevision: firstOf(1)?.createRevision, created: result.succeeded};
  }
}

/** A signal that aborts when either input does, and the way to let go of the inputs. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Removes the listeners put on the inputs: call once the operation has settled. */
  unlink(): void;
}

/**
 * A signal that aborts when `a` or `b` does, with that input's reason. It listens on both
 * until {@link LinkedSignal.unlink}: a caller's long-lived signal (a shutdown signal passed
 * to every acquisition) must not collect a listener per call.
 */
export function linkSignals(a: AbortSignal | undefined, b: AbortSignal): LinkedSignal {
  if (a === undefined) return {signal: b, unlink: () => undefined};
  const controller = new AbortController();
  const listeners: [AbortSignal, () => void][] = [];
  const forward = (source: AbortSignal): void => {
    if (source.aborted) {
      controller.abort(source.reason);
      return;
    }
    const onAbort = (): void => {
      controller.abort(source.reason);
    };
    source.addEventListener('abort', onAbort, {once: true});
    listeners.push([source, onAbort]);
  };
  forward(a);
  forward(b);
  const unlink = (): void => {
    for (const [source, onAbort] of listeners.splice(0)) {
      source.removeEventListener('abort', onAbort);
    }
  };
  if (controller.signal.aborted) {
    unlink();
    throwIfAborted(controller.signal);
  }
  return {signal: controller.signal, unlink};
}
