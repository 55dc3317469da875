import {open} from 'node:fs/promises';

import {
  BRANCH_PAGE,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  compareBytes,
  ELEMENT_BYTES,
  encodeMetaPage,
  FREELIST_PAGE,
  LEAF_PAGE,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  MIN_KEYS_PER_PAGE,
  PAGE_HEADER_BYTES,
  writePageHeader,
} from './bbolt-layout.js';

/**
 * A key with a value, or a key naming a nested bucket: with its own items, or with a `fill`
 * that writes its entries straight into the pages.
 */
export type BboltItem =
  | {
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      readonly bucket?: undefined;
      readonly fill?: undefined;
    }
  | {
      readonly key: Uint8Array;
      readonly bucket: BboltItems;
      readonly value?: undefined;
      readonly fill?: undefined;
    }
  | {
      readonly key: Uint8Array;
      readonly fill: BboltFill;
      readonly value?: undefined;
      readonly bucket?: undefined;
    };

/**
 * Writes a bucket of plain values without an object per entry: for each entry, in ascending
 * key order, `sink.entry(keyBytes, valueBytes)` returns where in `sink.bytes` the key goes,
 * the value right after it; the caller writes them there before its next call. Awaiting
 * `sink.flush()` now and then lets finished pages go out.
 *
 * A fill is called twice, and must give the same entries both times: first to measure
 * (`sink.measuring` is true, and the bytes need not be written: only the sizes count), so that
 * the meta pages, which come first in the file, can say where the root is and how many pages
 * there are before any other page is written; then to write.
 */
export type BboltFill = (sink: BboltSink) => Promise<void> | void;

/** What a {@link BboltFill} writes into. */
export interface BboltSink {
  /** Room for one entry; returns the offset of its key in {@link bytes}. */
  entry(keyBytes: number, valueBytes: number): number;
  /** The buffer the last {@link entry} call's offset is in (it may change at each call). */
  readonly bytes: Buffer;
  /** Hands out the pages finished so far, when enough of them are waiting. */
  flush(): Promise<void>;
  /** True in the call that only measures: what is written into {@link bytes} is ignored. */
  readonly measuring: boolean;
}

/** A bucket's items in strictly ascending key (byte) order. */
export type BboltItems = Iterable<BboltItem> | AsyncIterable<BboltItem>;

/** Options of {@link writeBboltFile} and {@link streamBboltFile}. */
export interface BboltWriteOptions {
  /** 4096 by default, Linux's page size, which bbolt uses. */
  readonly pageSize?: number;
  /**
   * How full a page gets before the next one is started, as bbolt's `FillPercent`.
   * 0.9 by default: what etcd's defragmentation uses; bbolt's own default is 0.5.
   */
  readonly fillPercent?: number;
  /**
   * Whether the file is fsynced before the promise resolves; true by default. A file that is
   * read back at once and deleted need not wait for the disk.
   */
  readonly sync?: boolean;
}

/** Options of {@link streamBboltFile}. */
export interface BboltStreamOptions extends BboltWriteOptions {
  /** Stops the building (the iteration then throws), as the reader stopping it does. */
  readonly signal?: AbortSignal;
  /**
   * Called once the building is over, whether the file was built or the building stopped,
   * before the last chunk is taken: where what the items are read from can be released.
   */
  readonly onBuilt?: () => void;
  /** Told the file's size once it is measured, before the first chunk is handed out. */
  readonly onMeasured?: (file: BboltWriteResult) => void;
  /**
   * Fill a chunk again once the next one has been taken, instead of a new one each time: for a
   * reader done with each chunk before it asks for the next (one that sends or hashes it).
   * A fresh megabyte costs a page fault per 4 KiB when it is first written.
   */
  readonly reuseChunks?: boolean;
}

/** What {@link writeBboltFile} wrote. */
export interface BboltWriteResult {
  /** Length of the file: `pages * pageSize`. */
  readonly sizeBytes: number;
  readonly pages: number;
}

/**
 * Pages are handed out in chunks of about this size (a page run bigger than it makes a chunk
 * of its own), and the event loop is given a turn after each: a member converting its store
 * at about 1 µs per record of 256 B holds its loop for a few ms per chunk. The chunks are the
 * messages of a streamed snapshot, and the writes of a file.
 */
