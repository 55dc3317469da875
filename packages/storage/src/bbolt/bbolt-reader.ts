import {closeSync, fstatSync, openSync, readSync} from 'node:fs';

import {BboltFormatError} from './bbolt-format-error.js';
import type {BboltMeta} from './bbolt-layout.js';
import {
  BRANCH_PAGE,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  compareBytes,
  decodeMeta,
  ELEMENT_BYTES,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE,
  LEAF_PAGE,
  PAGE_HEADER_BYTES,
  readPgid,
} from './bbolt-layout.js';

/** Options of {@link BboltReader.open}. */
export interface BboltOpenOptions {
  /**
   * Bytes at the start of the file that belong to the database; the whole file by
   * default. A snapshot saved by `etcdctl snapshot save` has 32 more: its SHA-256.
   */
  readonly sizeBytes?: number;
}

/** One entry of a bucket: a key with a value, or a key naming a nested bucket. */
export type BboltEntry =
  | {readonly key: Buffer; readonly value: Buffer; readonly bucket?: undefined}
  | {readonly key: Buffer; readonly bucket: BboltBucket; readonly value?: undefined};

/** What {@link BboltReader.check} found: pages reachable from the root, and free pages. */
export interface BboltCheckResult {
  readonly reachablePages: number;
  readonly freePages: number;
}

/** The page size bbolt assumes when meta page 0 cannot tell it (Linux's). */
const DEFAULT_PAGE_SIZE = 4096;
const META_READ_BYTES = PAGE_HEADER_BYTES + 64;
/**
 * Pages are read ahead in windows of up to this many bytes: one read per megabyte instead of
 * two per page (header, then the page run), and one Buffer per window instead of two per
 * page. A million keys of 256 B are 358 MiB, about 360 reads instead of 180,000.
 */
const MAX_WINDOW_BYTES = 1024 * 1024;

/** Where a bucket's root is: a page of the file, or a page inline in its parent's value. */
type BucketRoot =
  | {readonly pgid: number}
  | {readonly inline: Buffer; readonly offset: number; readonly parentPgid: number};

/**
 * Reads a bbolt file (etcd's backend, and the snapshot `etcdctl snapshot save` writes)
 * without trusting it: every page id is checked against the file, every page header against
 * what refers to it, every element against its page, keys are checked to be in order, and
 * the meta pages by their checksum. Anything wrong throws a {@link BboltFormatError} naming
 * the file, the offset and page, and the fault.
 *
 * Pages are read from the file as they are visited, through a read-ahead window of up to
 * 1 MiB, so memory stays at a few windows however big the file is.
 *
 * Example: `const r = BboltReader.open('backup.db', {sizeBytes: size - 32});
 * for (const e of r.root().bucket(Buffer.from('key'))?.entries() ?? []) ...; r.close();`
 */
