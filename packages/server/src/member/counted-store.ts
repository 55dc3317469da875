import type {
  CompactionHandle,
  CompactionObserver,
  KvStore,
  RangeOptions,
  RangeResult,
  TxnRead,
  TxnWrite,
  WatchableStoreOptions,
} from '@synod/storage';
import {WatchableStore} from '@synod/storage';

import type {Clock} from './clock.js';
import type {MemberObserver} from './member-observer.js';

/**
 * The member's watchable store, counting its transactions as etcd's `metricsTxnWrite` wraps
 * each MVCC transaction: every range, put and delete of a read or write transaction is reported
 * when it ends, so client requests, their compares, lease revocations and ZooKeeper writes all
 * count where the store does them. It also times a compaction's pass over the key index (the
 * synchronous part of {@link compact}) and its removal from the backend.
 */
export class CountedStore extends WatchableStore {
  constructor(
    kv: KvStore,
    private readonly observer: MemberObserver,
    private readonly clock: Clock,
    options: WatchableStoreOptions = {},
  ) {
    super(kv, options);
  }

  override read(): TxnRead {
    return new CountedTxn(super.read(), this.observer);
  }

  override write(): TxnWrite {
    return new CountedTxn(super.write(), this.observer);
  }

  override compact(rev: number): CompactionHandle {
    const startedMs = this.clock.monotonicMs();
    const handle = super.compact(rev);
    const indexedMs = this.clock.monotonicMs();
    this.observer.indexCompacted?.(rev, indexedMs - startedMs);
    handle.done.then(
      () => {
        this.observer.compacted?.(this.clock.monotonicMs() - indexedMs);
      },
      () => undefined,
    );
    return handle;
  }
}

/** A transaction that counts what it does and reports it once, when it ends. */
class CountedTxn implements TxnWrite {
  private ranges = 0;
  private puts = 0;
  private deletes = 0;
  private putBytes = 0;
  private ended = false;

  constructor(
    private readonly txn: TxnRead & Partial<TxnWrite>,
    private readonly observer: MemberObserver,
  ) {}

  firstRev(): number {
    return this.txn.firstRev();
  }

  rev(): number {
    return this.txn.rev();
  }

  range(key: Uint8Array, end: Uint8Array | undefined, options?: RangeOptions): RangeResult {
    this.ranges++;
    return this.txn.range(key, end, options);
  }

  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    if (this.txn.put === undefined) throw new Error('put in a read transaction');
    this.puts++;
    this.putBytes += key.length + value.length;
    return this.txn.put(key, value, lease);
  }

  deleteRange(key: Uint8Array, end: Uint8Array | undefined): {deleted: number; rev: number} {
    if (this.txn.deleteRange === undefined) throw new Error('delete in a read transaction');
    this.deletes++;
    return this.txn.deleteRange(key, end);
  }

  changes(): ReturnType<TxnWrite['changes']> {
    return this.txn.changes?.() ?? [];
  }

  end(): void {
    if (!this.ended) {
      this.ended = true;
      this.observer.txnEnded?.(this.ranges, this.puts, this.deletes, this.putBytes);
    }
    this.txn.end();
  }
}

/** Reports each batch a compaction removes to `observer`, timed on the member's clock. */
export function compactionObserverOf(observer: MemberObserver, clock: Clock): CompactionObserver {
  return {
    monotonicMs: () => clock.monotonicMs(),
    batchRemoved: (keys, pauseMs, last) => {
      observer.compactionBatch?.(keys, pauseMs, last);
    },
  };
}