const CHUNK_BYTES = 1024 * 1024;
/** Chunks kept for reuse: one being filled and two waiting are all a stream holds. */
const MAX_SPARE_CHUNKS = 4;

/** A branch element: a child page's first key and id. */
interface Child {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/**
 * Writes a bbolt file at `path` (replacing any file there) holding `buckets`, the top-level
 * buckets: every item of it must be a bucket, as in bbolt's root. The pages are those of
 * {@link streamBboltFile}, written in order. The file is fsynced (unless `sync` is false)
 * before the promise resolves.
 */
export async function writeBboltFile(
  path: string,
  buckets: BboltItems,
  options: BboltWriteOptions = {},
): Promise<BboltWriteResult> {
  const handle = await open(path, 'w', 0o600);
  let position = 0;
  /** The write under way, if any: one at a time, in file order, while the next chunk is built. */
  let writing: Promise<void> = Promise.resolve();
  const writeAll = async (chunk: Buffer, at: number): Promise<void> => {
    for (let done = 0; done < chunk.length; ) {
      const {bytesWritten} = await handle.write(chunk, done, chunk.length - done, at + done);
      done += bytesWritten;
    }
  };
  try {
    const result = await buildBbolt(buckets, options, undefined, async chunk => {
      await writing;
      writing = writeAll(chunk, position);
      // A failed write is reported by the next await of `writing`, not as unhandled.
      writing.catch(() => undefined);
      position += chunk.length;
    });
    await writing;
    if (options.sync !== false) await handle.sync();
    return result;
  } finally {
    await writing.catch(() => undefined);
    await handle.close();
  }
}

/**
 * The bbolt file holding `buckets` (see {@link writeBboltFile}), as chunks of about 1 MiB in
 * file order, built as they are taken: no file, and no more than two chunks waiting. Stopping
 * the iteration early stops the building. Returns what {@link writeBboltFile} returns.
 *
 * The file is compact: no free pages, leaves filled to `fillPercent`, branch levels as needed,
 * values bigger than a page on overflow runs, an (empty) freelist page. The two meta pages
 * come first, so the buckets are walked twice: once to measure where every page goes (a
 * {@link BboltFill} is told so, and need not write its bytes), and once to write the pages
 * in order. The walks must see the same entries; a difference is an error.
 *
 * Pages are written bottom-up as the items arrive: a bucket's leaves first, then its branch
 * levels, and a nested bucket's pages before the leaf of its parent that points at them.
 * Memory holds one leaf per open bucket and one first key per leaf page, so a million-key
 * bucket costs only its branch keys. Small buckets without nested buckets are stored inline
 * in their parent, as bbolt does (up to a quarter of a page). A bucket given as a one-shot
 * iterable (a generator) is kept in memory between the walks; give big buckets as a fill.
 *
 * Example: one bucket `k` of three small keys makes a file of 4 pages: 0 and 1 the metas
 * (txid 0 and 1, root 2, freelist 3, high-water mark 4), 2 the root leaf with the single
 * element `k` whose value is its inline page, 3 the empty freelist. With 10,000 keys in
 * `k`, `k` gets its own leaves (pages 2 to n), then branch pages over them, then the root
 * leaf pointing at the top branch page, then the freelist.
 */
export async function* streamBboltFile(
  buckets: BboltItems,
  options: BboltStreamOptions = {},
): AsyncGenerator<Buffer, BboltWriteResult> {
  const queue: Buffer[] = [];
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  let stopped = false;
  const signal = options.signal;
  const onAbort = (): void => wakeProducer?.();
  signal?.addEventListener('abort', onAbort);
  let outcome: {result: BboltWriteResult} | {error: unknown} | undefined;
  const checkGoing = (): void => {
    if (stopped) throw new Error('bbolt stream stopped by its reader');
    signal?.throwIfAborted();
  };
  const spare: Buffer[] | undefined = options.reuseChunks === true ? [] : undefined;
  const producer = (async () => {
    try {
      checkGoing();
      return await buildBbolt(buckets, options, spare, async chunk => {
        checkGoing();
        queue.push(chunk);
        wakeConsumer?.();
        if (queue.length >= 2) await new Promise<void>(resolve => (wakeProducer = resolve));
        checkGoing();
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      options.onBuilt?.();
    }
  })().then(
    result => {
      outcome = {result};
      wakeConsumer?.();
    },
    (error: unknown) => {
      outcome = {error};
      wakeConsumer?.();
    },
  );
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        wakeProducer?.();
        wakeProducer = undefined;
        yield chunk;
        // Asked for the next: this one is free again.
        if (spare !== undefined && spare.length < MAX_SPARE_CHUNKS) {
          if (chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES) {
            spare.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
          }
        }
        continue;
      }
      if (outcome !== undefined) {
        if ('error' in outcome) throw outcome.error;
        return outcome.result;
      }
      await new Promise<void>(resolve => (wakeConsumer = resolve));
      wakeConsumer = undefined;
    }
  } finally {
    stopped = true;
    wakeProducer?.();
    await producer;
  }
}

