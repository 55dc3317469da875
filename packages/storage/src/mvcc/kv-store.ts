import {Backend} from '../backend/backend.js';
import {crc32c} from '../wal/crc32c.js';
import {encodeEtcdKeyValue} from './encode-etcd-key-value.js';
import type {KeyValue, KvEvent} from './key-value.js';
import {decodeRecord, encodeRecord} from './key-value.js';
import type {
  CompactionHandle,
  HashKvResult,
  KV,
  RangeOptions,
  RangeResult,
  TxnObserver,
  TxnRead,
  TxnWrite,
} from './kv.js';
import {parseRevisionKey, revisionKey} from './revision.js';
import {errCompacted, errFutureRev} from './storage-error.js';
import {TreeIndex} from './tree-index.js';
import {latin1Key} from '../latin1-key.js';

/** What the store tells the lease index about keys attached to leases. */
export interface LeaseHooks {
  attach(lease: bigint, key: Uint8Array): void;
  detach(lease: bigint, key: Uint8Array): void;
}

export interface KvStoreOptions {
  readonly leaseHooks?: LeaseHooks;
  /** Runs a compaction step later; default `setImmediate`. Injected for deterministic tests. */
  readonly schedule?: (step: () => void) => void;
  /** Backend revisions deleted per compaction step (each step is one commit). */
  readonly compactionBatch?: number;
  /** Told of every backend commit (the backend's `onCommit` option). */
  readonly onBackendCommit?: (landed: Promise<unknown>) => void;
  /** Commit the backend synchronously (see `BackendOptions.syncCommits`): for the simulator. */
  readonly syncBackendCommits?: boolean;
  /** Told of each batch a compaction removes from the backend, for metrics. */
  readonly compactionObserver?: CompactionObserver;
}

/** What a compaction reports of its batches (etcd's compaction metrics); must not throw. */
export interface CompactionObserver {
  /** Monotonic milliseconds, to time the batches with: the store reads no clock itself. */
  monotonicMs(): number;
  /**
   * A batch removed `keys` revisions from the backend, holding the store for `pauseMs` (its
   * synchronous part); `last` is the compaction's final batch.
   */
  batchRemoved(keys: number, pauseMs: number, last: boolean): void;
}

const META_CONSISTENT_INDEX = Buffer.from('consistent_index');
const META_SCHEDULED_COMPACT = Buffer.from('scheduled_compact_rev');
const META_FINISHED_COMPACT = Buffer.from('finished_compact_rev');
const EMPTY = new Uint8Array(0);
/** The pieces of etcd's backend layout that HashKV hashes. */
const KEY_BUCKET_NAME = Buffer.from('key');
const REVISION_SEPARATOR = Buffer.from('_');
const TOMBSTONE_MARK = Buffer.from('t');
const TOMBSTONE_VALUE: KeyValue = {
  key: EMPTY,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY,
  lease: 0n,
};
const NO_LEASES: LeaseHooks = {attach: () => undefined, detach: () => undefined};

const toKey = latin1Key;
const fromKey = (s: string): Buffer => Buffer.from(s, 'latin1');

