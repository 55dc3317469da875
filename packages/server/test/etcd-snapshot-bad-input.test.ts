import {createHash} from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {KeyValue} from '@synod/proto';
import type {BboltItem} from '@synod/storage';
import {writeBboltFile} from '@synod/storage';
import {runSynodCommand} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/*
 * Snapshot files `synod snapshot restore` and `status` must refuse, each with one line
 * that names the file, where in it (offset, page or bucket) and what is wrong, and with
 * nothing left behind: no data dir, no half-built temporary one.
 */

const b = (s: string): Buffer => Buffer.from(s);

/** etcd's snapshot layout: the bbolt file, then its SHA-256. */
function withHash(db: Buffer): Buffer {
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

/** A small etcd-shaped database: a `key` bucket big enough for pages of its own, and `meta`. */
async function database(path: string, extra: BboltItem[] = []): Promise<Buffer> {
  const revisions: BboltItem[] = Array.from({length: 300}, (_, i) => {
    const key = Buffer.alloc(17);
    key.writeBigUInt64BE(BigInt(i + 2));
    key[8] = 0x5f;
    const kv = {
      key: b(`k/${i}`),
      createRevision: BigInt(i + 2),
      modRevision: BigInt(i + 2),
      version: 1n,
    };
    return {key, value: Buffer.from(KeyValue.encode(KeyValue.fromPartial(kv)).finish())};
  });
  await writeBboltFile(path, [
    {key: b('key'), bucket: revisions},
    {key: b('meta'), bucket: [{key: b('consistent_index'), value: Buffer.alloc(8)}]},
    ...extra,
  ]);
  return readFileSync(path);
}

describe('synod snapshot restore and status refuse bad files with one clear line', () => {
  let dir: string;
  let valid: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-bad-snapshot-'));
    valid = await database(join(dir, 'valid.db'));
  });
  afterAll(() => {
    rmSync(dir, {recursive: true, force: true});
  });

  /** Runs restore and status on `file`; both must fail with the one line `expected`. */
  async function refused(file: string, expected: RegExp): Promise<void> {
    const target = join(dir, `restored-${readdirSync(dir).length}`);
    const [restore, status] = await Promise.all([
      runSynodCommand([
        'snapshot',
        'restore',
        file,
        '--name=solo',
        `--data-dir=${target}`,
        '--initial-cluster=solo=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      ]),
      runSynodCommand(['snapshot', 'status', file]),
    ]);
    for (const r of [restore, status]) {
      expect(r.code, r.stderr).toBe(1);
      // The restore's JSON log lines aside, the error is a single line.
      const said = r.stderr.split('\n').filter(l => l !== '' && !l.startsWith('{'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(expected);
      expect(said[0]).toContain(file);
    }
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter(n => n.includes('restoring'))).toEqual([]);
  }

  const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('an empty file', async () => {
    const file = join(dir, 'empty.db');
    writeFileSync(file, '');
    await refused(file, new RegExp(`^Error: ${quote(file)}: the file is empty, not a snapshot$`));
  }, 30_000);

  it('a truncated file', async () => {
    const file = join(dir, 'truncated.db');
    writeFileSync(file, withHash(valid));
    truncateSync(file, 10_000);
    await refused(
      file,
      new RegExp(
        `^Error: ${quote(file)}: offset 10000: the file is truncated: its meta \\(txid 1\\) says ${valid.length / 4096} pages of 4096 bytes \\(${valid.length} bytes\\), the file has 10000$`,
      ),
    );
  }, 30_000);

  it('a file whose hash does not match', async () => {
    const file = join(dir, 'bad-hash.db');
    const bytes = withHash(valid);
    const at = 3 * 4096 + 100;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    await refused(
      file,
      new RegExp(
        `^Error: expected sha256 \\[[\\d ]+\\], got \\[[\\d ]+\\]: ${quote(file)} is damaged \\(its last 32 bytes are not the sha256 of the ${valid.length} before them\\)$`,
      ),
    );
  }, 30_000);

  it('a bucket whose root page is out of range', async () => {
    const file = join(dir, 'out-of-range.db');
    const db = Buffer.from(valid);
    // The root leaf is the page before the freelist, the last page; its first element is `key`.
    const pages = db.length / 4096;
    const rootLeaf = (pages - 2) * 4096;
    const el = rootLeaf + 16;
    const value = el + db.readUInt32LE(el + 4) + db.readUInt32LE(el + 8);
    expect(db.readBigUInt64LE(value)).toBeGreaterThan(1n);
    db.writeBigUInt64LE(999n, value);
    writeFileSync(file, withHash(db));
    await refused(
      file,
      new RegExp(
        `^Error: ${quote(file)}: offset ${value} \\(page ${pages - 2}\\): bucket key's root page 999 is out of range \\(the file has pages 0 to ${pages - 1}\\)$`,
      ),
    );
  }, 30_000);

  it('a bucket etcd does not have (restore; status only counts it, as etcdctl does)', async () => {
    const file = join(dir, 'unknown-bucket.db');
    const db = await database(join(dir, 'unknown-bucket.raw'), [
      {key: b('zebra'), bucket: [{key: b('k'), value: b('v')}]},
    ]);
    writeFileSync(file, withHash(db));
    const target = join(dir, 'from-unknown-bucket');
    const r = await runSynodCommand([
      'snapshot',
      'restore',
      file,
      '--name=solo',
      `--data-dir=${target}`,
      '--initial-cluster=solo=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(l => l !== '' && !l.startsWith('{'))).toEqual([
      `Error: ${file}: unknown bucket "zebra": an etcd 3.4 or 3.5 backend holds only alarm, auth, authRoles, authUsers, cluster, key, lease, members, members_removed, meta`,
    ]);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter(n => n.includes('restoring'))).toEqual([]);
    const status = await runSynodCommand(['snapshot', 'status', file, '-w', 'json']);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as {totalKey: number}).totalKey).toBe(302);
  }, 30_000);
});