/**
 * Measures, then builds, the file, handing its chunks in order to `emit`, which may hold the
 * builder back by not resolving.
 */
async function buildBbolt(
  buckets: BboltItems,
  options: BboltStreamOptions,
  spare: Buffer[] | undefined,
  emit: (chunk: Buffer) => Promise<void>,
): Promise<BboltWriteResult> {
  const pageSize = options.pageSize ?? 4096;
  if (pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`bbolt page size ${pageSize} is not a power of two from 1024 to 65536`);
  }
  const fill = Math.min(1, Math.max(0.1, options.fillPercent ?? 0.9));
  const thresholdBytes = Math.floor(pageSize * fill);
  const replay = new Map<BboltItems, BboltItem[]>();

  const measured = new PageOutput(pageSize, undefined);
  const measuredRoot = await new TreeBuilder(measured, thresholdBytes, replay).writeRoot(buckets);
  const freelistPgid = measured.allocate(1);
  const pages = measured.nextPgid;
  options.onMeasured?.({sizeBytes: pages * pageSize, pages});

  const metas = [0, 1].map(pgid =>
    encodeMetaPage(
      {
        pageSize,
        flags: 0,
        rootPgid: measuredRoot,
        rootSequence: 0n,
        freelistPgid,
        highWaterPgid: pages,
        txid: BigInt(pgid),
      },
      pgid as 0 | 1,
    ),
  );
  const out = new PageOutput(pageSize, emit, Buffer.concat(metas), spare);
  const rootPgid = await new TreeBuilder(out, thresholdBytes, replay).writeRoot(buckets);
  const freelistAt = out.allocate(1);
  writePageHeader(out.bytes, freelistAt, FREELIST_PAGE, 0, 0, out.at);
  if (rootPgid !== measuredRoot || freelistAt !== freelistPgid || out.nextPgid !== pages) {
    throw new Error(
      `bbolt: the buckets changed between measuring and writing (root page ${measuredRoot}, ` +
        `${pages} pages measured; root page ${rootPgid}, ${out.nextPgid} pages written)`,
    );
  }
  await out.finish();
  return {sizeBytes: pages * pageSize, pages};
}

/**
 * Hands out page ids in order and, unless it only measures, the bytes of each page run, in
 * chunks that go to `emit` in file order.
 */
class PageOutput {
  /** Invariant: every page below it is in a chunk already emitted, waiting, or being filled. */
  nextPgid = 2;
  /** The chunk being filled; the last {@link allocate}d run is at {@link at} in it. */
  bytes: Buffer;
  at = 0;
  private used: number;
  private readonly ready: Buffer[] = [];

  constructor(
    readonly pageSize: number,
    /** undefined: measure only; no page is written. */
    private readonly emit: ((chunk: Buffer) => Promise<void>) | undefined,
    head?: Buffer,
    /** Chunks of {@link CHUNK_BYTES} free to be filled again, if chunks are reused. */
    private readonly spare?: Buffer[],
  ) {
    this.bytes = emit === undefined ? Buffer.alloc(0) : Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = head === undefined ? 0 : head.copy(this.bytes, 0);
  }

