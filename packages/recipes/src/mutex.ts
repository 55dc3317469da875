import {compare, op} from '@synod/client';
import type {KeyValue} from '@synod/client';

import {LocalQueue} from './local-queue.js';
import {LockHandle} from './lock-handle.js';
import type {Session} from './session.js';
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

  constructor(
    private readonly session: Session,
    /** The lock's name; keys live under `name + '/'`. */
    readonly name: string,
  ) {
    this.prefix = `${name}/`;
    this.local = LocalQueue.of(session, this.prefix);
  }

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
    const {signal} = options;
    const leave = await this.local.enter(signal);
    const lostController = new AbortController();
    const onLost = this.session.lost$.subscribe(() => {
      lostController.abort(new SessionExpiredError(`lock ${this.name}`));
    });
    let linked: LinkedSignal | undefined;
    try {
      linked = linkSignals(signal, lostController.signal);
      const combined = linked.signal;
      const {myRevision, ownerRevision} = await this.enqueue();
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
      return new LockHandle(this.session, this.key, myRevision, leave);
    } catch (error) {
      leave();
      throw error;
    } finally {
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
      if (ownerRevision === myRevision) {
        return new LockHandle(this.session, this.key, myRevision, leave);
      }
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