export class BboltReader {
  private closed = false;
  private window: Buffer = Buffer.alloc(0);
  private windowOffset = 0;
  private windowHits = 0;
  private windowBytes = MAX_WINDOW_BYTES;
  /**
   * While set (inside {@link BboltBucket.forEachValue}), windows are read into two buffers in
   * turn instead of a new one each: what was handed out is valid until the next window but one.
   */
  private recycled: [Buffer, Buffer] | undefined;
  private recycledNext: 0 | 1 = 0;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** The current meta: the valid one of pages 0 and 1 with the higher txid. */
    readonly meta: BboltMeta,
  ) {}

  /** Opens `path` and validates its meta pages and its length. */
  static open(path: string, options: BboltOpenOptions = {}): BboltReader {
    const fd = openSync(path, 'r');
    try {
      const fileBytes = options.sizeBytes ?? fstatSync(fd).size;
      const meta = BboltReader.readMeta(path, fd, fileBytes);
      return new BboltReader(path, fd, meta);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Bytes of the database: its pages in use. */
  get sizeBytes(): number {
    return this.meta.highWaterPgid * this.meta.pageSize;
  }

  /** The root bucket, whose entries are the top-level buckets. */
  root(): BboltBucket {
    return new BboltBucket(this, '(root)', {pgid: this.meta.rootPgid});
  }

  /**
   * Checks the whole file the way bbolt's `Tx.Check` does: every page below the high-water
   * mark is a meta page, the freelist, reachable from the root exactly once, or free
   * (listed in the freelist once, or, in a file without a freelist, unreachable).
   */
  check(): BboltCheckResult {
    const owner = new Map<number, string>();
    const claim = (pgid: number, what: string, pages: number): void => {
      for (let i = 0; i < pages; i++) {
        const previous = owner.get(pgid + i);
        if (previous !== undefined) {
          this.fail(
            (pgid + i) * this.meta.pageSize,
            pgid + i,
            `page is used twice: by ${previous} and by ${what}`,
          );
        }
        owner.set(pgid + i, what);
      }
    };
    claim(0, 'meta page 0', 1);
    claim(1, 'meta page 1', 1);
    let reachable = 0;
    const visit = (bucket: BboltBucket): void => {
      for (const e of bucket.entries((pgid, pages) => {
        claim(pgid, `bucket ${bucket.name}`, pages);
        reachable += pages;
      })) {
        if (e.bucket !== undefined) visit(e.bucket);
      }
    };
    visit(this.root());
    const free = this.freelist();
    if (this.meta.freelistPgid !== undefined) {
      claim(
        this.meta.freelistPgid,
        'the freelist',
        this.readPage(this.meta.freelistPgid, 0, 0).pages,
      );
      for (const pgid of free) claim(pgid, 'the freelist (as free)', 1);
      for (let pgid = 0; pgid < this.meta.highWaterPgid; pgid++) {
        if (!owner.has(pgid)) {
          this.fail(pgid * this.meta.pageSize, pgid, 'page is neither reachable nor free');
        }
      }
    }
    return {reachablePages: reachable, freePages: free.length};
  }

  /** The free page ids the freelist page lists; none for a file without a freelist. */
  freelist(): number[] {
    const pgid = this.meta.freelistPgid;
    if (pgid === undefined) return [];
    const {page, offset} = this.readPage(pgid, 0, 0);
    const flags = page.readUInt16LE(8);
    if (flags !== FREELIST_PAGE) {
      this.fail(
        offset,
        pgid,
        `the meta names this page as the freelist, but its flags are 0x${flags.toString(16)}`,
      );
    }
    let count = page.readUInt16LE(10);
    let at = PAGE_HEADER_BYTES;
    if (count === FREELIST_COUNT_OVERFLOW) {
      count = readPgid(page, at) ?? Number.MAX_SAFE_INTEGER;
      at += 8;
    }
    if (at + count * 8 > page.length) {
      this.fail(offset, pgid, `freelist count ${count} does not fit its ${page.length}-byte page`);
    }
    const ids: number[] = [];
    for (let i = 0; i < count; i++, at += 8) {
      const id = readPgid(page, at);
      if (id === undefined || id < 2 || id >= this.meta.highWaterPgid) {
        this.fail(
          offset + at,
          pgid,
          `free page ${page.readBigUInt64LE(at)} is out of range ${this.range()}`,
        );
      }
      ids.push(id);
    }
    return ids;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** @internal Throws a {@link BboltFormatError} for this file. */
  fail(offset: number, pgid: number | undefined, problem: string): never {
    throw new BboltFormatError(this.path, offset, pgid, problem);
  }

  /** @internal "(the file has pages 0 to n)". */
  range(): string {
    return `(the file has pages 0 to ${this.meta.highWaterPgid - 1})`;
  }

  /**
   * @internal Reads page `pgid` with its overflow pages, after checking that it is in the
   * file and that its header says it is that page. `refOffset` and `refPgid` are where
   * the page id was read, for the message when it is out of range.
   */
  readPage(
    pgid: number,
    refOffset: number,
    refPgid: number,
  ): {page: Buffer; offset: number; pages: number} {
    if (this.closed) throw new Error(`${this.path}: the reader is closed`);
    const {pageSize, highWaterPgid} = this.meta;
    if (pgid < 2 || pgid >= highWaterPgid) {
      this.fail(refOffset, refPgid, `page ${pgid} is out of range ${this.range()}`);
    }
    const offset = pgid * pageSize;
    const header = this.bytesAt(offset, PAGE_HEADER_BYTES, pgid);
    const id = header.readBigUInt64LE(0);
    if (id !== BigInt(pgid)) this.fail(offset, pgid, `page header says it is page ${id}`);
    const overflow = header.readUInt32LE(12);
    if (pgid + overflow >= highWaterPgid) {
      this.fail(
        offset,
        pgid,
        `page runs over ${overflow} more pages, past the end ${this.range()}`,
      );
    }
    const page = this.bytesAt(offset, (overflow + 1) * pageSize, pgid);
    return {page, offset, pages: overflow + 1};
  }

  /**
   * `length` bytes of the file from `offset`, from the read-ahead window when they are in it.
   * A window is never overwritten (a new one is a new Buffer), so what was handed out stays
   * valid. Its size adapts to how the pages are laid out: a window that served few pages
   * before being replaced halves the next one, so a scattered file does not read a megabyte
   * per page; one that served many doubles it, up to {@link MAX_WINDOW_BYTES}.
   */
  private bytesAt(offset: number, length: number, pgid: number): Buffer {
    if (offset >= this.windowOffset && offset + length <= this.windowOffset + this.window.length) {
      this.windowHits++;
      const at = offset - this.windowOffset;
      return this.window.subarray(at, at + length);
    }
    const pageSize = this.meta.pageSize;
    if (this.window.length > 0) {
      this.windowBytes =
        this.windowHits < 4
          ? Math.max(pageSize, this.windowBytes / 2)
          : Math.min(MAX_WINDOW_BYTES, this.windowBytes * 2);
    }
    const end = this.meta.highWaterPgid * pageSize;
    const bytes = Math.max(length, Math.min(this.windowBytes, end - offset));
    let window: Buffer;
    if (this.recycled !== undefined && bytes <= MAX_WINDOW_BYTES) {
      // The other buffer than the current window's: what the window before handed out is
      // overwritten, never the current one's.
      const [first, second] = this.recycled;
      window = (this.recycledNext === 0 ? first : second).subarray(0, bytes);
      this.recycledNext = this.recycledNext === 0 ? 1 : 0;
    } else {
      window = Buffer.allocUnsafe(bytes);
    }
    this.readExactly(window, offset, pgid);
    this.window = window;
    this.windowOffset = offset;
    this.windowHits = 1;
    return window.subarray(0, length);
  }

  /**
   * @internal Runs `read` with windows read into two reused buffers instead of a new one each
   * (a new megabyte costs a page fault per 4 KiB and garbage to collect): for a reader that is
   * done with a page before the next window is read. Pages handed out during `read` are valid
   * until the window after the next; none handed out before or after is ever overwritten.
   */
  withRecycledWindows<T>(read: () => T): T {
    if (this.recycled !== undefined) return read();
    this.recycled = [Buffer.allocUnsafe(MAX_WINDOW_BYTES), Buffer.allocUnsafe(MAX_WINDOW_BYTES)];
    this.recycledNext = 0;
    this.window = Buffer.alloc(0);
    try {
      return read();
    } finally {
      this.recycled = undefined;
      // No view of the reused buffers outlives the call.
      this.window = Buffer.alloc(0);
      this.windowOffset = 0;
    }
  }

  /** @internal Whether pages are read into reused buffers ({@link withRecycledWindows}). */
  get recyclesWindows(): boolean {
    return this.recycled !== undefined;
  }

  private readExactly(buf: Buffer, offset: number, pgid: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, offset + done);
      if (n === 0) this.fail(offset + done, pgid, 'the file ends inside this page');
      done += n;
    }
  }

  private static readMeta(path: string, fd: number, fileBytes: number): BboltMeta {
    const fail = (offset: number | undefined, pgid: number | undefined, problem: string): never => {
      throw new BboltFormatError(path, offset, pgid, problem);
    };
    if (fileBytes === 0) fail(undefined, undefined, 'the file is empty');
    const readMetaAt = (pgid: 0 | 1, offset: number): BboltMeta | string => {
      if (offset + META_READ_BYTES > fileBytes) return 'the file ends before it';
      const buf = Buffer.alloc(META_READ_BYTES);
      readSync(fd, buf, 0, META_READ_BYTES, offset);
      const id = buf.readBigUInt64LE(0);
      const meta = decodeMeta(buf);
      if (typeof meta === 'string') return meta;
      if (id !== BigInt(pgid)) return `page header says it is page ${id}`;
      return meta;
    };
    const meta0 = readMetaAt(0, 0);
    const pageSize = typeof meta0 === 'string' ? DEFAULT_PAGE_SIZE : meta0.pageSize;
    const meta1 = readMetaAt(1, pageSize);
    const why = (m: BboltMeta | string): string => (typeof m === 'string' ? m : 'valid');
    const valid = [meta0, meta1].filter((m): m is BboltMeta => typeof m !== 'string');
    const meta = valid.sort((a, b) => (a.txid > b.txid ? -1 : a.txid < b.txid ? 1 : 0))[0];
    if (meta === undefined) {
      return fail(
        0,
        0,
        `not a bbolt file: meta page 0: ${why(meta0)}; meta page 1 (offset ${pageSize}): ${why(meta1)}`,
      );
    }
    const metaOffset = meta === meta0 ? 0 : meta.pageSize;
    const metaPgid = meta === meta0 ? 0 : 1;
    const expected = meta.highWaterPgid * meta.pageSize;
    if (meta.highWaterPgid < 3) {
      fail(
        metaOffset,
        metaPgid,
        `the meta says the file has ${meta.highWaterPgid} pages; a bbolt file has at least 3`,
      );
    }
    if (fileBytes < expected) {
      fail(
        fileBytes,
        undefined,
        `the file is truncated: its meta (txid ${meta.txid}) says ${meta.highWaterPgid} pages of ${meta.pageSize} bytes (${expected} bytes), the file has ${fileBytes}`,
      );
    }
    const inRange = (pgid: number): boolean => pgid >= 2 && pgid < meta.highWaterPgid;
    const last = `(the file has pages 0 to ${meta.highWaterPgid - 1})`;
    if (!inRange(meta.rootPgid)) {
      fail(metaOffset, metaPgid, `root page ${meta.rootPgid} is out of range ${last}`);
    }
    if (meta.freelistPgid !== undefined && !inRange(meta.freelistPgid)) {
      fail(metaOffset, metaPgid, `freelist page ${meta.freelistPgid} is out of range ${last}`);
    }
    return meta;
  }
}

