import type {KeyValue, KvEvent} from './key-value.js';
import type {
  CompactionHandle,
  HashKvResult,
  KV,
  RangeOptions,
  RangeResult,
  TxnRead,
  TxnWrite,
} from './kv.js';
import type {KvStore} from './kv-store.js';
import {keyInterval} from './kv-store.js';
import type {WatchHub, WatchRequest, WatchResponse} from './watch-stream.js';
import {WatchFilter, WatchStream} from './watch-stream.js';
import {latin1Key} from '../latin1-key.js';

/** A KV whose changes can be watched. */
export interface WatchableKV extends KV {
  newWatchStream(): WatchStream;
}

export interface WatchableStoreOptions {
  /** Runs `step` after `delayMs`; default setTimeout. Injected for deterministic tests. */
  readonly schedule?: (step: () => void, delayMs: number) => void;
  /** Revisions read from history per catch-up step (etcd: 1000). */
  readonly maxRevisionsPerSync?: number;
  /** Unsynced watchers handled per catch-up step (etcd: 512). */
  readonly maxWatchersPerSync?: number;
  /** Responses a stream queues before its watchers are parked (etcd: 128). */
  readonly streamCapacity?: number;
  /** Delay between retries of parked watchers. */
  readonly victimRetryMs?: number;
}

/**
 * One watcher. Invariant: every event with revision < `minRev` that matches it has been
 * queued on its stream exactly once; none at or after `minRev` has.
 */
interface Watcher {
  readonly stream: WatchStream;
  readonly id: number;
  readonly from: string;
  readonly to: string | undefined;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  /** Watches one key (`to` is `from` + NUL): indexed by key while synced. */
  readonly single: boolean;
  minRev: number;
  state: 'synced' | 'unsynced' | 'victim';
  /** For a victim: the response it could not queue. */
  parked: WatchResponse | undefined;
}

const toKey = latin1Key;

/**
 * The MVCC store plus watchers (etcd's `watchableStore`).
 *
 * - Synced watchers (caught up to the current revision) get each committed write txn's
 *   events straight from the apply path, one response per txn.
 * - Unsynced watchers (started in the past, or back from being parked) catch up from the
 *   backend in a scheduled step that reads at most `maxRevisionsPerSync` revisions for at
 *   most `maxWatchersPerSync` watchers, so the apply path never waits for history reads.
 * - A watcher whose stream queue is full becomes a victim holding its one pending response;
 *   a later step retries it, then it catches up as unsynced. Memory per watcher is bounded
 *   by one response; per stream by its capacity.
 * - A watcher that needs history older than the compact revision is canceled with
 *   `compactRevision` set.
 *
 * Every response holds whole revisions in order, so events arrive ordered, once, and
 * atomically per revision.
 */
export class WatchableStore implements WatchableKV, WatchHub {
  private readonly watchers = new Map<WatchStream, Map<number, Watcher>>();
  /** Synced single-key watchers by key, and synced range watchers. */
  private readonly syncedByKey = new Map<string, Set<Watcher>>();
  private readonly syncedRanges = new Set<Watcher>();
  private syncedCount = 0;
  private readonly unsynced = new Set<Watcher>();
  private readonly victims = new Set<Watcher>();
  private stepScheduled = false;
  private closed = false;
  private readonly schedule: (step: () => void, delayMs: number) => void;
  private readonly maxRevs: number;
  private readonly maxWatchers: number;
  private readonly capacity: number;
  private readonly victimRetryMs: number;

  constructor(
    readonly kv: KvStore,
    options: WatchableStoreOptions = {},
  ) {
    this.schedule = options.schedule ?? ((step, ms) => setTimeout(step, ms));
    this.maxRevs = options.maxRevisionsPerSync ?? 1000;
    this.maxWatchers = options.maxWatchersPerSync ?? 512;
    this.capacity = options.streamCapacity ?? 128;
    this.victimRetryMs = options.victimRetryMs ?? 10;
    kv.setObserver((rev, events) => {
      this.notify(rev, events);
    });
  }

  newWatchStream(): WatchStream {
    return new WatchStream(this, this.capacity);
  }

