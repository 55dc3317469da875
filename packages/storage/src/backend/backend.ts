import * as fs from 'node:fs';
import * as path from 'node:path';
import {open} from 'lmdb';
import type {Database, DatabaseOptions, RootDatabase, RootDatabaseOptions} from 'lmdb';
import {crc32c} from '../wal/crc32c.js';
import {latin1Key} from '../latin1-key.js';

/** The named databases (etcd's "buckets") of the backend. */
export type Bucket =
  | 'key'
  | 'meta'
  | 'lease'
  | 'members'
  | 'auth'
  | 'authUsers'
  | 'authRoles'
  | 'alarm';
const BUCKETS: readonly Bucket[] = [
  'key',
  'meta',
  'lease',
  'members',
  'auth',
  'authUsers',
  'authRoles',
  'alarm',
];

/** File name of the LMDB data file inside the backend directory. */
export const BACKEND_FILE = 'db.mdb';

/**
 * Address space mapped for the data file from the start: 10 GiB, etcd's initial mmap size for
 * bbolt. It is address space, not memory (pages become resident as they are read) and the
 * file does not grow to it. lmdb-js otherwise starts the map at 128 KiB and, each time the
 * file outgrows it, maps the file again without unmapping the old map (buffers handed out
 * may still point into it), so every page read through an old map stays resident there too:
 * a member holding an 80 MiB file had 128 MiB of it resident across nine maps.
 */
const INITIAL_MAP_BYTES = 10 * 1024 ** 3;

/** A key the backend cannot store: empty, or longer than LMDB's limit. */
export class BackendKeyError extends Error {
  constructor(
    readonly bucket: Bucket,
    readonly keyBytes: number,
    readonly maxKeyBytes: number,
  ) {
    super(
      keyBytes === 0
        ? `backend bucket ${bucket}: empty key`
        : `backend bucket ${bucket}: key of ${keyBytes} bytes is longer than the ${maxKeyBytes} bytes the backend stores`,
    );
    this.name = 'BackendKeyError';
  }
}

/** A key/value pair read from the backend. */
export interface BackendEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * A read-only view of a backend's committed state as it was when the view was opened: one
 * LMDB read transaction, so a member keeps writing while a snapshot is read from the view.
 */
export interface BackendReadView {
  /** Every entry of `bucket` in key order; each iteration starts from the first again. */
  range(bucket: Bucket): Iterable<BackendEntry>;
  /**
   * {@link range} without a copy of each key and value: each is a view of a buffer that the
   * next entry is read into, valid only until the iteration moves on. For reading a big bucket
   * at a fraction of the cost: a copy is a new ArrayBuffer (a million-revision snapshot, process
   * start included, took 3.5 s of CPU with copies, 1.93 s without copies of the values and
   * 1.79 s without either: medians of three runs, alternated).
   */
  transientRange(bucket: Bucket): Iterable<BackendEntry>;
  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined;
  /**
   * Aborted when the backend closes, which waits for the view: stop reading (at the next
   * turn of the event loop at the latest) and close it.
   */
  readonly signal: AbortSignal;
  /** Ends the read transaction. Nothing read from the view may be used after. */
  close(): void;
}

interface PendingWrite {
  readonly key: Uint8Array;
  /** undefined = delete */
  readonly value: Uint8Array | undefined;
}

/** Byte-order comparison key for the pending maps (latin1 maps each byte to one code unit). */
const mapKey = latin1Key;

/**
 * The on-disk store of applied state: an LMDB environment (one memory-mapped B+tree file,
 * copy-on-write, so a crash always leaves the last committed transaction) with one named
 * database per bucket.
 *
 * Writes are buffered and committed together by {@link Backend.commit} in one LMDB write
 * transaction (`batch`), which lmdb-js runs on its write thread, so the B+tree work overlaps
 * with the next apply batch instead of blocking it. Until a commit has landed its writes
 * stay in an in-flight layer that reads consult; reads therefore always see every write
 * made, committed or not. The caller stores the raft applied index through
 * {@link Backend.put} into `meta` before committing, so the index on disk always matches the
 * data it covers and replaying the WAL after it is exact.
 *
 * LMDB's copy-on-write meta-page protocol keeps the file consistent on power loss: it falls
 * back to the last flushed transaction. Durability of acknowledged writes comes from the WAL,
 * not from here. A failed commit is fatal: the backend refuses all further calls.
 */