  get measuring(): boolean {
    return this.emit === undefined;
  }

  /**
   * Allocates the next run of `pages` pages and returns its id; unless measuring, its bytes
   * are zeros at {@link at} in {@link bytes}, for the caller to fill before the next call.
   */
  allocate(pages: number): number {
    const pgid = this.nextPgid;
    this.nextPgid += pages;
    if (this.emit === undefined) return pgid;
    const size = pages * this.pageSize;
    if (this.used + size > this.bytes.length) {
      if (this.used > 0) this.ready.push(this.bytes.subarray(0, this.used));
      this.bytes =
        size <= CHUNK_BYTES
          ? (this.spare?.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES))
          : Buffer.allocUnsafe(size);
      this.used = 0;
    }
    this.at = this.used;
    this.used += size;
    this.bytes.fill(0, this.at, this.used);
    return pgid;
  }

  /** Hands out the chunks that are full, and gives the event loop a turn after each. */
  async flushIfFull(): Promise<void> {
    if (this.emit === undefined) return;
    while (this.ready.length > 0) {
      await this.emit(this.ready.shift() as Buffer);
      await new Promise(resolve => setImmediate(resolve));
    }
  }

  /** Hands out everything, the chunk being filled included. */
  async finish(): Promise<void> {
    if (this.used > 0) this.ready.push(this.bytes.subarray(0, this.used));
    this.used = 0;
    await this.flushIfFull();
  }
}

/** Builds bucket trees bottom-up onto a {@link PageOutput}. */
class TreeBuilder {
  constructor(
    readonly out: PageOutput,
    /** A page is closed once the next element would take it past this many bytes. */
    readonly thresholdBytes: number,
    /** One-shot iterables met while measuring, kept for the walk that writes. */
    private readonly replay: Map<BboltItems, BboltItem[]>,
  ) {}

  /** Writes the root bucket's tree (never inline) and returns its root page id. */
  async writeRoot(buckets: BboltItems): Promise<number> {
    const root = await this.writeBucket(buckets, false, '(root)');
    if (typeof root !== 'number') throw new Error('internal: the root bucket came out inline');
    return root;
  }

  /**
   * Writes one bucket. Returns its root page id, or, when `inlineAllowed` and the bucket is
   * small and has no nested buckets, the bytes of its inline page.
   */
  async writeBucket(
    given: BboltItems,
    inlineAllowed: boolean,
    name: string,
  ): Promise<number | Buffer> {
    const leaves = new LeafBuilder(this, name);
    const items = this.replay.get(given) ?? given;
    const kept: BboltItem[] | undefined =
      this.out.measuring && !Array.isArray(items) ? [] : undefined;
    if (kept !== undefined) this.replay.set(given, kept);
    for await (const item of items) {
      kept?.push(item);
      let flags = 0;
      let value: Uint8Array;
      if (item.value !== undefined) {
        if (name === '(root)') {
          throw new Error(
            `bbolt root holds buckets only, but got a value for key ${hex(item.key)}`,
          );
        }
        if (item.value.length > MAX_VALUE_BYTES) {
          throw new RangeError(
            `bucket ${name}: value of ${item.value.length} bytes is over bbolt's limit`,
          );
        }
        value = item.value;
      } else {
        const childName = `${name}/${Buffer.from(item.key).toString('latin1')}`;
        const child =
          item.bucket !== undefined
            ? await this.writeBucket(item.bucket, true, childName)
            : await this.fillBucket(item.fill, childName);
        flags = BUCKET_LEAF_FLAG;
        value = bucketValue(child);
      }
      const at = leaves.entry(flags, item.key.length, value.length);
      leaves.bytes.set(item.key, at);
      leaves.bytes.set(value, at + item.key.length);
      await this.out.flushIfFull();
    }
    return leaves.finish(inlineAllowed);
  }

