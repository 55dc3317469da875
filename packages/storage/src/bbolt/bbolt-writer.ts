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

/** A key with a value, or a key naming a nested bucket with its own items. */
export type BboltItem =
  | {readonly key: Uint8Array; readonly value: Uint8Array; readonly bucket?: undefined}
  | {readonly key: Uint8Array; readonly bucket: BboltItems; readonly value?: undefined};

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
}

/** What {@link writeBboltFile} wrote. */
export interface BboltWriteResult {
  /** Length of the file: `pages * pageSize`. */
  readonly sizeBytes: number;
  readonly pages: number;
}

/**
 * Output is gathered into writes of about this size. Each write is awaited, which is where a
 * member converting its store gives its event loop back: at roughly 15 µs per record, 256 KiB
 * of pages holds the loop for about 15 ms.
 */
const WRITE_CHUNK_BYTES = 256 * 1024;

interface Element {
  readonly flags: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** A finished child page of a branch: its first key and id. */
interface Child {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/**
 * Writes a bbolt file at `path` (replacing any file there) holding `buckets`, the top-level
 * buckets: every item of it must be a bucket, as in bbolt's root. The file is compact: no
 * free pages, leaves filled to `fillPercent`, branch levels as needed, values bigger than a
 * page on overflow runs, a (empty) freelist page, and both meta pages. It is fsynced before
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
  try {
    const out = new PageOutput(handle, pageSize);
    const builder = new TreeBuilder(out, Math.floor(pageSize * fill));
    const rootPgid = await builder.writeRoot(buckets);
    const freelistPgid = out.allocate(1);
    const freelist = Buffer.alloc(pageSize);
    writePageHeader(freelist, freelistPgid, FREELIST_PAGE, 0, 0);
    await out.append(freelist);
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
    await handle.sync();
    return {sizeBytes: pages * pageSize, pages};
  } finally {
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

  constructor(
    private readonly handle: FileHandle,
    readonly pageSize: number,
  ) {}

  allocate(pages: number): number {
    const pgid = this.nextPgid;
    this.nextPgid += pages;
    return pgid;
  }

  /** Appends the next page run (allocated in order, a whole number of pages). */
  async append(page: Buffer): Promise<void> {
    this.buffered.push(page);
    this.bufferedBytes += page.length;
    if (this.bufferedBytes >= WRITE_CHUNK_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
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
    private readonly out: PageOutput,
    /** A page is closed once the next element would take it past this many bytes. */
    private readonly thresholdBytes: number,
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
  private async writeBucket(
    items: BboltItems,
    inlineAllowed: boolean,
    name: string,
  ): Promise<number | Buffer> {
    const pageSize = this.out.pageSize;
    let current: Element[] = [];
    let currentBytes = PAGE_HEADER_BYTES;
    let hasBucket = false;
    const children: Child[] = [];
    let last: Uint8Array | undefined;
    let splitting = false;
    /** Adds an element, closing the current page first if it would go past the threshold. */
    const add = async (e: Element): Promise<void> => {
      const eBytes = ELEMENT_BYTES + e.key.length + e.value.length;
      if (current.length >= MIN_KEYS_PER_PAGE && currentBytes + eBytes > this.thresholdBytes) {
        children.push(await this.writeNode(LEAF_PAGE, current));
        current = [];
        currentBytes = PAGE_HEADER_BYTES;
      }
      current.push(e);
      currentBytes += eBytes;
    };
    for await (const item of items) {
      checkKey(item.key, last, name);
      last = item.key;
      let element: Element;
      if (item.bucket !== undefined) {
        const child = await this.writeBucket(
          item.bucket,
          true,
          `${name}/${Buffer.from(item.key).toString('latin1')}`,
        );
        element = {flags: BUCKET_LEAF_FLAG, key: item.key, value: bucketValue(child)};
        hasBucket = true;
      } else {
        if (name === '(root)')
          throw new Error(
            `bbolt root holds buckets only, but got a value for key ${hex(item.key)}`,
          );
        if (item.value.length > MAX_VALUE_BYTES) {
          throw new RangeError(
            `bucket ${name}: value of ${item.value.length} bytes is over bbolt's limit`,
          );
        }
        element = {flags: 0, key: item.key, value: item.value};
      }
      const bytes = ELEMENT_BYTES + element.key.length + element.value.length;
      if (!splitting && currentBytes + bytes > pageSize) {
        // bbolt splits only a node bigger than a page, so a bucket that fits one page stays
        // one page; past that, what is buffered is packed at the threshold like the rest.
        splitting = true;
        const pending = current;
        current = [];
        currentBytes = PAGE_HEADER_BYTES;
        for (const e of pending) await add(e);
      }
      if (splitting) {
        await add(element);
      } else {
        current.push(element);
        currentBytes += bytes;
      }
    }
    if (children.length === 0) {
      if (inlineAllowed && !hasBucket && currentBytes <= pageSize / 4) {
        return encodeNode(LEAF_PAGE, current, 0, currentBytes);
      }
      return (await this.writeNode(LEAF_PAGE, current)).pgid;
    }
    if (current.length > 0) children.push(await this.writeNode(LEAF_PAGE, current));
    return this.writeBranches(children);
  }

  /** Writes branch levels over `children` until one page is left; returns its id. */
  private async writeBranches(children: Child[]): Promise<number> {
    let level = children;
    while (level.length > 1) {
      const next: Child[] = [];
      let current: Element[] = [];
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
          next.push(await this.writeNode(BRANCH_PAGE, current));
          current = [];
          currentBytes = PAGE_HEADER_BYTES;
        }
        current.push({flags: 0, key: child.key, value: pgidBytes(child.pgid)});
        currentBytes += bytes;
      }
      next.push(await this.writeNode(BRANCH_PAGE, current));
      level = next;
    }
    return (level[0] as Child).pgid;
  }