/**
 * A bucket of a {@link BboltReader}'s file. Its entries are read from the file when
 * iterated, in key order; nested buckets come as entries with a `bucket`.
 */
export class BboltBucket {
  /** @internal */
  constructor(
    private readonly reader: BboltReader,
    /** The bucket's path from the root, for messages: `key`, `a/b`. */
    readonly name: string,
    private readonly root: BucketRoot,
  ) {}

  /** The nested bucket named `name`, or undefined when there is none. */
  bucket(name: Uint8Array): BboltBucket | undefined {
    for (const e of this.entries()) {
      const order = Buffer.compare(e.key, name);
      if (order === 0) return e.bucket;
      if (order > 0) return undefined;
    }
    return undefined;
  }

  /**
   * Every entry of the bucket in key order. `onPage` (for {@link BboltReader.check}) hears
   * of each page of this bucket's tree, not of nested buckets' pages.
   */
  *entries(onPage?: (pgid: number, pages: number) => void): Generator<BboltEntry> {
    const order: KeyOrder = {page: undefined, start: 0, end: 0};
    const at: ElementAt = {flags: 0, start: 0, keyEnd: 0, end: 0};
    for (const leaf of this.leaves(onPage)) {
      const {page, offset, pgid} = leaf;
      const count = page.readUInt16LE(10);
      for (let i = 0; i < count; i++) {
        this.element(leaf, i, order, at);
        const key = page.subarray(at.start, at.keyEnd);
        const value = page.subarray(at.keyEnd, at.end);
        if (at.flags === 0) yield {key, value};
        else yield {key, bucket: this.nested(key, value, offset + at.keyEnd, pgid)};
      }
    }
  }