/** Options of {@link Backend.open}. */
export interface BackendOptions {
  /**
   * Told of every commit that writes something, with the promise that settles when it lands;
   * a member times it for `etcd_disk_backend_commit_duration_seconds`. The backend itself
   * reads no clock.
   */
  readonly onCommit?: (landed: Promise<unknown>) => void;
  /**
   * Commit in one synchronous LMDB transaction, on disk when {@link Backend.commit} returns,
   * instead of on lmdb-js's write thread: for the simulator, whose virtual time cannot wait
   * for another thread. Slower per commit; off by default.
   */
  readonly syncCommits?: boolean;
}

export class Backend {
  private readonly dbs: Map<Bucket, Database<Buffer, Buffer>>;
  private pending = new Map<Bucket, Map<string, PendingWrite>>();
  private pendingCount = 0;
  /** Committed but not yet landed write sets, oldest first, with their commit promises. */
  private inflight: {writes: Map<Bucket, Map<string, PendingWrite>>; done: Promise<void>}[] = [];
  private failure: unknown;
  /** Handles whose reads hand out LMDB's own value buffer, for {@link BackendReadView.transientRange}. */
  private transientDbs: Map<Bucket, Database<Buffer, Buffer>> | undefined;
  /** Read views still open, each settling when closed, with what asks it to stop. */
  private readonly views = new Map<Promise<void>, AbortController>();

  private constructor(
    private readonly dir: string,
    private env: RootDatabase,
    private readonly options: BackendOptions,
  ) {
    this.dbs = Backend.openBuckets(env);
  }

  /** Opens (creating if needed) the backend in directory `dir`. */
  static open(dir: string, options: BackendOptions = {}): Backend {
    fs.mkdirSync(dir, {recursive: true, mode: 0o700});
    fs.chmodSync(dir, 0o700);
    return new Backend(dir, Backend.openEnv(path.join(dir, BACKEND_FILE)), options);
  }

  private static openEnv(file: string): RootDatabase {
    return open({
      path: file,
      mapSize: INITIAL_MAP_BYTES,
      maxDbs: 16,
      compression: false,
      encoding: 'binary',
      keyEncoding: 'binary',
    });
  }

  private static openBuckets(env: RootDatabase): Map<Bucket, Database<Buffer, Buffer>> {
    const dbs = new Map<Bucket, Database<Buffer, Buffer>>();
    for (const b of BUCKETS) {
      dbs.set(b, env.openDB<Buffer, Buffer>(b, {encoding: 'binary', keyEncoding: 'binary'}));
    }
    return dbs;
  }

  /**
   * The buckets again, read through a decoder that returns a view of the buffer lmdb-js reads
   * each value into (its own, reused for the next read) instead of a copy, and keys likewise.
   * The same view is handed out again while the next entry's lies at the same place with the
   * same length (a revision key always; a value of the same size as the one before), so a
   * million-revision snapshot, which reads the key bucket twice, makes no Buffer per entry,
   * garbage that a member with a big heap pays dearly to collect.
   */
  private static openTransientBuckets(env: RootDatabase): Map<Bucket, Database<Buffer, Buffer>> {
    const value = viewCache();
    const encoder = {
      // lmdb-js sets the read buffer's own `length` to the value's.
      decode: (bytes: Buffer) => value(bytes, 0, bytes.length),
      encode: () => {
        throw new Error('internal: a transient backend handle is for reading');
      },
    };
    // lmdb-js takes a database's own encoder, though its typings list it for the root only.
    const options: DatabaseOptions & Pick<RootDatabaseOptions, 'encoder'> = {
      encoding: 'binary',
      keyEncoding: 'binary',
      encoder,
    };
    const dbs = new Map<Bucket, Database<Buffer, Buffer>>();
    for (const b of BUCKETS) {
      const db = env.openDB<Buffer, Buffer>(b, options);
      // Keys too: lmdb-js reads binary keys with a copy (`readKey`); a view of its key buffer.
      (db as unknown as KeyReader).readKey = viewCache();
      dbs.set(b, db);
    }
    return dbs;
  }

