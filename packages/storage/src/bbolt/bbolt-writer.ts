import {open} from 'node:fs/promises';
import type {FileHandle} from 'node:fs/promises';

import {
  BRANCH_PAGE,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
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
 * `sink.flush()` now and then lets finished pages go to the file.
 */
export type BboltFill = (sink: BboltSink) => Promise<void> | void;

/** What a {@link BboltFill} writes into. */
export interface BboltSink {
  /** Room for one entry; returns the offset of its key in {@link bytes}. */
  entry(keyBytes: number, valueBytes: number): number;
  /** The buffer the last {@link entry} call's offset is in (it may change at each call). */
  readonly bytes: Buffer;
  /** Writes out the pages finished so far, when enough of them are waiting. */
  flush(): Promise<void>;
}

/** A bucket's items in strictly ascending key (byte) order. */
export type BboltItems = Iterable<BboltItem> | AsyncIterable<BboltItem>;

/** Options of {@link writeBboltFile}. */
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
   * read back at once and deleted (a snapshot being streamed) need not wait for the disk.
   */
  readonly sync?: boolean;
}

/** What {@link writeBboltFile} wrote. */
export interface BboltWriteResult {
  /** Length of the file: `pages * pageSize`. */
  readonly sizeBytes: number;
  readonly pages: number;
}

/**
 * Output is gathered into writes of about this size, and the event loop is given a turn after
 * each: a member converting its store at about 3 µs per record of 256 B holds its loop for
 * about 10 ms per MiB. The write runs while the next chunk is converted; awaiting each
 * write of 256 KiB instead made a save of a million keys take 17 s of wall time for 5 s of
 * CPU on a loaded machine, each write waiting for a threadpool thread.
 */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/** A branch element: a child page's first key and id. */
interface Child {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/**
 * Writes a bbolt file at `path` (replacing any file there) holding `buckets`, the top-level
 * buckets: every item of it must be a bucket, as in bbolt's root. The file is compact: no
 * free pages, leaves filled to `fillPercent`, branch levels as needed, values bigger than a
 * page on overflow runs, a (empty) freelist page, and both meta pages. It is fsynced (unless
 * `sync` is false) before
 * the promise resolves.
 *
 * Pages are written bottom-up as the items arrive: a bucket's leaves first, then its branch
 * levels, and a nested bucket's pages before the leaf of its parent that points at them.
 * Memory holds one leaf per open bucket and one first key per leaf page, so a million-key
 * bucket costs only its branch keys. Small buckets without nested buckets are stored inline
 * in their parent, as bbolt does (up to a quarter of a page).
 *
 * Example: one bucket `k` of three small keys makes a file of 4 pages: 0 and 1 the metas
 * (txid 0 and 1, root 2, freelist 3, high-water mark 4), 2 the root leaf with the single
 * element `k` whose value is its inline page, 3 the empty freelist. With 10,000 keys in
 * `k`, `k` gets its own leaves (pages 2 to n), then branch pages over them, then the root
 * leaf pointing at the top branch page, then the freelist.
 */
export async function writeBboltFile(
  path: string,
  buckets: BboltItems,
  options: BboltWriteOptions = {},
): Promise<BboltWriteResult> {
  const pageSize = options.pageSize ?? 4096;
  if (pageSize < 1024 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`bbolt page size ${pageSize} is not a power of two from 1024 to 65536`);
  }
  const fill = Math.min(1, Math.max(0.1, options.fillPercent ?? 0.9));
  const handle = await open(path, 'w', 0o600);
  const out = new PageOutput(handle, pageSize);
  try {
    const builder = new TreeBuilder(out, Math.floor(pageSize * fill));
    const rootPgid = await builder.writeRoot(buckets);
    const freelistPgid = out.allocate(1);
    const freelist = Buffer.alloc(pageSize);
    writePageHeader(freelist, freelistPgid, FREELIST_PAGE, 0, 0);
    out.append(freelist);
    await out.flush();
    const pages = out.nextPgid;
    for (const pgid of [0, 1] as const) {
      const meta = encodeMetaPage(
        {
          pageSize,
          flags: 0,
          rootPgid,
          rootSequence: 0n,
          freelistPgid,
          highWaterPgid: pages,
          txid: BigInt(pgid),
        },
        pgid,
      );
      await handle.write(meta, 0, pageSize, pgid * pageSize);
    }
    if (options.sync !== false) await handle.sync();
    return {sizeBytes: pages * pageSize, pages};
  } finally {
    await out.settled();
    await handle.close();
  }
}

/** Hands out page ids in order and writes pages sequentially from page 2. */
class PageOutput {
  /** Invariant: every page below it is in `buffered` or on disk. */
  nextPgid = 2;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private writtenPgid = 2;
  /** The write under way, if any; at most one at a time, in file order. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly handle: FileHandle,
    readonly pageSize: number,
  ) {}

  allocate(pages: number): number {
    const pgid = this.nextPgid;
    this.nextPgid += pages;
    return pgid;
  }

  /** Queues the next page run (allocated in order, a whole number of pages). */
  append(page: Buffer): void {
    this.buffered.push(page);
    this.bufferedBytes += page.length;
  }

