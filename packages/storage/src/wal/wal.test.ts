import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Entry, HardState} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {afterEach, describe, expect, it} from 'vitest';
import {CrashFileSystem} from '../fs/crash-file-system.js';
import {NodeFileSystem} from '../fs/node-file-system.js';
import {Wal} from './wal.js';
import {WalCorruptionError} from './wal-corruption-error.js';

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
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-wal-'));
  tmpDirs.push(d);
  return path.join(d, 'wal');
}
afterEach(() => {
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

/** Offset just past the last non-zero byte, rounded up to the 8-byte frame alignment. */
function dataEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return (end + 7) & ~7;
}

describe('Wal', () => {
  it('replays metadata, hard state and entries after a round trip on disk', () => {
    const dir = tmpDir();
    const wal = Wal.create(dir, meta, {segmentBytes: 64 * 1024});
    wal.save(hs(1, 0), range(1, 10, 1));
    wal.save(hs(1, 10), range(11, 12, 1));
    wal.close();

    const {wal: again, replay} = Wal.open(dir, {segmentBytes: 64 * 1024});
    expect(replay.metadata).toEqual(meta);
    expect(replay.hardState).toEqual(hs(1, 10));
    expect(replay.snapshot).toEqual({index: 0, term: 0});
    expect(replay.entries).toEqual(range(1, 12, 1));
    again.save(undefined, range(13, 13, 2));
    again.close();
    expect(Wal.open(dir).replay.entries.map(e => e.index)).toEqual(
      range(1, 13, 0).map(e => e.index),
    );
  });

  it('lets a later batch overwrite a conflicting suffix', () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    wal.save(hs(1, 0), range(1, 5, 1));
    wal.save(hs(2, 0), range(3, 4, 2));
    wal.close();
    const {replay} = Wal.open('/w', {fs: fsys});
    expect(replay.entries).toEqual([...range(1, 2, 1), ...range(3, 4, 2)]);
  });

  it('does exactly one fdatasync per saved batch', () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    const before = fsys.fileSyncs;
    wal.save(hs(1, 0), range(1, 100, 1));
    wal.save(undefined, range(101, 101, 1));
    expect(fsys.fileSyncs - before).toBe(2);
  });

  it('writes an unsynced batch without fdatasync, and replays it once a later batch syncs', () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    wal.save(hs(1, 0), range(1, 3, 1));
    const before = fsys.fileSyncs;
    wal.save(hs(1, 3), [], false);
    expect(fsys.fileSyncs - before).toBe(0);
    wal.save(undefined, range(4, 4, 1));
    expect(fsys.fileSyncs - before).toBe(1);
    fsys.crash({random: () => 0, tear: 'none'});
    const {replay} = Wal.open('/w', {fs: fsys});
    expect(replay.hardState).toEqual(hs(1, 3));
    expect(replay.entries.map(e => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('cuts segments when full, names them by sequence and first index, and releases them', () => {
    const fsys = new CrashFileSystem();
    const opts = {fs: fsys, segmentBytes: 4096};
    const wal = Wal.create('/w', meta, opts);
    for (let i = 0; i < 20; i++) wal.save(hs(1, i * 10), range(i * 10 + 1, i * 10 + 10, 1, 100));
    const names = wal.segmentNames();
    expect(names.length).toBeGreaterThan(3);
    expect(names[0]).toBe('0000000000000000-0000000000000000.wal');
    expect(names[1]).toMatch(/^0000000000000001-[0-9a-f]{16}\.wal$/);
    expect(fsys.list('/w')).toEqual(names);

    wal.saveSnapshotMarker({index: 150, term: 1});
    wal.releaseTo(150);
    const kept = wal.segmentNames();
    expect(kept.length).toBeLessThan(names.length);
    const firstKept = parseInt((kept[0] ?? '').split('-')[1] ?? '', 16);
    expect(firstKept).toBeLessThanOrEqual(151);
    expect(fsys.list('/w')).toEqual(kept);
    wal.close();

    const {replay} = Wal.open('/w', opts);
    expect(replay.snapshot).toEqual({index: 150, term: 1});
    expect(replay.entries).toEqual(range(151, 200, 1, 100));
    expect(replay.hardState).toEqual(hs(1, 190));
  });

  it('truncates a torn last record on open and keeps appending after it', () => {
    const dir = tmpDir();
    const wal = Wal.create(dir, meta, {segmentBytes: 64 * 1024});
    wal.save(hs(1, 0), range(1, 5, 1));
    wal.close();
    const file = path.join(dir, '0000000000000000-0000000000000000.wal');
    const bytes = fs.readFileSync(file);
    const end = dataEnd(bytes);
    // The head of a 1000-byte record whose payload never reached the disk.
    const torn = Buffer.alloc(40);
    torn.writeUInt32LE(1000, 0);
    torn[4] = 2;
    torn.fill(0xab, 8, 40);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, torn, 0, torn.length, end);
    fs.closeSync(fd);

    const {wal: again, replay} = Wal.open(dir, {segmentBytes: 64 * 1024});
    expect(replay.entries).toEqual(range(1, 5, 1));
    expect(
      fs
        .readFileSync(file)
        .subarray(end, end + 40)
        .every(b => b === 0),
    ).toBe(true);
    again.save(undefined, range(6, 7, 1));
    again.close();
    expect(Wal.open(dir).replay.entries).toEqual(range(1, 7, 1));
  });

  it('refuses mid-log corruption with an error naming the file and offset', () => {
    const dir = tmpDir();
    const wal = Wal.create(dir, meta, {segmentBytes: 64 * 1024});
    wal.save(hs(1, 0), range(1, 3, 1, 64));
    const file = path.join(dir, '0000000000000000-0000000000000000.wal');
    const mid = dataEnd(fs.readFileSync(file));
    wal.save(hs(1, 3), range(4, 6, 1, 64));
    wal.save(hs(1, 6), range(7, 9, 1, 64));
    wal.close();
    const bytes = fs.readFileSync(file);
    bytes[mid + 20] = (bytes[mid + 20] as number) ^ 0x01; // inside entry 4's payload
    fs.writeFileSync(file, bytes);

    let caught: unknown;
    try {
      Wal.open(dir, {segmentBytes: 64 * 1024});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WalCorruptionError);
    const err = caught as WalCorruptionError;
    expect(err.file).toBe(file);
    expect(err.offset).toBe(mid);
    expect(err.message).toContain(file);
    expect(err.message).toContain(`offset ${mid}`);
    expect(err.message).toContain('checksum mismatch');
  });

  it('refuses corruption in an older segment even at its last record', () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 2048});
    for (let i = 0; i < 10; i++) wal.save(undefined, range(i * 5 + 1, i * 5 + 5, 1, 100));
    wal.close();
    const first = '/w/0000000000000000-0000000000000000.wal';
    const bytes = fsys.readFile(first);
    const end = dataEnd(bytes);
    const h = fsys.open(first, false);
    h.write(Uint8Array.of((bytes[end - 30] as number) ^ 0xff), end - 30);
    h.sync();
    expect(() => Wal.open('/w', {fs: fsys, segmentBytes: 2048})).toThrow(WalCorruptionError);
  });

  it('treats a failed fsync as fatal and refuses further writes', () => {
    const fsys = new CrashFileSystem();
    const wal = Wal.create('/w', meta, {fs: fsys, segmentBytes: 65536});
    wal.save(hs(1, 0), range(1, 2, 1));
    fsys.syncsUntilFailure = 0;
    expect(() => {
      wal.save(undefined, range(3, 3, 1));
    }).toThrow(/injected fsync failure/);
    fsys.syncsUntilFailure = undefined;
    expect(() => {
      wal.save(undefined, range(3, 3, 1));
    }).toThrow(/unusable/);
  });

  it('refuses to create over an existing WAL and to open an empty directory', () => {
    const fsys = new CrashFileSystem();
    Wal.create('/w', meta, {fs: fsys}).close();
    expect(() => Wal.create('/w', meta, {fs: fsys})).toThrow(/already exists/);
    fsys.mkdirp('/empty');
    expect(() => Wal.open('/empty', {fs: fsys})).toThrow(/no WAL/);
    expect(Wal.exists('/w', {fs: fsys})).toBe(true);
  });

  it('makes the data directory private even when it existed with wider permissions', () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, {mode: 0o755});
    fs.chmodSync(dir, 0o755);
    Wal.create(dir, meta, {segmentBytes: 4096}).close();
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('works on the real file system through NodeFileSystem with segment cuts', () => {
    const dir = tmpDir();
    const opts = {fs: new NodeFileSystem(), segmentBytes: 8192};
    const wal = Wal.create(dir, meta, opts);
    for (let i = 0; i < 30; i++) wal.save(hs(2, i), range(i * 4 + 1, i * 4 + 4, 2, 200));
    expect(wal.segmentNames().length).toBeGreaterThan(2);
    wal.close();
    expect(Wal.open(dir, opts).replay.entries).toEqual(range(1, 120, 2, 200));
  });
});