  // KV, delegated.
  firstRev(): number {
    return this.kv.firstRev();
  }
  rev(): number {
    return this.kv.rev();
  }
  range(key: Uint8Array, end: Uint8Array | undefined, options?: RangeOptions): RangeResult {
    return this.kv.range(key, end, options);
  }
  read(): TxnRead {
    return this.kv.read();
  }
  write(): TxnWrite {
    return this.kv.write();
  }
  compact(rev: number): CompactionHandle {
    const handle = this.kv.compact(rev);
    // Unsynced watchers behind the new compact revision must be canceled.
    this.scheduleStep(0);
    return handle;
  }
  hashKV(rev: number): Promise<HashKvResult> {
    return this.kv.hashKV(rev);
  }
  setConsistentIndex(index: number): void {
    this.kv.setConsistentIndex(index);
  }
  consistentIndex(): number {
    return this.kv.consistentIndex();
  }
  commit(): Promise<void> {
    return this.kv.commit();
  }
  async close(): Promise<void> {
    this.closed = true;
    this.kv.setObserver(undefined);
    for (const stream of [...this.watchers.keys()]) stream.close();
    await this.kv.close();
  }

  /** Watcher counts by state, for metrics and tests. */
  watcherCounts(): {synced: number; unsynced: number; victims: number} {
    return {synced: this.syncedCount, unsynced: this.unsynced.size, victims: this.victims.size};
  }

  /** @internal */
  register(stream: WatchStream, id: number, req: WatchRequest): void {
    const [from, to] = keyInterval(req.key, req.rangeEnd);
    const current = this.kv.rev();
    const start = req.startRevision ?? 0;
    const w: Watcher = {
      stream,
      id,
      from,
      to,
      prevKv: req.prevKv ?? false,
      noPut: req.filters?.includes(WatchFilter.NoPut) ?? false,
      noDelete: req.filters?.includes(WatchFilter.NoDelete) ?? false,
      single: to === `${from}\0`,
      minRev: start === 0 ? current + 1 : start,
      state: 'unsynced',
      parked: undefined,
    };
    let byId = this.watchers.get(stream);
    if (byId === undefined) {
      byId = new Map();
      this.watchers.set(stream, byId);
    }
    byId.set(id, w);
    if (w.minRev > current) {
      this.addSynced(w);
    } else {
      this.unsynced.add(w);
      this.scheduleStep(0);
    }
  }

  /** @internal */
  unregister(stream: WatchStream, id: number): void {
    const byId = this.watchers.get(stream);
    const w = byId?.get(id);
    if (byId === undefined || w === undefined) return;
    byId.delete(id);
    if (byId.size === 0) this.watchers.delete(stream);
    this.removeSynced(w);
    this.unsynced.delete(w);
    this.victims.delete(w);
  }

  /** @internal */
  drained(): void {
    if (this.victims.size > 0) this.scheduleStep(0);
  }

  /** @internal */
  progress(stream: WatchStream): number | undefined {
    // A stream without watchers is trivially synced: etcd answers its progress request too.
    for (const w of this.watchers.get(stream)?.values() ?? []) {
      if (w.state !== 'synced') return undefined;
    }
    return this.kv.rev();
  }

  /**
   * Feeds synced watchers from a write txn that just ended at `rev`: single-key watchers are
   * found by key, range watchers by a scan of the (usually few) synced range watchers.
   */
  private notify(rev: number, events: readonly KvEvent[]): void {
    const batches = new Map<Watcher, KvEvent[]>();
    // prev_kv is read once per event, not once per watcher that asked for it.
    const withPrev = new Map<KvEvent, KvEvent>();
    const offer = (w: Watcher, e: KvEvent): void => {
      if (w.minRev > rev) return;
      const matched = this.match(w, e, withPrev);
      if (matched === undefined) return;
      const list = batches.get(w);
      if (list === undefined) batches.set(w, [matched]);
      else list.push(matched);
    };
    for (const e of events) {
      const k = toKey(e.kv.key);
      for (const w of this.syncedByKey.get(k) ?? []) offer(w, e);
      for (const w of this.syncedRanges) {
        if (k >= w.from && (w.to === undefined || k < w.to)) offer(w, e);
      }
    }
    for (const [w, mine] of batches) {
      // Synced watchers with nothing to deliver keep an older minRev; that is harmless, as
      // every later txn has a higher revision.
      w.minRev = rev + 1;
      const resp = this.response(w, mine, rev);
      if (!w.stream.enqueue(resp)) this.park(w, resp);
    }
  }

  private addSynced(w: Watcher): void {
    w.state = 'synced';
    this.syncedCount++;
    if (!w.single) {
      this.syncedRanges.add(w);
      return;
    }
    let set = this.syncedByKey.get(w.from);
    if (set === undefined) {
      set = new Set();
      this.syncedByKey.set(w.from, set);
    }
    set.add(w);
  }

