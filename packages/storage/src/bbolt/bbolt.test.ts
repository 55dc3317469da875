import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {afterEach, describe, expect, it} from 'vitest';

import {BboltFormatError} from './bbolt-format-error.js';
import {BUCKET_LEAF_FLAG, decodeMeta, encodeMetaPage, fnv1a64} from './bbolt-layout.js';
import type {BboltBucket} from './bbolt-reader.js';
import {BboltReader} from './bbolt-reader.js';
import type {BboltFill, BboltItem} from './bbolt-writer.js';
import {streamBboltFile, writeBboltFile} from './bbolt-writer.js';

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
function tmpFile(name = 'db'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-bbolt-'));
  dirs.push(d);
  return path.join(d, name);
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

/** A bucket read back as plain data: values as strings, nested buckets as objects. */
type Dump = Map<string, string | Dump>;
function dump(bucket: BboltBucket): Dump {
  const out: Dump = new Map();
  for (const e of bucket.entries()) {
    out.set(
      e.key.toString('latin1'),
      e.bucket === undefined ? e.value.toString('latin1') : dump(e.bucket),
    );
  }
  return out;
}
function toItems(d: Dump): BboltItem[] {
  return [...d]
    .sort(([a], [c]) => Buffer.compare(b(a), b(c)))
    .map(([k, v]) =>
      typeof v === 'string'
        ? {key: Buffer.from(k, 'latin1'), value: Buffer.from(v, 'latin1')}
        : {key: Buffer.from(k, 'latin1'), bucket: toItems(v)},
    );
}
const pad = (n: number): string => n.toString().padStart(8, '0');

describe('bbolt layout', () => {
  it('checksums the meta with FNV-1a 64 (the published test vectors)', () => {
    expect(fnv1a64(b(''))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(b('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(b('foobar'))).toBe(0x85944171f73967e8n);
  });

  it('reads back the meta page it writes, and refuses one with a changed byte', () => {
    const meta = {
      pageSize: 4096,
      flags: 0,
      rootPgid: 7,
      rootSequence: 0n,
      freelistPgid: 9,
      highWaterPgid: 10,
      txid: 5n,
    };
    const page = encodeMetaPage(meta, 1);
    expect(decodeMeta(page)).toEqual(meta);
    page[16 + 40] = 11;
    expect(decodeMeta(page)).toMatch(/^meta checksum 0x[0-9a-f]+ does not match its contents/);
  });
});

describe('writeBboltFile and BboltReader', () => {
  it('round-trips small buckets (inline), an empty bucket, nested buckets and big values', async () => {
    const file = tmpFile();
    const big = 'x'.repeat(10_000);
    const data: Dump = new Map<string, string | Dump>([
      ['alarm', new Map()],
      ['cluster', new Map([['clusterVersion', '3.4.0']])],
      [
        'large',
        new Map([
          ['a', big],
          ['b', 'small'],
          ['c', 'y'.repeat(5000)],
        ]),
      ],
      [
        'outer',
        new Map<string, string | Dump>([
          ['inner', new Map([['k', 'v']])],
          ['plain', 'value'],
          ['z-inner', new Map([['k2', 'v2']])],
        ]),
      ],
    ]);
    const written = await writeBboltFile(file, toItems(data));
    expect(fs.statSync(file).size).toBe(written.sizeBytes);
    const reader = BboltReader.open(file);
    try {
      expect(dump(reader.root())).toEqual(data);
      expect(reader.check().freePages).toBe(0);
      expect(reader.meta.highWaterPgid).toBe(written.pages);
    } finally {
      reader.close();
    }
  });

  it('stores a small bucket inline in its parent and a big one on its own pages', async () => {
    const file = tmpFile();
    await writeBboltFile(file, [
      {
        key: b('big'),
        bucket: Array.from({length: 200}, (_, i) => ({key: b(pad(i)), value: b('v')})),
      },
      {key: b('small'), bucket: [{key: b('k'), value: b('v')}]},
    ]);
    const bytes = fs.readFileSync(file);
    // The root leaf is the last page before the freelist: two bucket elements.
    const reader = BboltReader.open(file);
    try {
      const rootPage = reader.meta.rootPgid * 4096;
      expect(bytes.readUInt16LE(rootPage + 10)).toBe(2);
      const elementFlags = [0, 1].map(i => bytes.readUInt32LE(rootPage + 16 + 16 * i));
      expect(elementFlags).toEqual([BUCKET_LEAF_FLAG, BUCKET_LEAF_FLAG]);
      const valueRoot = (i: number): bigint => {
        const el = rootPage + 16 + 16 * i;
        return bytes.readBigUInt64LE(el + bytes.readUInt32LE(el + 4) + bytes.readUInt32LE(el + 8));
      };
      expect(valueRoot(0)).toBeGreaterThan(1n);
      expect(valueRoot(1)).toBe(0n);
    } finally {
      reader.close();
    }
  });

  it('builds branch levels over many keys and fills leaves to the fill percent', async () => {
    const file = tmpFile();
    const n = 60_000;
    function* keys(): Generator<BboltItem> {
      for (let i = 0; i < n; i++) yield {key: b(`key/${pad(i)}`), value: b(`value-${pad(i)}`)};
    }
    const written = await writeBboltFile(file, [{key: b('key'), bucket: keys()}]);
    const reader = BboltReader.open(file);
    try {
      const bucket = reader.root().bucket(b('key'));
      expect(bucket).toBeDefined();
      let i = 0;
      for (const e of bucket?.entries() ?? []) {
        expect(e.key.toString()).toBe(`key/${pad(i)}`);
        expect(e.value?.toString()).toBe(`value-${pad(i)}`);
        i++;
      }
      expect(i).toBe(n);
      const {reachablePages} = reader.check();
      // 42 bytes per element and 90% fill: 87 elements per 4 KiB leaf, 690 leaves.
      const leaves = Math.ceil(n / Math.floor((4096 * 0.9 - 16) / 42));
      expect(reachablePages).toBeGreaterThan(leaves);
      expect(reachablePages).toBeLessThan(leaves * 1.02);
      // Two branch levels over the leaves: 28-byte branch elements, 131 to a page.
      const bytes = fs.readFileSync(file);
      const rootLeaf = reader.meta.rootPgid * 4096;
      const el = rootLeaf + 16;
      const keyRoot = Number(
        bytes.readBigUInt64LE(el + bytes.readUInt32LE(el + 4) + bytes.readUInt32LE(el + 8)),
      );
      expect(bytes.readUInt16LE(keyRoot * 4096 + 8)).toBe(0x01);
      const firstChild = Number(bytes.readBigUInt64LE(keyRoot * 4096 + 16 + 8));
      expect(bytes.readUInt16LE(firstChild * 4096 + 8)).toBe(0x01);
      expect(written.pages).toBe(reader.meta.highWaterPgid);
    } finally {
      reader.close();
    }
  });

  it('accepts async items and a root without buckets', async () => {
    const file = tmpFile();
    async function* buckets(): AsyncGenerator<BboltItem> {
      await Promise.resolve();
      yield {key: b('k'), bucket: [{key: b('a'), value: b('1')}]};
    }
    await writeBboltFile(file, buckets());
    const empty = tmpFile();
    await writeBboltFile(empty, []);
    for (const f of [file, empty]) {
      const reader = BboltReader.open(f);
      reader.check();
      reader.close();
    }
  });

  it('refuses items out of order, an empty key and a value in the root', async () => {
    await expect(
      writeBboltFile(tmpFile(), [
        {
          key: b('k'),
          bucket: [
            {key: b('b'), value: b('')},
            {key: b('a'), value: b('')},
          ],
        },
      ]),
    ).rejects.toThrow(
      'bucket (root)/k: key 61 does not come after 62; items must be in ascending key order',
    );
    await expect(writeBboltFile(tmpFile(), [{key: b(''), bucket: []}])).rejects.toThrow(
      'empty key',
    );
    await expect(writeBboltFile(tmpFile(), [{key: b('k'), value: b('v')}])).rejects.toThrow(
      'bbolt root holds buckets only',
    );
  });
});

describe('the per-entry fast paths', () => {
  it('writes the same file through a fill as through items, and forEachValue reads it as entries() does', async () => {
    // Values of growing size: small pages, pages split at the threshold, an overflow run.
    const n = 3000;
    const keyOf = (i: number): Buffer => b(`k/${pad(i)}`);
    const valueOf = (i: number): Buffer => Buffer.alloc(i === 1500 ? 9000 : i % 97, i % 251);
    const viaItems = tmpFile('items.db');
    await writeBboltFile(viaItems, [
      {
        key: b('key'),
        bucket: Array.from({length: n}, (_, i) => ({key: keyOf(i), value: valueOf(i)})),
      },
      {key: b('small'), bucket: [{key: b('a'), value: b('1')}]},
    ]);
    const viaFill = tmpFile('fill.db');
    await writeBboltFile(viaFill, [
      {
        key: b('key'),
        fill: async sink => {
          for (let i = 0; i < n; i++) {
            const key = keyOf(i);
            const value = valueOf(i);
            const at = sink.entry(key.length, value.length);
            key.copy(sink.bytes, at);
            value.copy(sink.bytes, at + key.length);
            if (i % 100 === 0) await sink.flush();
          }
        },
      },
      {
        key: b('small'),
        fill: sink => {
          const at = sink.entry(1, 1);
          sink.bytes.write('a1', at, 'latin1');
        },
      },
    ]);
    expect(fs.readFileSync(viaFill).equals(fs.readFileSync(viaItems))).toBe(true);

    const reader = BboltReader.open(viaFill);
    try {
      const bucket = reader.root().bucket(b('key'));
      const seen: string[] = [];
      const count = bucket?.forEachValue('values', (page, keyStart, keyEnd, valueEnd) => {
        seen.push(
          `${page.toString('latin1', keyStart, keyEnd)}=${page.toString('hex', keyEnd, valueEnd)}`,
        );
      });
      expect(count).toBe(n);
      expect(seen).toEqual(
        [...(bucket?.entries() ?? [])].map(
          e => `${e.key.toString('latin1')}=${e.value?.toString('hex')}`,
        ),
      );
      expect(() => reader.root().forEachValue('values', () => undefined)).toThrow(
        /leaf element 0 of bucket \(root\) is a nested bucket, where values were expected/,
      );
    } finally {
      reader.close();
    }
  });

  it('refuses a fill whose keys are out of order', async () => {
    await expect(
      writeBboltFile(tmpFile(), [
        {
          key: b('k'),
          fill: sink => {
            for (const key of ['b', 'a']) sink.bytes.write(key, sink.entry(1, 0), 'latin1');
          },
        },
      ]),
    ).rejects.toThrow('bucket (root)/k: key 61 does not come after 62');
  });
});

describe('streamBboltFile', () => {
  /** A bucket of `n` keys written through a fill, counting the entries it was asked for. */
  function counted(n: number): {fill: BboltFill; entries: () => number} {
    let entries = 0;
    const fill: BboltFill = async sink => {
      for (let i = 0; i < n; i++) {
        const key = b(`k/${pad(i)}`);
        const at = sink.entry(key.length, 100);
        entries++;
        if (!sink.measuring) {
          key.copy(sink.bytes, at);
          sink.bytes.fill(i % 251, at + key.length, at + key.length + 100);
        }
        if (i % 100 === 0) await sink.flush();
      }
    };
    return {fill, entries: () => entries};
  }

  it('hands out the file writeBboltFile writes, metas first, measuring before writing', async () => {
    const file = tmpFile();
    await writeBboltFile(file, [
      {key: b('key'), fill: counted(30_000).fill},
      {key: b('meta'), bucket: [{key: b('consistent_index'), value: Buffer.alloc(8, 1)}]},
    ]);
    const {fill, entries} = counted(30_000);
    let measured = 0;
    const chunks: Buffer[] = [];
    const stream = streamBboltFile(
      [
        {key: b('key'), fill},
        {key: b('meta'), bucket: [{key: b('consistent_index'), value: Buffer.alloc(8, 1)}]},
      ],
      {
        onMeasured: ({sizeBytes}) => {
          measured = sizeBytes;
          expect(entries()).toBe(30_000);
          expect(chunks).toEqual([]);
        },
      },
    );
    let next = await stream.next();
    for (; !next.done; next = await stream.next()) chunks.push(next.value);
    const whole = Buffer.concat(chunks);
    expect(whole.equals(fs.readFileSync(file))).toBe(true);
    expect(next.value.sizeBytes).toBe(whole.length);
    expect(measured).toBe(whole.length);
    expect(entries()).toBe(60_000);
    expect(chunks.length).toBeGreaterThan(2);
    expect(decodeMeta(whole.subarray(0, 4096))).toMatchObject({txid: 0n});

    // Chunks filled again once the next is taken: the same bytes, read before asking on.
    const copies: Buffer[] = [];
    const reused = new Set<ArrayBufferLike>();
    for await (const chunk of streamBboltFile(
      [
        {key: b('key'), fill: counted(30_000).fill},
        {key: b('meta'), bucket: [{key: b('consistent_index'), value: Buffer.alloc(8, 1)}]},
      ],
      {reuseChunks: true},
    )) {
      copies.push(Buffer.from(chunk));
      reused.add(chunk.buffer);
    }
    expect(Buffer.concat(copies).equals(whole)).toBe(true);
    expect(reused.size).toBeLessThan(copies.length);
  });

  it('stops building when its reader stops, or when its signal aborts, and says so once', async () => {
    const {fill, entries} = counted(100_000);
    let built = 0;
    const stream = streamBboltFile([{key: b('key'), fill}], {onBuilt: () => built++});
    await stream.next();
    await stream.return(undefined as never);
    expect(built).toBe(1);
    // Measured all, then no more than the chunks that were asked for (and the two waiting).
    expect(entries()).toBeLessThan(100_000 + 30_000);

    const stop = new AbortController();
    const aborted = streamBboltFile([{key: b('key'), fill: counted(100_000).fill}], {
      signal: stop.signal,
      onBuilt: () => built++,
    });
    await aborted.next();
    stop.abort(new Error('the backend is closing'));
    await expect(
      (async () => {
        for await (const chunk of aborted) expect(chunk.length).toBeGreaterThan(0);
      })(),
    ).rejects.toThrow('the backend is closing');
    expect(built).toBe(2);
  });

  it('refuses a bucket that changed between measuring and writing', async () => {
    let calls = 0;
    const stream = streamBboltFile([
      {
        key: b('key'),
        fill: sink => {
          // The metas name only the root page and the page count: a change that moves no page
          // still makes a whole file, one that moves pages must be refused.
          const n = ++calls === 1 ? 2000 : 4000;
          for (let i = 0; i < n; i++) b(`k/${pad(i)}`).copy(sink.bytes, sink.entry(10, 0));
        },
      },
    ]);
    await expect(
      (async () => {
        for await (const chunk of stream) expect(chunk.length).toBeGreaterThan(0);
      })(),
    ).rejects.toThrow(/bbolt: the buckets changed between measuring and writing \(root page \d+/);
  });
});

describe('BboltReader refuses a damaged file with one line naming the file, offset and fault', () => {
  async function sample(): Promise<string> {
    const file = tmpFile('sample.db');
    await writeBboltFile(file, [
      {
        key: b('key'),
        bucket: Array.from({length: 500}, (_, i) => ({key: b(pad(i)), value: b('v'.repeat(40))})),
      },
      {key: b('meta'), bucket: [{key: b('consistent_index'), value: Buffer.alloc(8)}]},
    ]);
    return file;
  }
  const readAll = (file: string, sizeBytes?: number): void => {
    const reader = BboltReader.open(file, sizeBytes === undefined ? {} : {sizeBytes});
    try {
      reader.check();
    } finally {
      reader.close();
    }
  };
  const failure = (file: string): BboltFormatError => {
    try {
      readAll(file);
    } catch (error) {
      if (error instanceof BboltFormatError) return error;
      throw error;
    }
    throw new Error('no error');
  };

  it('an empty file', () => {
    const file = tmpFile('empty.db');
    fs.writeFileSync(file, '');
    expect(failure(file).message).toBe(`${file}: the file is empty`);
  });

  it('a file that is not bbolt', () => {
    const file = tmpFile('text.db');
    fs.writeFileSync(file, 'x'.repeat(10_000));
    const e = failure(file);
    expect(e.message).toMatch(
      /: offset 0 \(page 0\): not a bbolt file: meta page 0: no bbolt magic/,
    );
    expect(e.message).not.toContain('\n');
  });

  it('a truncated file', async () => {
    const file = await sample();
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 5000);
    expect(failure(file).message).toBe(
      `${file}: offset ${size - 5000}: the file is truncated: its meta (txid 1) says ${size / 4096} pages of 4096 bytes (${size} bytes), the file has ${size - 5000}`,
    );
  });

  it('both meta pages damaged, and one (the other is used)', async () => {
    const file = await sample();
    const bytes = fs.readFileSync(file);
    bytes[4096 + 16 + 20] = (bytes[4096 + 16 + 20] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    readAll(file);
    bytes[16 + 20] = (bytes[16 + 20] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    expect(failure(file).message).toMatch(
      /^.*sample\.db: offset 0 \(page 0\): not a bbolt file: meta page 0: meta checksum 0x[0-9a-f]+ does not match its contents \(0x[0-9a-f]+\); meta page 1 \(offset 4096\): meta checksum/,
    );
  });

  it('a child page out of range', async () => {
    const file = await sample();
    const bytes = fs.readFileSync(file);
    const reader = BboltReader.open(file);
    const rootPgid = reader.meta.rootPgid;
    reader.close();
    // The `key` bucket is not inline: its root page id is in the root leaf's first value.
    const root = rootPgid * 4096;
    const el = root + 16;
    const value = el + bytes.readUInt32LE(el + 4) + bytes.readUInt32LE(el + 8);
    const keyRoot = Number(bytes.readBigUInt64LE(value));
    const branch = keyRoot * 4096;
    expect(bytes.readUInt16LE(branch + 8)).toBe(0x01);
    bytes.writeBigUInt64LE(999n, branch + 16 + 8);
    fs.writeFileSync(file, bytes);
    expect(failure(file).message).toBe(
      `${file}: offset ${branch + 24} (page ${keyRoot}): page 999 is out of range (the file has pages 0 to ${bytes.length / 4096 - 1})`,
    );
  });

  it('a page whose header is not the page it should be, or of the wrong kind', async () => {
    const file = await sample();
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(3n, 2 * 4096);
    fs.writeFileSync(file, bytes);
    expect(failure(file).message).toBe(
      `${file}: offset 8192 (page 2): page header says it is page 3`,
    );
    bytes.writeBigUInt64LE(2n, 2 * 4096);
    bytes.writeUInt16LE(0x10, 2 * 4096 + 8);
    fs.writeFileSync(file, bytes);
    expect(failure(file).message).toBe(
      `${file}: offset 8192 (page 2): bucket key refers to this page, whose flags 0x10 are not a branch's or a leaf's`,
    );
  });

  it('keys out of order in a leaf', async () => {
    const file = await sample();
    const bytes = fs.readFileSync(file);
    // The first leaf of `key` is page 2: swap its first key's last digit to sort after the second.
    const el = 2 * 4096 + 16;
    const keyAt = el + bytes.readUInt32LE(el + 4);
    bytes[keyAt + 7] = 0x39;
    fs.writeFileSync(file, bytes);
    expect(failure(file).message).toBe(
      `${file}: offset ${el + 16} (page 2): keys of bucket key are out of order at leaf element 1`,
    );
  });
});
