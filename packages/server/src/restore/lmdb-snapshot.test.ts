import {createHash} from 'node:crypto';
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {BACKEND_FILE, KvStore} from '@synod/storage';
import {afterEach, describe, expect, it} from 'vitest';

import {restoreSnapshot} from './restore-snapshot.js';
import {snapshotStatus} from './snapshot-status.js';

/*
 * Snapshots Synod wrote before it wrote etcd's format were LMDB images of the backend with
 * a SHA-256 at the end; restore and status still take them.
 */

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'synod-lmdb-snapshot-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true});
});

describe('an LMDB snapshot of an older Synod', () => {
  it('is still restored and read by status', async () => {
    const kv = KvStore.open(tmp());
    const image = join(tmp(), BACKEND_FILE);
    try {
      for (const [k, v] of [
        ['a', '1'],
        ['a', '2'],
        ['b', '3'],
      ] as const) {
        const txn = kv.write();
        txn.put(b(k), b(v), 0n);
        txn.end();
      }
      await kv.backend.copyTo(image, true);
    } finally {
      await kv.close();
    }
    const file = join(tmp(), 'old.db');
    const bytes = readFileSync(image);
    writeFileSync(file, Buffer.concat([bytes, createHash('sha256').update(bytes).digest()]));

    const status = await snapshotStatus(file);
    expect(status.revision).toBe(4);
    expect(status.totalSize).toBe(bytes.length);

    const dataDir = join(tmp(), 'restored');
    const peer = new URL('http://127.0.0.1:2380');
    const result = await restoreSnapshot({
      snapshotPath: file,
      name: 'solo',
      initialCluster: new Map([['solo', [peer]]]),
      initialClusterToken: 'lmdb',
      dataDir,
    });
    expect(result.revision).toBe(4);
    expect(existsSync(join(dataDir, 'member', 'wal'))).toBe(true);
    const restored = KvStore.open(join(dataDir, 'member', 'db'));
    try {
      const a = restored.range(b('a'), undefined).kvs[0];
      expect([
        Buffer.from(a?.value ?? []).toString(),
        a?.createRevision,
        a?.modRevision,
        a?.version,
      ]).toEqual(['2', 2, 3, 2]);
    } finally {
      await restored.close();
    }
  });
});