  /**
   * Calls `visit` for every entry in key order with the page holding it and where its key
   * and value lie (`page[keyStart, keyEnd)`, `page[keyEnd, valueEnd)`), making no object per
   * entry: the fast path for a bucket of a million values. The page is valid after the call;
   * its bytes must not be changed. A nested bucket is refused (`what` says what the values
   * were expected to be). Returns the number of entries.
   */
  forEachValue(
    what: string,
    visit: (page: Buffer, keyStart: number, keyEnd: number, valueEnd: number) => void,
  ): number {
    return this.reader.withRecycledWindows(() => {
      const order: KeyOrder = {page: undefined, start: 0, end: 0};
      const at: ElementAt = {flags: 0, start: 0, keyEnd: 0, end: 0};
      let entries = 0;
      for (const leaf of this.leaves(undefined)) {
        const {page, offset, pgid} = leaf;
        const count = page.readUInt16LE(10);
        for (let i = 0; i < count; i++) {
          this.element(leaf, i, order, at);
          if (at.flags !== 0) {
            this.reader.fail(
              offset + PAGE_HEADER_BYTES + i * ELEMENT_BYTES,
              pgid,
              `leaf element ${i} of bucket ${this.name} is a nested bucket, where ${what} were expected`,
            );
          }
          visit(page, at.start, at.keyEnd, at.end);
        }
        entries += count;
        // The next leaf's first key is compared with this one's last, which the windows read
        // on the way there may overwrite.
        if (order.page !== undefined) {
          order.page = Buffer.from(order.page.subarray(order.start, order.end));
          order.start = 0;
          order.end = order.page.length;
        }
      }
      return entries;
    });
  }

