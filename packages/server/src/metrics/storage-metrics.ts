import type {Registry} from 'prom-client';
import {Counter, Gauge, Histogram} from 'prom-client';

import {exponentialBuckets} from './exponential-buckets.js';

/** etcd's buckets for hashing the store: 10 ms doubling to 163.84 s. */
const hashBuckets = exponentialBuckets(0.01, 2, 15);
/** etcd's buckets for a backend snapshot: 10 ms doubling to 655.36 s. */
const backendSnapshotBuckets = exponentialBuckets(0.01, 2, 17);
/** etcd's buckets for a defragmentation: 100 ms doubling to 409.6 s. */
const defragBuckets = exponentialBuckets(0.1, 2, 13);
/** etcd's buckets for lease TTLs: 1 s doubling to 2^23 s (about 97 days). */
const leaseTtlBuckets = exponentialBuckets(1, 2, 24);
/** etcd's buckets for a compaction batch's pause: 1 ms doubling to 4.096 s. */
const compactionPauseBuckets = exponentialBuckets(1, 2, 13);
/** etcd's buckets for a whole compaction: 100 ms doubling to 819.2 s. */
const compactionTotalBuckets = exponentialBuckets(100, 2, 14);
/** etcd's buckets for compacting the key index: 0.5 ms doubling to 4.096 s. */
const indexCompactionBuckets = exponentialBuckets(0.5, 2, 14);

/** Whole milliseconds, as etcd observes its `_milliseconds` histograms (`Duration / Millisecond`). */
const wholeMs = (ms: number) => Math.floor(ms);

/**
 * The store's work as etcd's `mvcc`, `lease` and `backend` packages count it: reads, writes and
 * transactions of the MVCC store, compactions, hashes, leases, defragmentations and backend
 * snapshots, under etcd 3.4's names, help texts and buckets (the `etcd_debugging_*` twins of
 * the `etcd_mvcc_*` counters included: etcd 3.4 exports both, and older dashboards read the
 * first). Every value is counted or timed where the member does the work; see
 * docs/observability.md.
 */
