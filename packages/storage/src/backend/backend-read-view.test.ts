import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {afterEach, describe, expect, it} from 'vitest';

import type {BackendEntry} from './backend.js';
import {Backend} from './backend.js';

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-read-view-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

/** Entries as `key=value` strings, each value read before the iteration moves on. */
const listed = (entries: Iterable<BackendEntry>): string[] => [
  ...(function* () {
    for (const {key, value} of entries) {
      yield `${Buffer.from(key).toString()}=${Buffer.from(value).toString()}`;
    }
  })(),
];

describe('Backend read views', () => {
  it('see the store as it was when opened, buffered writes included, while writes go on', async () => {
    const be = Backend.open(tmp());
    be.put('key', b('a'), b('1'));
    await be.commit();
    be.put('key', b('b'), b('2'));
    const view = await be.readView();
    be.put('key', b('a'), b('changed'));
    be.put('key', b('c'), b('3'));
    await be.commit();
    try {
      expect(listed(view.range('key'))).toEqual(['a=1', 'b=2']);
      // Iterable again, from the first entry, in the same transaction.
      expect(listed(view.range('key'))).toEqual(['a=1', 'b=2']);
      expect(listed(view.transientRange('key'))).toEqual(['a=1', 'b=2']);
      expect(Buffer.from(view.get('key', b('a')) ?? []).toString()).toBe('1');
      expect(view.get('key', b('c'))).toBeUndefined();
    } finally {
      view.close();
    }
    expect(listed(be.range('key', b('')))).toEqual(['a=changed', 'b=2', 'c=3']);
    await be.close();
  });

  it('hand out one reused buffer for every key and every value of a transient range, and copies otherwise', async () => {
    const be = Backend.open(tmp());
    for (const k of ['a', 'b', 'c']) be.put('key', b(k), b(`value-${k}`));
    const view = await be.readView();
    try {
      const kept = [...view.range('key')].map(e => e.value);
      expect(kept.map(v => Buffer.from(v).toString())).toEqual(['value-a', 'value-b', 'value-c']);
      const transient = [...view.transientRange('key')];
      expect(new Set(transient.map(e => e.value.buffer)).size).toBe(1);
      expect(new Set(transient.map(e => e.key.buffer)).size).toBe(1);
      expect(listed(view.transientRange('key'))).toEqual(['a=value-a', 'b=value-b', 'c=value-c']);
    } finally {
      view.close();
    }
    await be.close();
  });

  it('are stopped by closing the backend, which waits for them; defragmenting waits too', async () => {
    const be = Backend.open(tmp());
    be.put('key', b('a'), b('1'));
    const view = await be.readView();
    const events: string[] = [];
    const defragmented = be.defragment().then(() => events.push('defragmented'));
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(events).toEqual([]);
    view.signal.addEventListener('abort', () => {
      events.push('asked to stop');
      setTimeout(() => {
        events.push('view closed');
        view.close();
      }, 20);
    });
    view.close();
    view.close();
    await defragmented;
    const second = await be.readView();
    second.signal.addEventListener('abort', () => {
      events.push('asked to stop');
      setTimeout(() => {
        events.push('view closed');
        second.close();
      }, 20);
    });
    await be.close();
    events.push('backend closed');
    expect(events).toEqual(['defragmented', 'asked to stop', 'view closed', 'backend closed']);
  });
});