  /** The bucket's leaf pages in key order, each checked to be a leaf with room for its elements. */
  private *leaves(onPage: ((pgid: number, pages: number) => void) | undefined): Generator<Leaf> {
    if ('inline' in this.root) {
      const {inline, offset, parentPgid} = this.root;
      if (inline.length < PAGE_HEADER_BYTES) {
        this.reader.fail(
          offset,
          parentPgid,
          `inline bucket ${this.name} is shorter than a page header`,
        );
      }
      const flags = inline.readUInt16LE(8);
      if (flags !== LEAF_PAGE) {
        this.reader.fail(
          offset,
          parentPgid,
          `inline bucket ${this.name} has page flags 0x${flags.toString(16)}, not a leaf's`,
        );
      }
      yield this.leaf(inline, offset, parentPgid, undefined, undefined);
      return;
    }
    yield* this.walk(this.root.pgid, 0, 0, undefined, undefined, new Set(), onPage);
  }

  private *walk(
    pgid: number,
    refOffset: number,
    refPgid: number,
    lower: Buffer | undefined,
    upper: Buffer | undefined,
    visited: Set<number>,
    onPage: ((pgid: number, pages: number) => void) | undefined,
  ): Generator<Leaf> {
    const reader: BboltReader = this.reader;
    if (visited.has(pgid)) {
      reader.fail(refOffset, refPgid, `page ${pgid} of bucket ${this.name} is referred to twice`);
    }
    visited.add(pgid);
    const {page, offset, pages} = reader.readPage(pgid, refOffset, refPgid);
    onPage?.(pgid, pages);
    const flags = page.readUInt16LE(8);
    if (flags === LEAF_PAGE) {
      yield this.leaf(page, offset, pgid, lower, upper);
      return;
    }
    if (flags !== BRANCH_PAGE) {
      reader.fail(
        offset,
        pgid,
        `bucket ${this.name} refers to this page, whose flags 0x${flags.toString(16)} are not a branch's or a leaf's`,
      );
    }
    const count = page.readUInt16LE(10);
    if (count === 0) reader.fail(offset, pgid, 'branch page has no elements');
    if (PAGE_HEADER_BYTES + count * ELEMENT_BYTES > page.length) {
      reader.fail(offset, pgid, `${count} branch elements do not fit the page`);
    }
    const keys: Buffer[] = [];
    const children: number[] = [];
    for (let i = 0; i < count; i++) {
      const el = PAGE_HEADER_BYTES + i * ELEMENT_BYTES;
      const start = el + page.readUInt32LE(el);
      const end = start + page.readUInt32LE(el + 4);
      if (end > page.length || end === start) {
        reader.fail(
          offset + el,
          pgid,
          `branch element ${i}'s key lies outside the page or is empty`,
        );
      }
      const key = page.subarray(start, end);
      const previous = keys[i - 1];
      if (previous !== undefined && Buffer.compare(previous, key) >= 0) {
        reader.fail(offset + el, pgid, `branch element ${i}'s key is not above the one before it`);
      }
      if (i === 0 && lower !== undefined && Buffer.compare(key, lower) < 0) {
        reader.fail(offset + el, pgid, `branch key is below the key its parent has for this page`);
      }
      if (upper !== undefined && Buffer.compare(key, upper) >= 0) {
        reader.fail(
          offset + el,
          pgid,
          `branch key is not below the parent's key for the next page`,
        );
      }
      const child = readPgid(page, el + 8);
      if (child === undefined) {
        reader.fail(
          offset + el + 8,
          pgid,
          `child page ${page.readBigUInt64LE(el + 8)} is out of range ${reader.range()}`,
        );
      }
      // The children are read after the page is done with: its keys, their bounds, must not
      // lie in a window that is read into again.
      keys.push(reader.recyclesWindows ? Buffer.from(key) : key);
      children.push(child);
    }
    for (let i = 0; i < count; i++) {
      yield* this.walk(
        children[i] as number,
        offset + PAGE_HEADER_BYTES + i * ELEMENT_BYTES + 8,
        pgid,
        keys[i],
        keys[i + 1] ?? upper,
        visited,
        onPage,
      );
    }
  }