/** etcd's range conventions mapped to a half-open string interval. */
export function keyInterval(
  key: Uint8Array,
  end: Uint8Array | undefined,
): [string, string | undefined] {
  const from = toKey(key);
  if (end === undefined || end.length === 0) return [from, `${from}\0`];
  if (end.length === 1 && end[0] === 0) return [from, undefined];
  return [from, toKey(end)];
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
const readU64 = (b: Uint8Array | undefined): number | undefined =>
  b === undefined ? undefined : Number(Buffer.from(b).readBigUInt64BE(0));

/**
 * The MVCC store: key history in {@link TreeIndex} (memory), key-value records by revision in
 * the backend's `key` bucket (16-byte `{main, sub}` key, {@link encodeRecord} value).
 *
 * Revisions follow etcd: an empty store is at revision 1 with compact revision -1; a write
 * txn that changes something moves the revision by one.
 *
 * Crash consistency: the raft applied index ({@link KvStore.setConsistentIndex}) is written
 * into the same backend batch as the changes, so after a crash the backend is at some applied
 * index and replaying the WAL from there is exact. Apply entry i and call
 * `setConsistentIndex(i)` in one synchronous run; commits happen between runs.
 */
export class KvStore implements KV {
  private readonly index = new TreeIndex();
  /**
   * What a put needs of the record it overwrites, kept in memory so that it need not read that
   * record from the backend (which cost a quarter of a follower's apply): the lease of each
   * live key that has one; the create revision and version are the index's
   * ({@link TreeIndex.generation}). A key without a lease (the common case) costs nothing here.
   *
   * Invariant: a live key without an entry in `leaseOf` has no lease; it holds no key that is
   * not live.
   */
  private readonly leaseOf = new Map<string, bigint>();
  private currentRev = 1;
  private compactRev = -1;
  private applied = 0;
  private observer: TxnObserver | undefined;
  private compaction: Promise<void> = Promise.resolve();
  private readonly leases: LeaseHooks;
  private readonly schedule: (step: () => void) => void;
  private readonly compactionBatch: number;
  private readonly compactionObserver: CompactionObserver | undefined;

  private constructor(
    readonly backend: Backend,
    options: KvStoreOptions,
  ) {
    this.leases = options.leaseHooks ?? NO_LEASES;
    this.schedule = options.schedule ?? (step => setImmediate(step));
    this.compactionBatch = options.compactionBatch ?? 1000;
    this.compactionObserver = options.compactionObserver;
  }

  /** Opens the store in `dir`, rebuilding the index from the backend. */
  static open(dir: string, options: KvStoreOptions = {}): KvStore {
    const store = new KvStore(
      Backend.open(dir, {
        ...(options.onBackendCommit === undefined ? {} : {onCommit: options.onBackendCommit}),
        syncCommits: options.syncBackendCommits === true,
      }),
      options,
    );
    store.restore();
    return store;
  }

  /** @internal the watchable store's hook into every committed write txn. */
  setObserver(observer: TxnObserver | undefined): void {
    this.observer = observer;
  }

  firstRev(): number {
    return this.compactRev;
  }

  rev(): number {
    return this.currentRev;
  }

  consistentIndex(): number {
    return this.applied;
  }

  setConsistentIndex(index: number): void {
    this.applied = index;
    this.backend.put('meta', META_CONSISTENT_INDEX, u64(index));
  }

  range(key: Uint8Array, end: Uint8Array | undefined, options: RangeOptions = {}): RangeResult {
    return this.rangeAt(key, end, options, this.currentRev);
  }

  read(): TxnRead {
    const rev = this.currentRev;
    return {
      firstRev: () => this.compactRev,
      rev: () => rev,
      range: (key, end, options = {}) => this.rangeAt(key, end, options, rev),
      end: () => undefined,
    };
  }

  write(): TxnWrite {
    return new StoreTxnWrite(this);
  }

  commit(): Promise<void> {
    return this.backend.commit();
  }

  compact(rev: number): CompactionHandle {
    if (rev <= this.compactRev) throw errCompacted();
    if (rev > this.currentRev) throw errFutureRev();
    this.compactRev = rev;
    this.backend.put('meta', META_SCHEDULED_COMPACT, u64(rev));
    return {done: this.scheduleCompaction(rev)};
  }

  async hashKV(rev: number): Promise<HashKvResult> {
    // A compaction in flight removes revisions at its own pace; hash once it is done so
    // every member hashes the same set.
    await this.compaction;
    const hashRev = rev <= 0 ? this.currentRev : rev;
    if (hashRev > this.currentRev) throw errFutureRev();
    // As etcd: an asked-for revision at the compact revision itself is refused too (its
    // tombstones are gone); revision 0, the current one, is always hashed.
    if (rev > 0 && hashRev <= this.compactRev) throw errCompacted();
    // etcd's value: CRC-32C over the bucket name `key`, then each revision up to hashRev as
    // etcd's backend holds it (8-byte main, '_', 8-byte sub, 't' for a tombstone; the value an
    // mvccpb.KeyValue, a tombstone's holding only its key). The history left after compaction
    // is etcd's, so a Synod member and an etcd member with the same history agree, which is
    // what `etcdctl endpoint hashkv` compares across a migration. As etcd, a revision at or
    // below the compact revision counts only while it is still its key's state at hashRev,
    // unless no key exists at hashRev.
    const compactRev = this.compactRev;
    let anyKeyAtHashRev: boolean | undefined;
    let h = crc32c(0, KEY_BUCKET_NAME);
    for (const {key, value} of this.backend.range(
      'key',
      revisionKey(0, 0),
      revisionKey(hashRev + 1, 0),
    )) {
      const {kv, tombstone} = decodeRecord(value);
      const {main, sub} = parseRevisionKey(key);
      if (main <= compactRev) {
        const atHashRev = this.index.get(toKey(kv.key), hashRev);
        const kept = atHashRev?.main === main && atHashRev.sub === sub;
        anyKeyAtHashRev ??= this.index.range('', undefined, hashRev, 1).total > 0;
        if (!kept && anyKeyAtHashRev) continue;
      }
      h = crc32c(h, key.subarray(0, 8));
      h = crc32c(h, REVISION_SEPARATOR);
      h = crc32c(h, key.subarray(8, 16));
      if (tombstone) h = crc32c(h, TOMBSTONE_MARK);
      h = crc32c(h, encodeEtcdKeyValue(tombstone ? {...TOMBSTONE_VALUE, key: kv.key} : kv));
    }
    return {hash: h, compactRevision: this.compactRev, hashRevision: hashRev};
  }

  async close(): Promise<void> {
    await this.compaction;
    await this.backend.close();
  }

  /** Number of keys with history in the index (live or not yet compacted away). */
  indexedKeys(): number {
    return this.index.keyCount;
  }

  /**
   * @internal Events of revisions `[fromRev, toRev)` still in the backend, in revision order;
   * used by the watchable store to catch up unsynced watchers (it bounds the window).
   */
  eventsBetween(fromRev: number, toRev: number): KvEvent[] {
    const events: KvEvent[] = [];
    for (const {value} of this.backend.range(
      'key',
      revisionKey(fromRev, 0),
      revisionKey(toRev, 0),
    )) {
      const {kv, tombstone} = decodeRecord(value);
      events.push(tombstone ? {type: 'delete', kv} : {type: 'put', kv});
    }
    return events;
  }

  /** @internal the key at revision `rev`, if history still has it (for watch prev_kv). */
  getAt(key: Uint8Array, rev: number): KeyValue | undefined {
    if (rev < this.compactRev || rev < 1) return undefined;
    const r = this.index.get(toKey(key), rev);
    return r === undefined ? undefined : this.load(r.main, r.sub);
  }

  /** @internal */
  rangeAt(
    key: Uint8Array,
    end: Uint8Array | undefined,
    options: RangeOptions,
    curRev: number,
  ): RangeResult {
    let rev = options.rev ?? 0;
    if (rev > curRev) throw errFutureRev();
    if (rev <= 0) rev = curRev;
    if (rev < this.compactRev) throw errCompacted();
    const [from, to] = keyInterval(key, end);
    const limit = options.countOnly === true ? 0 : (options.limit ?? 0);
    const {revs, total} = this.index.range(from, to, rev, limit);
    if (options.countOnly === true) return {kvs: [], rev, count: total};
    const kvs = revs.map(r => this.load(r.rev.main, r.rev.sub));
    return {kvs, rev, count: total};
  }

  /** @internal applies one change of a write txn. */
  putAt(main: number, sub: number, key: Uint8Array, value: Uint8Array, lease: bigint): KvEvent {
    const k = toKey(key);
    const generation = this.index.generation(k);
    const createRevision = generation?.createRevision ?? main;
    const version = (generation?.version ?? 0) + 1;
    const oldLease = this.leaseOf.get(k) ?? 0n;
    if (lease !== 0n) this.leaseOf.set(k, lease);
    else if (oldLease !== 0n) this.leaseOf.delete(k);
    const record = encodeRecord(
      {key, createRevision, modRevision: main, version, value, lease},
      false,
    );
    // The event's key and value are views of the stored record: no further copies.
    const kv = decodeRecord(record).kv;
    this.backend.put('key', revisionKey(main, sub), record);
    this.index.put(k, main, sub);
    if (oldLease !== 0n && oldLease !== lease) this.leases.detach(oldLease, kv.key);
    if (lease !== 0n) this.leases.attach(lease, kv.key);
    return {type: 'put', kv};
  }

  /** @internal */
  deleteAt(
    main: number,
    firstSub: number,
    key: Uint8Array,
    end: Uint8Array | undefined,
  ): KvEvent[] {
    const [from, to] = keyInterval(key, end);
    const {revs} = this.index.range(from, to, main, 0);
    const events: KvEvent[] = [];
    let sub = firstSub;
    for (const {key: k, rev} of revs) {
      const prev = this.load(rev.main, rev.sub);
      const kv: KeyValue = {
        key: fromKey(k),
        createRevision: 0,
        modRevision: main,
        version: 0,
        value: EMPTY,
        lease: 0n,
      };
      this.backend.put('key', revisionKey(main, sub), encodeRecord(kv, true));
      this.index.tombstone(k, main, sub);
      this.leaseOf.delete(k);
      if (prev.lease !== 0n) this.leases.detach(prev.lease, kv.key);
      events.push({type: 'delete', kv});
      sub++;
    }
    return events;
  }

  /** @internal called by a write txn's end() when it changed something. */
  endWrite(rev: number, events: readonly KvEvent[]): void {
    this.currentRev = rev;
    this.observer?.(rev, events);
  }

  private load(main: number, sub: number): KeyValue {
    const rec = this.backend.get('key', revisionKey(main, sub));
    if (rec === undefined) throw new Error(`index points at missing revision ${main}.${sub}`);
    return decodeRecord(rec).kv;
  }

  private restore(): void {
    const {leaseOf} = this;
    let last = 0;
    for (const {key, value} of this.backend.range('key', revisionKey(0, 0))) {
      const {main, sub} = parseRevisionKey(key);
      const {kv, tombstone} = decodeRecord(value);
      const k = toKey(kv.key);
      if (tombstone) {
        this.index.tombstone(k, main, sub);
        leaseOf.delete(k);
      } else {
        this.index.put(k, main, sub);
        // The record is the truth: a compaction may have removed the generation's start.
        this.index.setGeneration(k, kv.createRevision, kv.version);
        if (kv.lease !== 0n) leaseOf.set(k, kv.lease);
        else leaseOf.delete(k);
      }
      last = main;
    }
    for (const [k, lease] of leaseOf) this.leases.attach(lease, fromKey(k));
    this.applied = readU64(this.backend.get('meta', META_CONSISTENT_INDEX)) ?? 0;
    const scheduled = readU64(this.backend.get('meta', META_SCHEDULED_COMPACT));
    const finished = readU64(this.backend.get('meta', META_FINISHED_COMPACT));
    if (scheduled !== undefined) this.compactRev = scheduled;
    this.currentRev = Math.max(1, last, this.compactRev);
    if (scheduled !== undefined && scheduled !== finished) {
      // A compaction was cut short by a crash: finish it.
      void this.scheduleCompaction(scheduled);
    }
  }

  /**
   * Compacts the index now and removes the unreachable revisions from the backend in steps of
   * `compactionBatch`, each its own commit and scheduled separately so that applies and reads
   * run in between. Removal goes in revision order, so a crash midway never removes a
   * tombstone while a put it ends is still on disk (restore then redoes the compaction).
   */
  private scheduleCompaction(rev: number): Promise<void> {
    const keep = new Set<string>();
    this.index.compact(rev, (main, sub) => keep.add(revisionKey(main, sub).toString('latin1')));
    const end = revisionKey(rev + 1, 0);
    const run = async (): Promise<void> => {
      let cursor = revisionKey(0, 0);
      // One step's commit may still be landing while the next step runs; never more.
      let landing: Promise<void> = Promise.resolve();
      for (;;) {
        // Yield between steps so applies and reads run in between.
        await new Promise<void>(resolve => {
          this.schedule(resolve);
        });
        const batchStartedMs = this.compactionObserver?.monotonicMs() ?? 0;
        let n = 0;
        let lastKey: Uint8Array | undefined;
        const doomed: Uint8Array[] = [];
        for (const {key} of this.backend.range('key', cursor, end)) {
          if (n >= this.compactionBatch) break;
          n++;
          lastKey = key;
          if (!keep.has(Buffer.from(key).toString('latin1'))) doomed.push(Buffer.from(key));
        }
        for (const k of doomed) this.backend.delete('key', k);
        const last = lastKey === undefined || n < this.compactionBatch;
        const pauseMs = (this.compactionObserver?.monotonicMs() ?? 0) - batchStartedMs;
        this.compactionObserver?.batchRemoved(doomed.length, pauseMs, last);
        if (lastKey === undefined || n < this.compactionBatch) {
          this.backend.put('meta', META_FINISHED_COMPACT, u64(rev));
          await landing;
          await this.backend.commit();
          return;
        }
        const committed = this.backend.commit();
        await landing;
        landing = committed;
        const {main, sub} = parseRevisionKey(lastKey);
        cursor = revisionKey(main, sub + 1);
      }
    };
    const done = this.compaction.then(run);
    this.compaction = done.catch(() => undefined);
    return done;
  }
}

class StoreTxnWrite implements TxnWrite {
  private readonly beginRev: number;
  private readonly events: KvEvent[] = [];
  private ended = false;

  constructor(private readonly store: KvStore) {
    this.beginRev = store.rev();
  }

  firstRev(): number {
    return this.store.firstRev();
  }

  rev(): number {
    return this.beginRev;
  }

  range(key: Uint8Array, end: Uint8Array | undefined, options: RangeOptions = {}): RangeResult {
    const cur = this.events.length > 0 ? this.beginRev + 1 : this.beginRev;
    return this.store.rangeAt(key, end, options, cur);
  }

  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    this.check();
    const main = this.beginRev + 1;
    this.events.push(this.store.putAt(main, this.events.length, key, value, lease));
    return main;
  }

  deleteRange(key: Uint8Array, end: Uint8Array | undefined): {deleted: number; rev: number} {
    this.check();
    const main = this.beginRev + 1;
    const deleted = this.store.deleteAt(main, this.events.length, key, end);
    this.events.push(...deleted);
    return {deleted: deleted.length, rev: deleted.length > 0 ? main : this.beginRev};
  }

  changes(): readonly KvEvent[] {
    return this.events;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.events.length > 0) this.store.endWrite(this.beginRev + 1, this.events);
  }

  private check(): void {
    if (this.ended) throw new Error('write txn already ended');
  }
}
