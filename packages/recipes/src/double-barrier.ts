import {compare, op} from '@synod/client';
import type {KeyValue} from '@synod/client';

import {leaseHex} from './mutex.js';
import type {Session} from './session.js';
import {waitForDelete, waitForEvent} from './wait-for-deletes.js';

/** Thrown by {@link DoubleBarrier.enter} when `count` participants are already inside. */
export class TooManyParticipantsError extends Error {
  constructor(key: string, count: number) {
    super(`double barrier ${key} already has its ${count} participants; wait for the next round`);
    this.name = 'TooManyParticipantsError';
  }
}

/**
 * A double barrier (etcd's `recipe.DoubleBarrier`, Curator's `DistributedDoubleBarrier`):
 * `count` participants {@link enter} together (nobody starts before all arrived) and
 * {@link leave} together (nobody goes on before all finished). Participants are keys
 * `key/waiters/<lease in hex>` on their sessions' leases, so a crashed participant leaves
 * when its lease expires.
 */
export class DoubleBarrier {
  private readonly waiters: string;
  private readonly ready: string;

  constructor(
    private readonly session: Session,
    /** The barrier's key prefix. */
    readonly key: string,
    /** How many participants must enter before anyone proceeds. */
    readonly count: number,
  ) {
    this.waiters = `${key}/waiters/`;
    this.ready = `${key}/ready`;
  }

  private get myKey(): string {
    return this.waiters + leaseHex(this.session.lease);
  }

  /** Joins and resolves once `count` participants have joined. */
  async enter(): Promise<void> {
    const client = this.session.client;
    await client.kv.put(this.myKey, '', {lease: this.session.lease, retry: true});
    const read = await client.kv.range({prefix: this.waiters}, {keysOnly: true});
    if (read.count > this.count) {
      await client.kv.delete(this.myKey, {retry: true});
      throw new TooManyParticipantsError(this.key, this.count);
    }
    if (read.count === this.count) {
      await client.kv.put(this.ready, '', {retry: true});
      return;
    }
    for (;;) {
      const ready = await client.kv.range(this.ready, {keysOnly: true});
      if (ready.count > 0) return;
      await waitForEvent(
        client,
        this.ready,
        ready.header.revision + 1n,
        batch => batch.events.some(e => e.type === 'put'),
        undefined,
        ['noDelete'],
      );
    }
  }

  /** Leaves and resolves once every participant has left. */
  async leave(): Promise<void> {
    const client = this.session.client;
    for (;;) {
      const read = await client.kv.range(
        {prefix: this.waiters},
        {sort: {target: 'create', order: 'ascend'}},
      );
      const keys = read.kvs;
      const mine = keys.find(kv => kv.keyString === this.myKey);
      if (keys.length === 0 || mine === undefined) return;
      const lowest = keys[0] as KeyValue;
      const highest = keys[keys.length - 1] as KeyValue;
      if (keys.length === 1) {
        // The last one out takes the ready flag down for the next round.
        await client.kv
          .txn()
          .if(compare.createRevision(this.myKey, '=', mine.createRevision))
          .then(op.delete(this.myKey), op.delete(this.ready))
          .commit();
        return;
      }
      if (lowest.keyString === this.myKey) {
        // The lowest waits for the others to go, highest first.
        await waitForDelete(client, highest.key, read.header.revision + 1n, undefined);
      } else {
        await client.kv.delete(this.myKey, {retry: true});
        await waitForDelete(client, lowest.key, read.header.revision + 1n, undefined);
        return;
      }
    }
  }
}