  private leaf(
    page: Buffer,
    offset: number,
    pgid: number,
    lower: Buffer | undefined,
    upper: Buffer | undefined,
  ): Leaf {
    const count = page.readUInt16LE(10);
    if (PAGE_HEADER_BYTES + count * ELEMENT_BYTES > page.length) {
      this.reader.fail(
        offset,
        pgid,
        `${count} leaf elements do not fit the page of bucket ${this.name}`,
      );
    }
    return {page, offset, pgid, lower, upper};
  }

  /**
   * Checks leaf element `i` (inside its page, a key, in order after `order`, inside the
   * range the parent gives the page, known flags) and puts where it lies into `at`; moves
   * `order` on to its key. Keys are compared where they lie, without a Buffer for each.
   */
  private element(leaf: Leaf, i: number, order: KeyOrder, at: ElementAt): void {
    const {page, offset, pgid, lower, upper} = leaf;
    const el = PAGE_HEADER_BYTES + i * ELEMENT_BYTES;
    const flags = page.readUInt32LE(el);
    const start = el + page.readUInt32LE(el + 4);
    const keyEnd = start + page.readUInt32LE(el + 8);
    const end = keyEnd + page.readUInt32LE(el + 12);
    // No closure for the failure messages: this runs once per entry of the file.
    if (end > page.length) this.failElement(leaf, i, 'lies outside its page');
    if (keyEnd === start) this.failElement(leaf, i, 'has an empty key');
    if (
      order.page !== undefined &&
      compareBytes(order.page, order.start, order.end, page, start, keyEnd) >= 0
    ) {
      this.reader.fail(
        offset + el,
        pgid,
        `keys of bucket ${this.name} are out of order at leaf element ${i}`,
      );
    }
    // The keys of a leaf ascend (checked above), so its first and last keys bound the rest.
    if (
      (i === 0 &&
        lower !== undefined &&
        compareBytes(page, start, keyEnd, lower, 0, lower.length) < 0) ||
      (upper !== undefined &&
        i === page.readUInt16LE(10) - 1 &&
        compareBytes(page, start, keyEnd, upper, 0, upper.length) >= 0)
    ) {
      this.failElement(leaf, i, 'is outside the key range its parent gives this page');
    }
    if (flags !== 0 && flags !== BUCKET_LEAF_FLAG) {
      this.failElement(leaf, i, `has unknown flags 0x${flags.toString(16)}`);
    }
    order.page = page;
    order.start = start;
    order.end = keyEnd;
    at.flags = flags;
    at.start = start;
    at.keyEnd = keyEnd;
    at.end = end;
  }