  private async writeNode(kind: number, elements: Element[]): Promise<Child> {
    const size = elements.reduce(
      (n, e) => n + ELEMENT_BYTES + e.key.length + (kind === LEAF_PAGE ? e.value.length : 0),
      PAGE_HEADER_BYTES,
    );
    const pages = Math.max(1, Math.ceil(size / this.out.pageSize));
    const pgid = this.out.allocate(pages);
    const page = encodeNode(kind, elements, pgid, pages * this.out.pageSize);
    page.writeUInt32LE(pages - 1, 12);
    await this.out.append(page);
    const first = elements[0];
    if (first === undefined) return {key: new Uint8Array(0), pgid};
    return {key: first.key, pgid};
  }
}

/**
 * A leaf or branch page of `bytes` bytes (a page run, or an inline page's exact size). A
 * branch element's `value` is its child's page id (8 bytes), stored in the element.
 */
function encodeNode(
  kind: number,
  elements: readonly Element[],
  pgid: number,
  bytes: number,
): Buffer {
  if (elements.length > 0xffff)
    throw new Error(`internal: ${elements.length} elements on one page`);
  const page = Buffer.alloc(bytes);
  writePageHeader(page, pgid, kind, elements.length, 0);
  let data = PAGE_HEADER_BYTES + elements.length * ELEMENT_BYTES;
  elements.forEach((e, i) => {
    const el = PAGE_HEADER_BYTES + i * ELEMENT_BYTES;
    if (kind === LEAF_PAGE) {
      page.writeUInt32LE(e.flags, el);
      page.writeUInt32LE(data - el, el + 4);
      page.writeUInt32LE(e.key.length, el + 8);
      page.writeUInt32LE(e.value.length, el + 12);
      page.set(e.key, data);
      page.set(e.value, data + e.key.length);
      data += e.key.length + e.value.length;
    } else {
      page.writeUInt32LE(data - el, el);
      page.writeUInt32LE(e.key.length, el + 4);
      page.set(e.value, el + 8);
      page.set(e.key, data);
      data += e.key.length;
    }
  });
  return page;
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

function pgidBytes(pgid: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(pgid));
  return b;
}

function checkKey(key: Uint8Array, last: Uint8Array | undefined, bucket: string): void {
  if (key.length === 0) throw new RangeError(`bucket ${bucket}: empty key`);
  if (key.length > MAX_KEY_BYTES) {
    throw new RangeError(
      `bucket ${bucket}: key of ${key.length} bytes is over bbolt's ${MAX_KEY_BYTES}`,
    );
  }
  if (last !== undefined && Buffer.compare(last, key) >= 0) {
    throw new RangeError(
      `bucket ${bucket}: key ${hex(key)} does not come after ${hex(last)}; items must be in ascending key order`,
    );
  }
}

function hex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}