  private removeSynced(w: Watcher): void {
    if (w.state !== 'synced') return;
    this.syncedCount--;
    if (!w.single) {
      this.syncedRanges.delete(w);
      return;
    }
    const set = this.syncedByKey.get(w.from);
    set?.delete(w);
    if (set?.size === 0) this.syncedByKey.delete(w.from);
  }

  private park(w: Watcher, resp: WatchResponse): void {
    this.removeSynced(w);
    this.unsynced.delete(w);
    w.state = 'victim';
    w.parked = resp;
    this.victims.add(w);
    this.scheduleStep(this.victimRetryMs);
  }

  private scheduleStep(delayMs: number): void {
    if (this.stepScheduled || this.closed) return;
    this.stepScheduled = true;
    this.schedule(() => {
      this.stepScheduled = false;
      if (!this.closed) this.syncStep();
    }, delayMs);
  }

  /** One bounded step of victim retries and history catch-up. */
  private syncStep(): void {
    const current = this.kv.rev();
    for (const w of [...this.victims]) {
      if (w.parked !== undefined && !w.stream.enqueue(w.parked)) continue;
      w.parked = undefined;
      this.victims.delete(w);
      this.moveAfterCatchUp(w, current);
    }

    const compactRev = this.kv.firstRev();
    const chosen: Watcher[] = [];
    for (const w of this.unsynced) {
      if (chosen.length >= this.maxWatchers) break;
      if (w.minRev < compactRev) {
        this.unsynced.delete(w);
        this.watchers.get(w.stream)?.delete(w.id);
        w.stream.forget(w.id);
        w.stream.enqueue(
          {
            watchId: w.id,
            events: [],
            revision: current,
            compactRevision: compactRev,
            canceled: true,
          },
          true,
        );
        continue;
      }
      chosen.push(w);
    }
    if (chosen.length > 0) {
      const minRev = Math.min(...chosen.map(w => w.minRev));
      const endRev = Math.min(minRev + this.maxRevs, current + 1);
      const history = this.kv.eventsBetween(minRev, endRev);
      for (const w of chosen) {
        const mine = this.select(
          w,
          history.filter(e => e.kv.modRevision >= w.minRev),
        );
        w.minRev = Math.max(w.minRev, endRev);
        this.unsynced.delete(w);
        if (mine.length > 0) {
          const resp = this.response(w, mine, current);
          if (!w.stream.enqueue(resp)) {
            this.park(w, resp);
            continue;
          }
        }
        this.moveAfterCatchUp(w, current);
      }
    }
    if (this.unsynced.size > 0) this.scheduleStep(0);
    else if (this.victims.size > 0) this.scheduleStep(this.victimRetryMs);
  }

  private moveAfterCatchUp(w: Watcher, current: number): void {
    if (w.minRev > current) {
      this.addSynced(w);
    } else {
      w.state = 'unsynced';
      this.unsynced.add(w);
      this.scheduleStep(0);
    }
  }

  /** Events of `events` in the watcher's range that pass its filters, with prev_kv. */
  private select(w: Watcher, events: readonly KvEvent[]): KvEvent[] {
    const out: KvEvent[] = [];
    for (const e of events) {
      const k = toKey(e.kv.key);
      if (k < w.from || (w.to !== undefined && k >= w.to)) continue;
      const matched = this.match(w, e);
      if (matched !== undefined) out.push(matched);
    }
    return out;
  }

  /**
   * The event as this watcher gets it (filters, prev_kv), or undefined if filtered out.
   * `withPrev` keeps each event's prev_kv variant so watchers of one notification share it.
   */
  private match(w: Watcher, e: KvEvent, withPrev?: Map<KvEvent, KvEvent>): KvEvent | undefined {
    if (e.type === 'put' ? w.noPut : w.noDelete) return undefined;
    if (!w.prevKv) return e;
    const known = withPrev?.get(e);
    if (known !== undefined) return known;
    const prev: KeyValue | undefined = this.kv.getAt(e.kv.key, e.kv.modRevision - 1);
    const out = prev === undefined ? e : {...e, prevKv: prev};
    withPrev?.set(e, out);
    return out;
  }

  private response(w: Watcher, events: KvEvent[], rev: number): WatchResponse {
    return {watchId: w.id, events, revision: rev, compactRevision: 0, canceled: false};
  }
}