  private failElement(leaf: Leaf, i: number, problem: string): never {
    const el = PAGE_HEADER_BYTES + i * ELEMENT_BYTES;
    return this.reader.fail(
      leaf.offset + el,
      leaf.pgid,
      `leaf element ${i} of bucket ${this.name} ${problem}`,
    );
  }

  private nested(key: Buffer, value: Buffer, offset: number, pgid: number): BboltBucket {
    const name = this.name === '(root)' ? printable(key) : `${this.name}/${printable(key)}`;
    if (value.length < BUCKET_HEADER_BYTES) {
      this.reader.fail(offset, pgid, `bucket ${name}'s header is ${value.length} bytes, not 16`);
    }
    const root = readPgid(value, 0);
    if (root === 0) {
      return new BboltBucket(this.reader, name, {
        inline: value.subarray(BUCKET_HEADER_BYTES),
        offset: offset + BUCKET_HEADER_BYTES,
        parentPgid: pgid,
      });
    }
    if (root === undefined || root < 2 || root >= this.reader.meta.highWaterPgid) {
      this.reader.fail(
        offset,
        pgid,
        `bucket ${name}'s root page ${value.readBigUInt64LE(0)} is out of range ${this.reader.range()}`,
      );
    }
    return new BboltBucket(this.reader, name, {pgid: root});
  }
}

/** A leaf page of a bucket, with the key range its parent branch gives it. */
interface Leaf {
  readonly page: Buffer;
  readonly offset: number;
  readonly pgid: number;
  readonly lower: Buffer | undefined;
  readonly upper: Buffer | undefined;
}

/** Where the last key read lies: `page[start, end)`; no page before the first. */
interface KeyOrder {
  page: Buffer | undefined;
  start: number;
  end: number;
}

/** Where one leaf element lies in its page, filled in by `BboltBucket.element`. */
interface ElementAt {
  flags: number;
  start: number;
  keyEnd: number;
  end: number;
}

/** A bucket name for a message: as text when it is printable ASCII, else in hex. */
function printable(name: Buffer): string {
  return /^[\x20-\x7e]*$/.test(name.toString('latin1'))
    ? name.toString('latin1')
    : `0x${name.toString('hex')}`;
}