  /**
   * Once {@link WRITE_CHUNK_BYTES} of pages are queued, starts writing them (after the
   * previous write has finished) and gives the event loop a turn.
   */
  async flushIfFull(): Promise<void> {
    if (this.bufferedBytes < WRITE_CHUNK_BYTES) return;
    await this.writing;
    this.writing = this.writeQueued();
    // A failed write is reported by the next await of `writing`, not as unhandled.
    this.writing.catch(() => undefined);
    await new Promise(resolve => setImmediate(resolve));
  }

  /** Resolves once no write is under way, whether it succeeded or not. */
  async settled(): Promise<void> {
    await this.writing.catch(() => undefined);
  }

  /** Writes everything queued and waits until it is written. */
  async flush(): Promise<void> {
    await this.writing;
    this.writing = this.writeQueued();
    await this.writing;
  }

  private async writeQueued(): Promise<void> {
    if (this.bufferedBytes === 0) return;
    const chunk = Buffer.concat(this.buffered, this.bufferedBytes);
    const position = this.writtenPgid * this.pageSize;
    this.writtenPgid += chunk.length / this.pageSize;
    this.buffered = [];
    this.bufferedBytes = 0;
    let done = 0;
    while (done < chunk.length) {
      const {bytesWritten} = await this.handle.write(
        chunk,
        done,
        chunk.length - done,
        position + done,
      );
      done += bytesWritten;
    }
  }
}

/** Builds bucket trees bottom-up onto a {@link PageOutput}. */
class TreeBuilder {
  constructor(
    readonly out: PageOutput,
    /** A page is closed once the next element would take it past this many bytes. */
    readonly thresholdBytes: number,
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
    items: BboltItems,
    inlineAllowed: boolean,
    name: string,
  ): Promise<number | Buffer> {
    const leaves = new LeafBuilder(this, name);
    for await (const item of items) {
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
    const pageSize = this.out.pageSize;
    const pages = Math.max(1, Math.ceil(bytes / pageSize));
    const pgid = this.out.allocate(pages);
    const page = Buffer.alloc(pages * pageSize);
    writePageHeader(page, pgid, BRANCH_PAGE, children.length, pages - 1);
    let data = PAGE_HEADER_BYTES + children.length * ELEMENT_BYTES;
    children.forEach((c, i) => {
      const el = PAGE_HEADER_BYTES + i * ELEMENT_BYTES;
      page.writeUInt32LE(data - el, el);
      page.writeUInt32LE(c.key.length, el + 4);
      page.writeBigUInt64LE(BigInt(c.pgid), el + 8);
      page.set(c.key, data);
      data += c.key.length;
    });
    this.out.append(page);
    return {key: (children[0] as Child).key, pgid};
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
        return this.encodeLeaf(0, this.count, 0, this.pendingBytes);
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
    const pageSize = this.tree.out.pageSize;
    const pages = Math.max(1, Math.ceil(bytes / pageSize));
    const pgid = this.tree.out.allocate(pages);
    const page = this.encodeLeaf(from, to, pgid, pages * pageSize);
    page.writeUInt32LE(pages - 1, 12);
    this.tree.out.append(page);
    const start = this.starts[from] ?? 0;
    const key =
      to > from
        ? Buffer.from(this.bytes.subarray(start, start + (this.keyLengths[from] ?? 0)))
        : Buffer.alloc(0);
    this.children.push({key, pgid});
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

  /** A leaf page of `size` bytes (a page run, or an inline page's exact size). */
  private encodeLeaf(from: number, to: number, pgid: number, size: number): Buffer {
    const count = to - from;
    if (count > 0xffff) throw new Error(`internal: ${count} elements on one page`);
    const page = Buffer.alloc(size);
    writePageHeader(page, pgid, LEAF_PAGE, count, 0);
    const dataAt = PAGE_HEADER_BYTES + count * ELEMENT_BYTES;
    const base = this.starts[from] ?? 0;
    for (let i = from; i < to; i++) {
      const el = PAGE_HEADER_BYTES + (i - from) * ELEMENT_BYTES;
      page.writeUInt32LE(this.flags[i] ?? 0, el);
      page.writeUInt32LE(dataAt + (this.starts[i] ?? 0) - base - el, el + 4);
      page.writeUInt32LE(this.keyLengths[i] ?? 0, el + 8);
      page.writeUInt32LE(this.valueLengths[i] ?? 0, el + 12);
    }
    const end = to > from ? (this.starts[to - 1] ?? 0) + this.entryBytes(to - 1) : base;
    this.bytes.copy(page, dataAt, base, end);
    return page;
  }

  /** Checks that pending entry `i` comes after the one before it. */
  private checkOrder(i: number): void {
    const start = this.starts[i] ?? 0;
    const end = start + (this.keyLengths[i] ?? 0);
    let previous: Buffer | undefined;
    if (i > 0) {
      const p = this.starts[i - 1] ?? 0;
      previous = this.bytes.subarray(p, p + (this.keyLengths[i - 1] ?? 0));
    } else {
      previous = this.lastKey;
    }
    if (
      previous !== undefined &&
      this.bytes.compare(previous, 0, previous.length, start, end) <= 0
    ) {
      throw new RangeError(
        `bucket ${this.name}: key ${this.bytes.toString('hex', start, end)} does not come after ${previous.toString('hex')}; items must be in ascending key order`,
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