  /** Writes a bucket whose entries `fill` writes in place (inline when small). */
  private async fillBucket(fill: BboltFill, name: string): Promise<number | Buffer> {
    const leaves = new LeafBuilder(this, name);
    const out = this.out;
    await fill({
      entry: (keyBytes, valueBytes) => leaves.entry(0, keyBytes, valueBytes),
      get bytes() {
        return leaves.bytes;
      },
      flush: () => out.flushIfFull(),
      measuring: out.measuring,
    });
    return leaves.finish(true);
  }

  /** Writes branch levels over `children` until one page is left; returns its id. */
  writeBranches(children: Child[]): number {
    let level = children;
    while (level.length > 1) {
      const next: Child[] = [];
      let current: Child[] = [];
      let currentBytes = PAGE_HEADER_BYTES;
      const fitsOnePage =
        level.reduce((n, c) => n + ELEMENT_BYTES + c.key.length, PAGE_HEADER_BYTES) <=
        this.out.pageSize;
      for (const child of level) {
        const bytes = ELEMENT_BYTES + child.key.length;
        if (
          !fitsOnePage &&
          current.length >= MIN_KEYS_PER_PAGE &&
          currentBytes + bytes > this.thresholdBytes
        ) {
          next.push(this.writeBranch(current, currentBytes));
          current = [];
          currentBytes = PAGE_HEADER_BYTES;
        }
        current.push(child);
        currentBytes += bytes;
      }
      next.push(this.writeBranch(current, currentBytes));
      level = next;
    }
    return (level[0] as Child).pgid;
  }

  /** One branch page (run) over `children`, whose elements and keys take `bytes`. */
  private writeBranch(children: readonly Child[], bytes: number): Child {
    const out = this.out;
    const pages = Math.max(1, Math.ceil(bytes / out.pageSize));
    const pgid = out.allocate(pages);
    const first = (children[0] as Child).key;
    if (out.measuring) return {key: first, pgid};
    const page = out.bytes;
    const start = out.at;
    writePageHeader(page, pgid, BRANCH_PAGE, children.length, pages - 1, start);
    let data = start + PAGE_HEADER_BYTES + children.length * ELEMENT_BYTES;
    let el = start + PAGE_HEADER_BYTES;
    for (const c of children) {
      page.writeUInt32LE(data - el, el);
      page.writeUInt32LE(c.key.length, el + 4);
      page.writeUInt32LE(c.pgid % 0x100000000, el + 8);
      page.writeUInt32LE(Math.floor(c.pgid / 0x100000000), el + 12);
      page.set(c.key, data);
      data += c.key.length;
      el += ELEMENT_BYTES;
    }
    return {key: first, pgid};
  }
}

/**
 * The leaves of one bucket, written as its entries arrive. The entries of the page being
 * filled lie in one scratch buffer (key then value, entry after entry) with their sizes
 * beside it, so a page is one copy of the scratch behind its element headers, and an entry
 * costs no object.
 *
 * Invariants: `count` entries are pending, entry i's key starts at `starts[i]`; they take
 * `pendingBytes` of a page (header included); every pending entry but the last has been
 * checked to come after the one before it (and the first after `lastKey`).
 */
class LeafBuilder {
  bytes: Buffer = Buffer.allocUnsafe(16 * 1024);
  private used = 0;
  private count = 0;
  private flags = new Uint32Array(256);
  private starts = new Uint32Array(256);
  private keyLengths = new Uint32Array(256);
  private valueLengths = new Uint32Array(256);
  private pendingBytes = PAGE_HEADER_BYTES;
  /** Set once the bucket outgrows one page: from then on pages close at the threshold. */
  private splitting = false;
  private hasBucket = false;
  /** The last key of the pages already written. */
  private lastKey: Buffer | undefined;
  private readonly children: Child[] = [];

  constructor(
    private readonly tree: TreeBuilder,
    private readonly name: string,
  ) {}

