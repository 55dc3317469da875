import {compare, op} from '@synod/client';
import type {Comparison, Etcd, LeaseLostError, Txn} from '@synod/client';
import {AsyncSubject, filter, map, merge, take, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import type {Session} from './session.js';

/** Emitted by a lock's `lost$` when its key was deleted by someone else. */
export class LockKeyDeletedError extends Error {
  constructor(readonly key: string) {
    super(`lock key ${key} was deleted or replaced while held: another holder may act now`);
    this.name = 'LockKeyDeletedError';
  }
}

/**
 * A held lock (or another ownership: a semaphore slot, a leadership), identified by its
 * key and the key's create revision, the fencing token.
 */
export class LockHandle {
  private readonly releasedSubject = new AsyncSubject<void>();
  private releasing: Promise<void> | undefined;

  /** @internal */
  constructor(
    private readonly session: Session,
    /** The lock's key in the client's key space, `prefix/<lease in hex>`. */
    readonly key: string,
    /**
     * The create revision of the lock key: it grows with every acquisition, so a resource
     * can refuse writes carrying a smaller token than one it has seen, and a write to
     * etcd can be guarded by {@link guard}.
     */
    readonly fencingToken: bigint,
    private readonly onRelease: () => void,
  ) {
    this.lost$ = merge(
      session.lost$,
      keySnapshot$(session.client, key).pipe(
        filter(s => s.kvs.get(key)?.createRevision !== fencingToken),
        map(() => new LockKeyDeletedError(key)),
      ),
    ).pipe(take(1), takeUntil(this.releasedSubject));
  }

  /**
   * Emits once, then completes, when the lock can no longer be trusted: the session's
   * lease could not be kept (emitted before the server expires it), or the lock key was
   * deleted or replaced. Completes without emitting after {@link release}. Cold: each
   * subscription watches the key; subscribe once, early, for the whole critical section.
   */
  readonly lost$: Observable<LeaseLostError | LockKeyDeletedError>;

  /** Whether {@link release} was called. */
  get released(): boolean {
    return this.releasing !== undefined;
  }

  /** `CreateRevision(key) == fencingToken`: true only while this lock is held. */
  guard(): Comparison {
    return compare.createRevision(this.key, '=', this.fencingToken);
  }

  /**
   * A transaction guarded by {@link guard}: its `then` branch runs only if this lock is
   * still held when the server applies it. Add compares and ops, then `commit()`; a
   * result with `succeeded: false` means the lock was lost.
   */
  guardedTxn(client: Etcd = this.session.client): Txn {
    return client.kv.txn().if(this.guard());
  }

  /** Whether the lock key still exists with this handle's create revision. */
  async isHeld(): Promise<boolean> {
    const kv = await this.session.client.kv.get(this.key);
    return kv?.createRevision === this.fencingToken;
  }

  /**
   * Deletes the lock key if it is still this handle's, letting the next waiter in.
   * Idempotent.
   */
  release(): Promise<void> {
    this.releasing ??= this.deleteKey();
    return this.releasing;
  }

  private async deleteKey(): Promise<void> {
    this.releasedSubject.next();
    this.releasedSubject.complete();
    try {
      await this.session.client.kv.txn().if(this.guard()).then(op.delete(this.key)).commit();
    } finally {
      this.onRelease();
    }
  }
}
