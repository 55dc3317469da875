import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Entry, HardState} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {afterEach, describe, expect, it} from 'vitest';
import {CrashFileSystem} from '../fs/crash-file-system.js';
import {NodeFileSystem} from '../fs/node-file-system.js';
import {Wal} from './wal.js';

const meta = Buffer.from('member=1;cluster=7');

function entry(index: number, term: number, size = 20): Entry {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i) & 0xff;
  return {index, term, type: EntryType.EntryNormal, data};
}

const range = (from: number, to: number, term: number, size?: number): Entry[] =>
  Array.from({length: to - from + 1}, (_, i) => entry(from + i, term, size));

const hs = (term: number, commit: number): HardState => ({term, vote: 1, commit});

const tmpDirs: string[] = [];
afterEach(() => {
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

describe('Wal.saveAsync', () => {
  it('makes a batch durable once its promise resolves', async () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    await wal.saveAsync(hs(1, 0), range(1, 5, 1));
    // A power cut that keeps none of the unsynced writes.
    fsys.crash({random: () => 0, tear: 'none'});
    const {replay} = Wal.open('/w', {fs: fsys});
    expect(replay.hardState).toEqual(hs(1, 0));
    expect(replay.entries).toEqual(range(1, 5, 1));
  });

  it('loses the whole batch, never a part, on a power cut while its fsync is in flight', async () => {
    const cuts = (['none', 'sector', 'byte'] as const).flatMap(tear =>
      [0, 0.3, 0.99].map(r => ({tear, r})),
    );
    for (const {tear, r} of cuts) {
      const fsys = new CrashFileSystem();
      const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
      await wal.saveAsync(hs(1, 0), range(1, 2, 1));
      const inFlight = wal.saveAsync(hs(1, 2), range(3, 40, 1, 100));
      // Drops the in-flight write (r = 0), tears it part way (0.3) or keeps it whole (0.99).
      fsys.crash({random: () => r, tear});
      await expect(inFlight).rejects.toThrow(/EBADF/);
      const {replay} = Wal.open('/w', {fs: fsys});
      const indexes = replay.entries.map(e => e.index);
      if (indexes.length === 2) expect(replay.hardState).toEqual(hs(1, 0));
      else expect(replay.entries).toEqual([...range(1, 2, 1), ...range(3, 40, 1, 100)]);
    }
  });

  it('refuses a write while an fsync is in flight, and takes it once that settled', async () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    const first = wal.saveAsync(hs(1, 0), range(1, 3, 1));
    expect(() => {
      wal.save(undefined, range(4, 4, 1));
    }).toThrow(/before the previous saveAsync settled/);
    await expect(wal.saveAsync(undefined, range(4, 4, 1))).rejects.toThrow(/before the previous/);
    expect(() => {
      wal.saveSnapshotMarker({index: 2, term: 1});
    }).toThrow(/before the previous/);
    await first;
    await wal.saveAsync(hs(1, 3), range(4, 4, 1));
    wal.close();
    const {replay} = Wal.open('/w', {fs: fsys});
    expect(replay.entries).toEqual(range(1, 4, 1));
    expect(replay.hardState).toEqual(hs(1, 3));
  });

  it('treats a failed fsync as fatal: the promise rejects and later writes are refused', async () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    await wal.saveAsync(hs(1, 0), range(1, 2, 1));
    fsys.syncsUntilFailure = 0;
    await expect(wal.saveAsync(undefined, range(3, 3, 1))).rejects.toThrow(/injected fsync/);
    fsys.syncsUntilFailure = undefined;
    await expect(wal.saveAsync(undefined, range(3, 3, 1))).rejects.toThrow(/unusable/);
    expect(() => {
      wal.save(undefined, range(3, 3, 1));
    }).toThrow(/unusable/);
  });

  it('does one fdatasync per synced batch and none for a commit-only one', async () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    const before = fsys.fileSyncs;
    await wal.saveAsync(hs(1, 0), range(1, 10, 1));
    await wal.saveAsync(hs(1, 10), [], false);
    expect(fsys.fileSyncs - before).toBe(1);
    await wal.saveAsync(undefined, range(11, 11, 1));
    expect(fsys.fileSyncs - before).toBe(2);
  });

  it('syncs a commit-only tail before cutting a segment, so a power cut keeps the chain whole', async () => {
    const fsys = new CrashFileSystem();
    const opts = {fs: fsys, segmentBytes: 4096};
    const wal = Wal.create('/w', meta, opts);
    await wal.saveAsync(hs(1, 0), range(1, 10, 1, 200));
    await wal.saveAsync(hs(1, 10), [], false);
    // Does not fit in the first segment: cuts a second one, whose head chains from the
    // commit-only batch above.
    await wal.saveAsync(hs(1, 10), range(11, 20, 1, 200));
    expect(wal.segmentNames()).toHaveLength(2);
    fsys.crash({random: () => 0, tear: 'none'});
    const {replay} = Wal.open('/w', opts);
    expect(replay.entries).toEqual(range(1, 20, 1, 200));
    expect(replay.hardState).toEqual(hs(1, 10));
  });

  it('keeps the file open until an in-flight fsync settles when closed meanwhile (real disk)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-wal-'));
    tmpDirs.push(root);
    const dir = path.join(root, 'wal');
    const opts = {fs: new NodeFileSystem(), segmentBytes: 8192};
    const wal = Wal.create(dir, meta, opts);
    for (let i = 0; i < 20; i++) await wal.saveAsync(hs(2, i), range(i * 4 + 1, i * 4 + 4, 2, 200));
    expect(wal.segmentNames().length).toBeGreaterThan(2);
    const last = wal.saveAsync(hs(2, 80), range(81, 81, 2, 200));
    wal.close();
    await last;
    const {wal: again, replay} = Wal.open(dir, opts);
    again.close();
    expect(replay.entries).toEqual(range(1, 81, 2, 200));
    expect(replay.hardState).toEqual(hs(2, 80));
  });
});