  /** Makes room for the next entry; returns the offset of its key in {@link bytes}. */
  entry(flags: number, keyBytes: number, valueBytes: number): number {
    if (keyBytes === 0) throw new RangeError(`bucket ${this.name}: empty key`);
    if (keyBytes > MAX_KEY_BYTES) {
      throw new RangeError(
        `bucket ${this.name}: key of ${keyBytes} bytes is over bbolt's ${MAX_KEY_BYTES}`,
      );
    }
    if (this.count > 0) this.checkOrder(this.count - 1);
    const elementBytes = ELEMENT_BYTES + keyBytes + valueBytes;
    const pageSize = this.tree.out.pageSize;
    if (!this.splitting && this.pendingBytes + elementBytes > pageSize) {
      // bbolt splits only a node bigger than a page, so a bucket that fits one page stays
      // one page; past that, what is pending is packed at the threshold like the rest.
      this.splitting = true;
      this.repack();
    }
    if (
      this.splitting &&
      this.count >= MIN_KEYS_PER_PAGE &&
      this.pendingBytes + elementBytes > this.tree.thresholdBytes
    ) {
      this.writeLeaves(this.count);
    }
    const i = this.count++;
    if (i >= this.starts.length) this.growEntries();
    if (this.used + keyBytes + valueBytes > this.bytes.length) {
      this.growBytes(keyBytes + valueBytes);
    }
    this.flags[i] = flags;
    this.starts[i] = this.used;
    this.keyLengths[i] = keyBytes;
    this.valueLengths[i] = valueBytes;
    this.used += keyBytes + valueBytes;
    this.pendingBytes += elementBytes;
    if (flags === BUCKET_LEAF_FLAG) this.hasBucket = true;
    return this.used - keyBytes - valueBytes;
  }

  /** Writes what is pending; returns the bucket's root page id, or its inline page. */
  finish(inlineAllowed: boolean): number | Buffer {
    if (this.count > 0) this.checkOrder(this.count - 1);
    const pageSize = this.tree.out.pageSize;
    if (this.children.length === 0) {
      if (inlineAllowed && !this.hasBucket && this.pendingBytes <= pageSize / 4) {
        const page = Buffer.alloc(this.pendingBytes);
        this.encodeLeaf(0, this.count, 0, 0, page, 0);
        return page;
      }
      this.writeLeaves(this.count);
      return (this.children[0] as Child).pgid;
    }
    if (this.count > 0) this.writeLeaves(this.count);
    return this.tree.writeBranches(this.children);
  }

  /** Packs the pending entries into pages at the threshold, keeping the last page's open. */
  private repack(): void {
    let bytes = PAGE_HEADER_BYTES;
    let first = 0;
    for (let i = 0; i < this.count; i++) {
      const e = this.elementBytes(i);
      if (i - first >= MIN_KEYS_PER_PAGE && bytes + e > this.tree.thresholdBytes) {
        this.writePage(first, i);
        first = i;
        bytes = PAGE_HEADER_BYTES;
      }
      bytes += e;
    }
    this.dropWritten(first);
  }

  /** Writes pending entries [0, end) as one page and drops them from the scratch. */
  private writeLeaves(end: number): void {
    this.writePage(0, end);
    this.dropWritten(end);
  }

  private writePage(from: number, to: number): void {
    let bytes = PAGE_HEADER_BYTES;
    for (let i = from; i < to; i++) bytes += this.elementBytes(i);
    const out = this.tree.out;
    const pages = Math.max(1, Math.ceil(bytes / out.pageSize));
    const pgid = out.allocate(pages);
    const start = this.starts[from] ?? 0;
    const keyBytes = to > from ? (this.keyLengths[from] ?? 0) : 0;
    if (out.measuring) {
      // Only the first key's length counts when measuring (a branch element's size).
      this.children.push({key: new Uint8Array(keyBytes), pgid});
      return;
    }
    this.encodeLeaf(from, to, pgid, pages - 1, out.bytes, out.at);
    this.children.push({key: Buffer.from(this.bytes.subarray(start, start + keyBytes)), pgid});
    if (to > from) {
      const last = to - 1;
      const lastStart = this.starts[last] ?? 0;
      this.lastKey = Buffer.from(
        this.bytes.subarray(lastStart, lastStart + (this.keyLengths[last] ?? 0)),
      );
    }
  }

