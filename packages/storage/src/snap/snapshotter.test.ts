import {describe, expect, it} from 'vitest';
import {CrashFileSystem} from '../fs/crash-file-system.js';
import {seededRandom} from '../testing/seeded-random.js';
import {Snapshotter} from './snapshotter.js';

const snap = (index: number, term: number, text: string) => ({
  index,
  term,
  confState: {voters: [1, 2, 3], learners: [4]},
  data: Buffer.from(text),
});

describe('Snapshotter', () => {
  it('loads the newest snapshot with its metadata', () => {
    const s = new Snapshotter('/snap', new CrashFileSystem());
    expect(s.loadNewest()).toBeUndefined();
    s.save(snap(10, 1, 'ten'));
    s.save(snap(200, 2, 'two hundred'));
    s.save(snap(30, 2, 'thirty'));
    const got = s.loadNewest();
    expect(got?.index).toBe(200);
    expect(got?.term).toBe(2);
    expect(got?.confState).toEqual({voters: [1, 2, 3], learners: [4]});
    expect(Buffer.from(got?.data ?? []).toString()).toBe('two hundred');
  });

  it('skips a damaged newest file, renaming it .broken', () => {
    const fsys = new CrashFileSystem();
    const s = new Snapshotter('/snap', fsys);
    s.save(snap(10, 1, 'ten'));
    s.save(snap(20, 1, 'twenty'));
    const newest = `/snap/${s.names()[1] ?? ''}`;
    const h = fsys.open(newest, false);
    h.write(Buffer.from('X'), 40);
    h.sync();
    expect(s.loadNewest()?.index).toBe(10);
    expect(fsys.list('/snap').some(n => n.endsWith('.snap.broken'))).toBe(true);
  });

  it('purges all but the newest files', () => {
    const s = new Snapshotter('/snap', new CrashFileSystem());
    for (let i = 1; i <= 5; i++) s.save(snap(i * 10, 1, `s${i}`));
    s.purge(2);
    expect(s.names().map(n => parseInt(n.split('-')[1] ?? '', 16))).toEqual([40, 50]);
  });

  it('after a power cut has either the complete new snapshot or the old one', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const fsys = new CrashFileSystem();
      const s = new Snapshotter('/snap', fsys);
      s.save(snap(10, 1, 'old'));
      fsys.syncsUntilFailure = seed % 3;
      try {
        s.save(snap(20, 1, 'new'.repeat(400)));
      } catch {
        // the crash point
      }
      fsys.syncsUntilFailure = undefined;
      fsys.crash({random: seededRandom(seed), tear: 'sector'});
      const got = new Snapshotter('/snap', fsys).loadNewest();
      expect([10, 20]).toContain(got?.index);
      if (got?.index === 20) expect(got.data.length).toBe(1200);
    }
  });
});
