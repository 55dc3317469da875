import {describe, expect, it} from 'vitest';
import {seededRandom} from '../testing/seeded-random.js';
import {CrashFileSystem, SECTOR_BYTES} from './crash-file-system.js';

const keepNone = {random: () => 0, tear: 'none'} as const;
const keepAll = {random: () => 0.999999, tear: 'none'} as const;

describe('CrashFileSystem', () => {
  it('keeps synced data and drops unsynced writes on a crash', () => {
    const fs = new CrashFileSystem();
    fs.mkdirp('/d');
    const f = fs.open('/d/f', true);
    fs.syncDir('/d');
    f.write(Buffer.from('durable'), 0);
    f.sync();
    f.write(Buffer.from('-lost'), 7);
    fs.crash(keepNone);
    expect(Buffer.from(fs.readFile('/d/f')).toString()).toBe('durable');
    expect(() => {
      f.write(Buffer.from('x'), 0);
    }).toThrow(/before a crash/);
  });

  it('may keep unsynced writes in order (a prefix), like a disk that flushed some', () => {
    const fs = new CrashFileSystem();
    fs.mkdirp('/d');
    const f = fs.open('/d/f', true);
    fs.syncDir('/d');
    f.write(Buffer.from('a'), 0);
    f.write(Buffer.from('b'), 1);
    fs.crash(keepAll);
    expect(Buffer.from(fs.readFile('/d/f')).toString()).toBe('ab');
  });

  it('reverts creates, renames and unlinks not made durable by a directory sync', () => {
    const fs = new CrashFileSystem();
    fs.mkdirp('/d');
    fs.open('/d/a', true).sync();
    fs.syncDir('/d');
    fs.open('/d/b', true).sync();
    fs.rename('/d/a', '/d/c');
    fs.crash(keepAll);
    expect(fs.list('/d')).toEqual(['a']);
    fs.unlink('/d/a');
    fs.syncDir('/d');
    fs.crash(keepAll);
    expect(fs.list('/d')).toEqual([]);
  });

  it('tears the next unsynced write at a sector boundary', () => {
    const fs = new CrashFileSystem();
    fs.mkdirp('/d');
    const f = fs.open('/d/f', true);
    fs.syncDir('/d');
    f.sync();
    f.write(Buffer.alloc(SECTOR_BYTES * 4, 1), 0);
    // First draw: keep no whole write; second: cut the next one at the middle boundary.
    const draws = [0, 0.5];
    const note = fs.crash({random: () => draws.shift() ?? 0, tear: 'sector'});
    expect(fs.readFile('/d/f').length).toBe(2 * SECTOR_BYTES);
    expect(note).toContain('tore write 0 at +1024');
    for (let seed = 1; seed < 50; seed++) {
      const g = fs.open(`/d/g${seed}`, true);
      fs.syncDir('/d');
      g.sync();
      g.write(Buffer.alloc(SECTOR_BYTES * 4 + 100, 1), 300);
      fs.crash({random: seededRandom(seed), tear: 'sector'});
      const len = fs.readFile(`/d/g${seed}`).length;
      // Either nothing, a cut at a sector boundary, or the whole write.
      expect(len === 0 || len % SECTOR_BYTES === 0 || len === SECTOR_BYTES * 4 + 400).toBe(true);
    }
  });

  it('fails syncs on request, for fsync-failure tests', () => {
    const fs = new CrashFileSystem();
    fs.mkdirp('/d');
    const f = fs.open('/d/f', true);
    fs.syncsUntilFailure = 1;
    f.sync();
    expect(() => {
      f.sync();
    }).toThrow(/EIO/);
  });
});