  /** Moves pending entries [from, count) to the front of the scratch. */
  private dropWritten(from: number): void {
    const base = from < this.count ? (this.starts[from] ?? 0) : this.used;
    this.bytes.copyWithin(0, base, this.used);
    this.used -= base;
    let bytes = PAGE_HEADER_BYTES;
    for (let i = from; i < this.count; i++) {
      const j = i - from;
      this.flags[j] = this.flags[i] ?? 0;
      this.starts[j] = (this.starts[i] ?? 0) - base;
      this.keyLengths[j] = this.keyLengths[i] ?? 0;
      this.valueLengths[j] = this.valueLengths[i] ?? 0;
      bytes += this.elementBytes(j);
    }
    this.count -= from;
    this.pendingBytes = bytes;
  }

  /**
   * Writes pending entries [from, to) as a leaf page at `at` in `page`, whose bytes there are
   * zeros: a page run, or an inline page's exact size.
   */
  private encodeLeaf(
    from: number,
    to: number,
    pgid: number,
    overflow: number,
    page: Buffer,
    at: number,
  ): void {
    const count = to - from;
    if (count > 0xffff) throw new Error(`internal: ${count} elements on one page`);
    writePageHeader(page, pgid, LEAF_PAGE, count, overflow, at);
    const dataAt = PAGE_HEADER_BYTES + count * ELEMENT_BYTES;
    const base = this.starts[from] ?? 0;
    let el = PAGE_HEADER_BYTES;
    for (let i = from; i < to; i++, el += ELEMENT_BYTES) {
      page.writeUInt32LE(this.flags[i] ?? 0, at + el);
      page.writeUInt32LE(dataAt + (this.starts[i] ?? 0) - base - el, at + el + 4);
      page.writeUInt32LE(this.keyLengths[i] ?? 0, at + el + 8);
      page.writeUInt32LE(this.valueLengths[i] ?? 0, at + el + 12);
    }
    const end = to > from ? (this.starts[to - 1] ?? 0) + this.entryBytes(to - 1) : base;
    this.bytes.copy(page, at + dataAt, base, end);
  }

  /**
   * Checks that pending entry `i` comes after the one before it. Not while measuring: the
   * bytes may not have been written then.
   */
  private checkOrder(i: number): void {
    if (this.tree.out.measuring) return;
    const start = this.starts[i] ?? 0;
    const end = start + (this.keyLengths[i] ?? 0);
    let after: boolean;
    if (i > 0) {
      const p = this.starts[i - 1] ?? 0;
      after =
        compareBytes(this.bytes, start, end, this.bytes, p, p + (this.keyLengths[i - 1] ?? 0)) > 0;
    } else {
      after =
        this.lastKey === undefined ||
        compareBytes(this.bytes, start, end, this.lastKey, 0, this.lastKey.length) > 0;
    }
    if (!after) {
      const p = i > 0 ? (this.starts[i - 1] ?? 0) : 0;
      const previous =
        i > 0
          ? this.bytes.toString('hex', p, p + (this.keyLengths[i - 1] ?? 0))
          : (this.lastKey as Buffer).toString('hex');
      throw new RangeError(
        `bucket ${this.name}: key ${this.bytes.toString('hex', start, end)} does not come after ${previous}; items must be in ascending key order`,
      );
    }
  }

  private entryBytes(i: number): number {
    return (this.keyLengths[i] ?? 0) + (this.valueLengths[i] ?? 0);
  }

  private elementBytes(i: number): number {
    return ELEMENT_BYTES + this.entryBytes(i);
  }

  private growEntries(): void {
    const grow = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.flags = grow(this.flags);
    this.starts = grow(this.starts);
    this.keyLengths = grow(this.keyLengths);
    this.valueLengths = grow(this.valueLengths);
  }

  private growBytes(more: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + more));
    this.bytes.copy(next, 0, 0, this.used);
    this.bytes = next;
  }
}

/** A nested bucket's value: header {root, sequence 0}, and the inline page if inline. */
function bucketValue(child: number | Buffer): Buffer {
  const header = Buffer.alloc(BUCKET_HEADER_BYTES);
  if (typeof child === 'number') {
    header.writeBigUInt64LE(BigInt(child), 0);
    return header;
  }
  return Buffer.concat([header, child]);
}

function hex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}
