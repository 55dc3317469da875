import {compare, op} from '@synod/client';

import {LocalQueue} from './local-queue.js';
import {LockHandle} from './lock-handle.js';
import {SessionExpiredError, leaseHex, linkSignals} from './mutex.js';
import type {LinkedSignal} from './mutex.js';
import type {AcquireOptions} from './mutex.js';
import type {Session} from './session.js';
import {waitForDeletesBelow} from './wait-for-deletes.js';

/**
 * A readers-writer lock (etcd's `recipe.RWMutex` shape): readers queue as
 * `name/read/<lease in hex>`, writers as `name/write/<lease in hex>`. A reader waits
 * only for writers that queued before it; a writer waits for everyone who queued before
 * it. Arrival order is kept, so writers are not starved.
 */
export class ReadWriteLock {
  constructor(
    private readonly session: Session,
    /** The lock's name; keys live under `name + '/'`. */
    readonly name: string,
  ) {}

  /** Waits for shared (read) access. */
  readLock(options: AcquireOptions = {}): Promise<LockHandle> {
    return this.lock('read', `${this.name}/write/`, options);
  }

  /** Waits for exclusive (write) access. */
  writeLock(options: AcquireOptions = {}): Promise<LockHandle> {
    return this.lock('write', `${this.name}/`, options);
  }

  private async lock(
    kind: 'read' | 'write',
    waitPrefix: string,
    options: AcquireOptions,
  ): Promise<LockHandle> {
    const key = `${this.name}/${kind}/${leaseHex(this.session.lease)}`;
    const leave = await LocalQueue.of(this.session, key).enter(options.signal);
    const client = this.session.client;
    let myRevision: bigint | undefined;
    const lostController = new AbortController();
    const onLost = this.session.lost$.subscribe(() => {
      lostController.abort(new SessionExpiredError(`${kind} lock ${this.name}`));
    });
    let linked: LinkedSignal | undefined;
    try {
      const created = await client.kv
        .txn()
        .if(compare.createRevision(key, '=', 0))
        .then(op.put(key, '', {lease: this.session.lease}))
        .else(op.get(key))
        .commit();
      const existing = created.responses[0];
      myRevision = created.succeeded
        ? created.header.revision
        : existing?.type === 'range'
          ? existing.kvs[0]?.createRevision
          : undefined;
      if (myRevision === undefined) throw new SessionExpiredError(`${kind} lock ${this.name}`);
      linked = linkSignals(options.signal, lostController.signal);
      await waitForDeletesBelow(client, Buffer.from(waitPrefix), myRevision, linked.signal);
      const mine = await client.kv.get(key);
      if (mine?.createRevision !== myRevision) {
        throw new SessionExpiredError(`${kind} lock ${this.name}`);
      }
      return new LockHandle(this.session, key, myRevision, leave);
    } catch (error) {
      if (myRevision !== undefined) {
        await client.kv
          .txn()
          .if(compare.createRevision(key, '=', myRevision))
          .then(op.delete(key))
          .commit()
          .catch(() => undefined);
      }
      leave();
      throw lostController.signal.aborted ? lostController.signal.reason : error;
    } finally {
      linked?.unlink();
      onLost.unsubscribe();
    }
  }
}