export class StorageMetrics {
  private readonly puts: Counter[];
  private readonly ranges: Counter[];
  private readonly deletes: Counter[];
  private readonly txns: Counter[];
  private readonly putBytes: Gauge;
  private readonly hash: Histogram;
  private readonly hashRev: Histogram;
  private readonly backendSnapshot: Histogram;
  private readonly defrag: Histogram;
  private readonly defragInflight: Gauge;
  private readonly leaseGranted: Counter;
  private readonly leaseRenewed: Counter;
  private readonly leaseRevoked: Counter;
  private readonly leaseTtl: Histogram;
  private readonly leaseExpired: Counter[];
  private readonly compactionKeys: Counter;
  private readonly compactionPause: Histogram;
  private readonly compactionTotal: Histogram;
  private readonly indexCompactionPause: Histogram;
  private readonly watchEvents: Counter;
  /** The open watch streams, whose queues hold the events not yet sent. */
  private readonly watchQueues = new Set<{readonly queuedEvents: number}>();

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = (name: string, help: string) => new Counter({name, help, registers});
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({name, help, buckets, registers});
    // etcd 3.4 counts each under its name and again under the deprecated etcd_debugging_ one.
    const twins = (name: string, help: string) => [
      counter(`etcd_mvcc_${name}`, help),
      counter(`etcd_debugging_mvcc_${name}`, help),
    ];
    this.puts = twins('put_total', 'Total number of puts seen by this member.');
    this.ranges = twins('range_total', 'Total number of ranges seen by this member.');
    this.deletes = twins('delete_total', 'Total number of deletes seen by this member.');
    this.txns = twins('txn_total', 'Total number of txns seen by this member.');
    this.putBytes = new Gauge({
      name: 'etcd_debugging_mvcc_total_put_size_in_bytes',
      help: 'The total size of put kv pairs seen by this member.',
      registers,
    });
    this.hash = histogram(
      'etcd_mvcc_hash_duration_seconds',
      'The latency distribution of storage hash operation.',
      hashBuckets,
    );
    this.hashRev = histogram(
      'etcd_mvcc_hash_rev_duration_seconds',
      'The latency distribution of storage hash by revision operation.',
      hashBuckets,
    );
    this.backendSnapshot = histogram(
      'etcd_disk_backend_snapshot_duration_seconds',
      'The latency distribution of backend snapshots.',
      backendSnapshotBuckets,
    );
    this.defrag = histogram(
      'etcd_disk_backend_defrag_duration_seconds',
      'The latency distribution of backend defragmentation.',
      defragBuckets,
    );
    this.defragInflight = new Gauge({
      name: 'etcd_disk_defrag_inflight',
      help: 'Whether or not defrag is active on the member. 1 means active, 0 means not.',
      registers,
    });
    this.leaseGranted = counter(
      'etcd_debugging_lease_granted_total',
      'The total number of granted leases.',
    );
    this.leaseRenewed = counter(
      'etcd_debugging_lease_renewed_total',
      'The number of renewed leases seen by the leader.',
    );
    this.leaseRevoked = counter(
      'etcd_debugging_lease_revoked_total',
      'The total number of revoked leases.',
    );
    this.leaseTtl = histogram(
      'etcd_debugging_lease_ttl_total',
      'Bucketed histogram of lease TTLs.',
      leaseTtlBuckets,
    );
    // etcd 3.4's name, and etcd 3.5's, which dashboards written for 3.5 read.
    this.leaseExpired = [
      counter('etcd_debugging_server_lease_expired_total', 'The total number of expired leases.'),
      counter('etcd_server_lease_expired_total', 'The total number of expired leases.'),
    ];
    this.compactionKeys = counter(
      'etcd_debugging_mvcc_db_compaction_keys_total',
      'Total number of db keys compacted.',
    );
    this.compactionPause = histogram(
      'etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds',
      'Bucketed histogram of db compaction pause duration.',
      compactionPauseBuckets,
    );
    this.compactionTotal = histogram(
      'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
      'Bucketed histogram of db compaction total duration.',
      compactionTotalBuckets,
    );
    this.indexCompactionPause = histogram(
      'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds',
      'Bucketed histogram of index compaction pause duration.',
      indexCompactionBuckets,
    );
    this.watchEvents = counter(
      'etcd_debugging_mvcc_events_total',
      'Total number of events sent by this member.',
    );
    const queues = this.watchQueues;
    new Gauge({
      name: 'etcd_debugging_mvcc_pending_events_total',
      help: 'Total number of pending events to be sent.',
      registers,
      collect() {
        let pending = 0;
        for (const q of queues) pending += q.queuedEvents;
        this.set(pending);
      },
    });
  }

  /**
   * A transaction of the MVCC store ended: as etcd's `metricsTxnWrite`, every range, put and
   * delete counts, and a transaction of more than one of them counts as a txn.
   */
  txnEnded(ranges: number, puts: number, deletes: number, putBytes: number): void {
    if (ranges + puts + deletes > 1) for (const c of this.txns) c.inc();
    if (ranges > 0) for (const c of this.ranges) c.inc(ranges);
    if (puts > 0) {
      for (const c of this.puts) c.inc(puts);
      this.putBytes.inc(putBytes);
    }
    if (deletes > 0) for (const c of this.deletes) c.inc(deletes);
  }

  /** Maintenance.Hash hashed the whole backend. */
  hashed(durationMs: number): void {
    this.hash.observe(durationMs / 1000);
  }

  /** Maintenance.HashKV hashed the history up to a revision. */
  hashedByRevision(durationMs: number): void {
    this.hashRev.observe(durationMs / 1000);
  }

  /** A consistent copy of the backend was made (for Maintenance.Snapshot or a follower). */
  backendSnapshotted(durationMs: number): void {
    this.backendSnapshot.observe(durationMs / 1000);
  }

  /** A defragmentation started; `done` settles when it ends. */
  defragmenting(done: Promise<unknown>, nowMs: () => number): void {
    const startedMs = nowMs();
    this.defragInflight.set(1);
    done.then(
      () => {
        this.defragInflight.set(0);
        this.defrag.observe((nowMs() - startedMs) / 1000);
      },
      () => {
        this.defragInflight.set(0);
      },
    );
  }

  leaseGrantedWith(ttlSeconds: number): void {
    this.leaseGranted.inc();
    this.leaseTtl.observe(ttlSeconds);
  }

  leaseRenewedOnce(): void {
    this.leaseRenewed.inc();
  }

  leaseRevokedOnce(): void {
    this.leaseRevoked.inc();
  }

  /** The leader revoked a lease that had expired, through the log. */
  leaseExpiredOnce(): void {
    for (const c of this.leaseExpired) c.inc();
  }

  /** Compacting the key index held the store for `pauseMs`. */
  indexCompacted(pauseMs: number): void {
    this.indexCompactionPause.observe(wholeMs(pauseMs));
  }

  /**
   * One batch of a compaction removed `keys` revisions from the backend, holding the store for
   * `pauseMs`; as etcd, the pause of the last batch is not observed (etcd observes the pause
   * between batches).
   */
  compactionBatch(keys: number, pauseMs: number, last: boolean): void {
    this.compactionKeys.inc(keys);
    if (!last) this.compactionPause.observe(wholeMs(pauseMs));
  }

  /** A compaction's removal from the backend ended, `totalMs` after it began. */
  compacted(totalMs: number): void {
    this.compactionTotal.observe(wholeMs(totalMs));
  }

  /** A watch stream opened (true) or closed: its queued events count as pending. */
  watchQueue(queue: {readonly queuedEvents: number}, open: boolean): void {
    if (open) this.watchQueues.add(queue);
    else this.watchQueues.delete(queue);
  }

  /** Events taken from a watch stream's queue to be sent to the client. */
  eventsSent(count: number): void {
    this.watchEvents.inc(count);
  }
}
