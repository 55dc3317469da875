import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {Backend, BackendKeyError} from './backend.js';

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-backend-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

const keys = (be: Backend, start = '', end?: string): string[] =>
  [...be.range('key', b(start), end === undefined ? undefined : b(end))].map(e =>
    Buffer.from(e.key).toString(),
  );

describe('Backend', () => {
  it("loads sorted entries in bulk, reusing the caller's buffers, and aborts it all on a key out of order", async () => {
    const dir = tmp();
    const be = Backend.open(dir);
    const key = Buffer.alloc(2);
    const value = Buffer.alloc(3);
    be.loadSync(append => {
      for (const k of ['a1', 'a2', 'a3']) {
        key.write(k);
        value.write(`v${k}`);
        append('key', key, value);
      }
    });
    expect(keys(be)).toEqual(['a1', 'a2', 'a3']);
    expect(Buffer.from(be.lastCommitted('key')?.value ?? []).toString()).toBe('va3');
    expect(() => {
      be.loadSync(append => {
        append('key', b('b1'), b('x'));
        append('key', b('a9'), b('x'));
      });
    }).toThrow();
    expect(keys(be)).toEqual(['a1', 'a2', 'a3']);
    await be.close();
  });

  it('refuses a key it could not commit when it is written, and stays usable', async () => {
    const dir = tmp();
    const be = Backend.open(dir);
    expect(be.maxKeyBytes).toBe(1978);
    be.put('authRoles', Buffer.alloc(1978, 0x61), b('longest'));
    expect(() => {
      be.put('authRoles', Buffer.alloc(1979, 0x61), b('too long'));
    }).toThrow(BackendKeyError);
    expect(() => {
      be.put('authRoles', Buffer.alloc(0), b('empty'));
    }).toThrow(/empty key/);
    await be.close();
    const again = Backend.open(dir);
    expect(again.get('authRoles', Buffer.alloc(1978, 0x61))).toEqual(b('longest'));
    await again.close();
  });

  it('forgets discarded buffered writes but keeps committed ones', async () => {
    const dir = tmp();
    const be = Backend.open(dir);
    be.put('key', b('kept'), b('1'));
    await be.commit();
    be.put('key', b('dropped'), b('2'));
    be.discardPending();
    expect(be.pendingWrites).toBe(0);
    expect(be.get('key', b('dropped'))).toBeUndefined();
    await be.close();
    const again = Backend.open(dir);
    expect(keys(again)).toEqual(['kept']);
    await again.close();
  });

  it('reads buffered writes before commit and persists them after', async () => {
    const dir = tmp();
    const be = Backend.open(dir);
    be.put('key', b('a'), b('1'));
    be.put('meta', b('consistent_index'), b('7'));
    expect(Buffer.from(be.get('key', b('a')) ?? []).toString()).toBe('1');
    await be.commit();
    be.delete('key', b('a'));
    expect(be.get('key', b('a'))).toBeUndefined();
    be.put('key', b('b'), b('2'));
    await be.close(); // commits
    const again = Backend.open(dir);
    expect(again.get('key', b('a'))).toBeUndefined();
    expect(Buffer.from(again.get('key', b('b')) ?? []).toString()).toBe('2');
    expect(Buffer.from(again.get('meta', b('consistent_index')) ?? []).toString()).toBe('7');
    await again.close();
  });

  it('merges buffered puts and deletes into committed ranges in key order', async () => {
    const be = Backend.open(tmp());
    for (const k of ['a', 'c', 'e', 'g']) be.put('key', b(k), b(k));
    await be.commit();
    be.put('key', b('b'), b('b'));
    be.delete('key', b('c'));
    be.put('key', b('e'), b('E'));
    be.put('key', b('h'), b('h'));
    expect(keys(be)).toEqual(['a', 'b', 'e', 'g', 'h']);
    expect(keys(be, 'b', 'g')).toEqual(['b', 'e']);
    const e = [...be.range('key', b('e'), b('f'))][0];
    expect(Buffer.from(e?.value ?? []).toString()).toBe('E');
    await be.commit();
    expect(keys(be)).toEqual(['a', 'b', 'e', 'g', 'h']);
    await be.close();
  });

  it('hashes equal content equally whether committed or buffered', async () => {
    const x = Backend.open(tmp());
    const y = Backend.open(tmp());
    for (let i = 0; i < 50; i++) {
      x.put('key', b(`k${i}`), b(`v${i}`));
      y.put('key', b(`k${i}`), b(`v${i}`));
    }
    await x.commit();
    expect(x.hash()).toBe(y.hash());
    y.put('key', b('k3'), b('changed'));
    expect(x.hash()).not.toBe(y.hash());
    await x.close();
    await y.close();
  });

  it('copies a consistent data file that opens as a backend with the same content', async () => {
    const be = Backend.open(tmp());
    for (let i = 0; i < 100; i++) be.put('key', b(`k${i}`), b(`v${i}`));
    be.put('lease', b('l'), b('1'));
    const target = tmp();
    await be.copyTo(path.join(target, 'db.mdb'));
    const copy = Backend.open(target);
    expect(copy.hash()).toBe(be.hash());
    await copy.close();
    await be.close();
  });

  it('defragment shrinks the file after deletes and keeps the data', async () => {
    const dir = tmp();
    const be = Backend.open(dir);
    const value = Buffer.alloc(512, 1);
    for (let i = 0; i < 5000; i++) be.put('key', b(`k${String(i).padStart(5, '0')}`), value);
    await be.commit();
    for (let i = 0; i < 4900; i++) be.delete('key', b(`k${String(i).padStart(5, '0')}`));
    await be.commit();
    const before = be.sizeBytes();
    expect(be.sizeInUseBytes()).toBeLessThan(before / 4);
    await be.defragment();
    expect(be.sizeBytes()).toBeLessThan(before / 4);
    expect(keys(be).length).toBe(100);
    be.put('key', b('after'), b('x'));
    await be.close();
    const again = Backend.open(dir);
    expect(keys(again).length).toBe(101);
    await again.close();
  });
});