  /** The longest key a bucket takes (LMDB's limit, 1978 bytes with lmdb-js's defaults). */
  get maxKeyBytes(): number {
    return (this.env as unknown as {maxKeySize: number}).maxKeySize;
  }

  /**
   * Drops the buffered writes, for a member that stops in the middle of applying an entry:
   * they may hold part of that entry's effects, which must never reach the disk without
   * the rest. Writes already committed are kept.
   */
  discardPending(): void {
    this.pending = new Map();
    this.pendingCount = 0;
  }

  /** Number of buffered, uncommitted writes. */
  get pendingWrites(): number {
    return this.pendingCount;
  }

  get(bucket: Bucket, key: Uint8Array): Uint8Array | undefined {
    const mk = mapKey(key);
    const p = this.pending.get(bucket)?.get(mk);
    if (p !== undefined) return p.value;
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const w = this.inflight[i]?.writes.get(bucket)?.get(mk);
      if (w !== undefined) return w.value;
    }
    return this.db(bucket).getBinary(Buffer.from(key.buffer, key.byteOffset, key.byteLength));
  }

  put(bucket: Bucket, key: Uint8Array, value: Uint8Array): void {
    this.buffer(bucket, {key, value});
  }

  delete(bucket: Bucket, key: Uint8Array): void {
    this.buffer(bucket, {key, value: undefined});
  }

  /**
   * Fills empty buckets in bulk, for a snapshot restore: `fill` calls `append` for every
   * entry, each bucket's keys in ascending byte order, and they go straight into the B+tree
   * in one synchronous LMDB write transaction (MDB_APPEND: no search, leaves filled), which
   * is on disk when this returns. Key and value are copied during the call, so the caller
   * may reuse their memory. Nothing may be buffered; a throw from `fill` (or a key out of
   * order) aborts the whole transaction.
   *
   * Restoring a million revisions through {@link put} and {@link commit} keeps every write
   * in a Map until the commit and hands them to lmdb-js's write thread one by one; this
   * writes them as they are read.
   */
  loadSync(
    fill: (append: (bucket: Bucket, key: Uint8Array, value: Uint8Array) => void) => void,
  ): void {
    this.checkUsable();
    if (this.pendingCount > 0 || this.inflight.length > 0) {
      throw new Error('internal: loadSync with writes buffered or in flight');
    }
    const appendOnly = {append: true};
    this.env.transactionSync(() => {
      fill((bucket, key, value) => {
        const k = asBuffer(key);
        // lmdb-js answers false when LMDB refuses the append; its typings say void.
        const db = this.db(bucket) as unknown as AppendingDatabase;
        if (!db.putSync(k, asBuffer(value), appendOnly)) {
          throw new Error(`bucket ${bucket}: key 0x${k.toString('hex')} is not above the last one`);
        }
      });
    });
    this.env.resetReadTxn();
  }

  /**
   * Entries with `start <= key < end` (end undefined = no upper bound) in key byte order,
   * including buffered writes.
   */
  *range(bucket: Bucket, start: Uint8Array, end?: Uint8Array): Generator<BackendEntry> {
    const startKey = mapKey(start);
    const endKey = end === undefined ? undefined : mapKey(end);
    // Newer layers override older ones: in-flight oldest first, then the pending writes.
    const merged = new Map<string, PendingWrite>();
    for (const layer of [...this.inflight.map(f => f.writes), this.pending]) {
      for (const e of layer.get(bucket) ?? []) {
        if (e[0] >= startKey && (endKey === undefined || e[0] < endKey)) merged.set(e[0], e[1]);
      }
    }
    const pend = merged.size > 0 ? merged : undefined;
    const overlay = [...merged];
    overlay.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let oi = 0;
    const iter = this.db(bucket).getRange({
      start: Buffer.from(start),
      ...(end === undefined ? {} : {end: Buffer.from(end)}),
    });
    for (const {key, value} of iter) {
      const k = mapKey(key);
      while (oi < overlay.length && (overlay[oi] as [string, PendingWrite])[0] <= k) {
        const [ok, w] = overlay[oi] as [string, PendingWrite];
        oi++;
        if (ok === k) {
          if (w.value !== undefined) yield {key: w.key, value: w.value};
          continue;
        }
        if (w.value !== undefined) yield {key: w.key, value: w.value};
      }
      if (pend?.has(k) === true) continue;
      yield {key, value};
    }
    for (; oi < overlay.length; oi++) {
      const w = (overlay[oi] as [string, PendingWrite])[1];
      if (w.value !== undefined) yield {key: w.key, value: w.value};
    }
  }

  /**
   * Every committed entry of `bucket` in key order, straight from LMDB, without the merge
   * with buffered writes that {@link range} does (a string per key): for reading a whole
   * bucket of a backend nothing writes to, such as the copy a snapshot is made from.
   */
  committedRange(bucket: Bucket): Iterable<BackendEntry> {
    return this.db(bucket).getRange({});
  }

  /**
   * Commits what is buffered and opens a {@link BackendReadView} of the result. LMDB keeps the
   * pages the view reads until it is closed (the file may grow meanwhile), and
   * {@link defragment} waits for it: close it as soon as it has been read.
   */
  async readView(): Promise<BackendReadView> {
    await this.commit();
    // Opened before the transaction: opening a database ends lmdb-js's current read transaction.
    const transient = (this.transientDbs ??= Backend.openTransientBuckets(this.env));
    const transaction = this.env.useReadTransaction();
    let closed!: () => void;
    const done = new Promise<void>(resolve => (closed = resolve));
    const stop = new AbortController();
    this.views.set(done, stop);
    return {
      range: bucket => this.db(bucket).getRange({transaction}),
      transientRange: bucket =>
        (transient.get(bucket) as Database<Buffer, Buffer>).getRange({transaction}),
      get: (bucket, key) => this.db(bucket).get(asBuffer(key), {transaction}),
      signal: stop.signal,
      close: () => {
        if (!this.views.delete(done)) return;
        transaction.done();
        closed();
      },
    };
  }

  /**
   * The committed entry with the highest key of `bucket`, or undefined when it has none:
   * one read from the end of the B+tree. Buffered writes are not looked at (commit first).
   */
  lastCommitted(bucket: Bucket): BackendEntry | undefined {
    for (const {key, value} of this.db(bucket).getRange({reverse: true, limit: 1})) {
      return {key, value};
    }
    return undefined;
  }

  /**
   * Commits all buffered writes in one LMDB write transaction. Returns at once; the promise
   * resolves when the transaction is on disk. A rejection means the backend is unusable
   * (restart the member); leaving it unhandled ends the process, which is the intent.
   */
  commit(): Promise<void> {
    this.checkUsable();
    if (this.pendingCount === 0) return this.flushed();
    const writes = this.pending;
    this.pending = new Map();
    this.pendingCount = 0;
    const write = (): void => {
      for (const [bucket, bucketWrites] of writes) {
        const db = this.db(bucket);
        for (const w of bucketWrites.values()) {
          const k = Buffer.from(w.key.buffer, w.key.byteOffset, w.key.byteLength);
          if (w.value === undefined) void db.remove(k);
          else void db.put(k, Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength));
        }
      }
    };
    const landed =
      this.options.syncCommits === true ? this.commitSync(write) : this.env.batch(write);
    const entry = {
      writes,
      done: landed.then(
        () => {
          // Reads must see the landed data before its overlay goes.
          this.env.resetReadTxn();
          this.inflight.splice(this.inflight.indexOf(entry), 1);
        },
        (err: unknown) => {
          this.failure = err;
          throw err;
        },
      ),
    };
    this.inflight.push(entry);
    this.options.onCommit?.(landed);
    return entry.done;
  }

  private commitSync(write: () => void): Promise<void> {
    try {
      this.env.transactionSync(write);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Resolves when every commit so far is on disk. */
  async flushed(): Promise<void> {
    await Promise.all(this.inflight.map(f => f.done));
  }

  /** Size of the data file in bytes (what the file system holds). */
  sizeBytes(): number {
    return fs.statSync(path.join(this.dir, BACKEND_FILE)).size;
  }

  /** Bytes of the data file in use by B+tree pages (the rest is free-listed). */
  sizeInUseBytes(): number {
    const stats = this.env.getStats() as LmdbStats;
    let pages = 2 + treePages(stats);
    for (const db of this.dbs.values()) pages += treePages(db.getStats() as LmdbStats);
    return pages * stats.pageSize;
  }

  /**
   * Rewrites the data file compactly, returning free pages to the file system. Commits
   * buffered writes first. Writes a compacted copy next to the file, then swaps it in by
   * rename and reopens.
   */
  async defragment(): Promise<void> {
    // The environment is reopened below: no read view may hold a transaction of the old one.
    while (this.views.size > 0) await Promise.all(this.views.keys());
    await this.commit();
    const file = path.join(this.dir, BACKEND_FILE);
    const tmp = path.join(this.dir, `${BACKEND_FILE}.defrag.tmp`);
    fs.rmSync(tmp, {force: true});
    await this.env.backup(tmp, true);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    await this.env.close();
    fs.renameSync(tmp, file);
    fs.rmSync(`${file}-lock`, {force: true});
    const dirFd = fs.openSync(this.dir, 'r');
    fs.fsyncSync(dirFd);
    fs.closeSync(dirFd);
    this.env = Backend.openEnv(file);
    this.transientDbs = undefined;
    const dbs = Backend.openBuckets(this.env);
    for (const [b, db] of dbs) this.dbs.set(b, db);
  }

  /**
   * Writes a consistent copy of the data file to `file` (a new LMDB file), for snapshots
   * sent to followers and for backups. Commits buffered writes first. With `compact`, free
   * pages are left out.
   */
  async copyTo(file: string, compact = true): Promise<void> {
    await this.commit();
    await this.env.backup(file, compact);
  }

  /** CRC-32C over every bucket's keys and values, committed or buffered. */
  hash(): number {
    let h = 0;
    for (const b of BUCKETS) {
      h = crc32c(h, Buffer.from(b));
      for (const {key, value} of this.range(b, new Uint8Array(0))) {
        h = crc32c(crc32c(h, key), value);
      }
    }
    return h;
  }

  async close(): Promise<void> {
    await this.commit();
    // A transaction must end before its environment closes.
    for (const stop of this.views.values()) stop.abort();
    while (this.views.size > 0) await Promise.all(this.views.keys());
    await this.env.close();
  }

  private checkUsable(): void {
    if (this.failure !== undefined) {
      throw new Error('backend is unusable after a failed commit; restart the member', {
        cause: this.failure,
      });
    }
  }

  private buffer(bucket: Bucket, w: PendingWrite): void {
    this.checkUsable();
    // Refused here, where the caller can still answer with an error, rather than when the
    // batch commits later and nothing but stopping is left.
    if (w.key.length > this.maxKeyBytes || w.key.length === 0) {
      throw new BackendKeyError(bucket, w.key.length, this.maxKeyBytes);
    }
    let m = this.pending.get(bucket);
    if (m === undefined) {
      m = new Map();
      this.pending.set(bucket, m);
    }
    m.set(mapKey(w.key), w);
    this.pendingCount++;
  }

  private db(bucket: Bucket): Database<Buffer, Buffer> {
    const db = this.dbs.get(bucket);
    if (db === undefined) throw new Error(`unknown bucket ${bucket}`);
    return db;
  }
}

interface LmdbStats {
  readonly pageSize: number;
  readonly treeBranchPageCount: number;
  readonly treeLeafPageCount: number;
  readonly overflowPages: number;
}

/** lmdb-js's putSync as it behaves: false when LMDB refused the write. */
interface AppendingDatabase {
  putSync(key: Buffer, value: Buffer, options: {append: boolean}): boolean;
}

/** How lmdb-js takes a key out of the buffer it read it into. */
/**
 * `(bytes, start, end) => bytes[start, end)`, the view made last time again when asked for the
 * same range of the same buffer: lmdb-js reads every key and value into one buffer of its own.
 */
function viewCache(): (bytes: Buffer, start: number, end: number) => Buffer {
  let lastBytes: Buffer | undefined;
  let lastStart = 0;
  let lastEnd = 0;
  let view: Buffer = Buffer.alloc(0);
  return (bytes, start, end) => {
    if (bytes !== lastBytes || start !== lastStart || end !== lastEnd) {
      view = bytes.subarray(start, end);
      lastBytes = bytes;
      lastStart = start;
      lastEnd = end;
    }
    return view;
  };
}

interface KeyReader {
  readKey: (bytes: Buffer, start: number, end: number) => Buffer;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

const treePages = (s: LmdbStats): number =>
  s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
