import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {randomInt, seededRandom} from '../testing/seeded-random.js';
import type {KvEvent} from './key-value.js';
import {KvStore} from './kv-store.js';
import type {WatchResponse} from './watch-stream.js';
import {WatchFilter} from './watch-stream.js';
import type {WatchableStoreOptions} from './watchable-store.js';
import {WatchableStore} from './watchable-store.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (u: Uint8Array): string => Buffer.from(u).toString();

/** A manual scheduler: steps run only when the test says so. */
class Steps {
  private queue: (() => void)[] = [];
  readonly schedule = (step: () => void): void => {
    this.queue.push(step);
  };
  runOne(): boolean {
    const s = this.queue.shift();
    s?.();
    return s !== undefined;
  }
  runAll(max = 10_000): void {
    for (let i = 0; i < max && this.runOne(); i++);
  }
}

const dirs: string[] = [];
const opened: WatchableStore[] = [];
function setup(options: Omit<WatchableStoreOptions, 'schedule'> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-watch-'));
  dirs.push(dir);
  const steps = new Steps();
  const store = new WatchableStore(KvStore.open(dir), {
    ...options,
    schedule: step => {
      steps.schedule(step);
    },
  });
  opened.push(store);
  /** Runs one write txn; returns its events (the ground truth). */
  const txn = (ops: ['put' | 'del', string, string?][]): KvEvent[] => {
    const tw = store.write();
    for (const [op, key, value] of ops) {
      if (op === 'put') tw.put(b(key), b(value ?? key), 0n);
      else tw.deleteRange(b(key), undefined);
    }
    const events = [...tw.changes()];
    tw.end();
    return events;
  };
  return {store, steps, txn};
}
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true});
});

const describeEvent = (e: KvEvent): string => `${e.kv.modRevision}:${e.type}:${str(e.kv.key)}`;
const eventsOf = (resps: readonly WatchResponse[]): KvEvent[] => resps.flatMap(r => r.events);

describe('WatchableStore guarantees (reliability.md 2.5)', () => {
  it('ordered, unique, reliable and atomic under random writes, slow consumers and catch-up', () => {
    const seeds = Number(process.env['SYNOD_WATCH_SEEDS'] ?? 12);
    for (let seed = 1; seed <= seeds; seed++) {
      const random = seededRandom(seed);
      const {store, steps, txn} = setup({
        maxRevisionsPerSync: 3,
        streamCapacity: 2,
        maxWatchersPerSync: 2,
      });
      const truth: KvEvent[] = [];
      const keys = ['a', 'b', 'c', 'd', 'e'];
      for (let i = 0; i < 10; i++) truth.push(...txn([['put', keys[i % 5] ?? 'a', `v${i}`]]));
      const streams = [store.newWatchStream(), store.newWatchStream()];
      const watches: {
        stream: number;
        id: number;
        from: string;
        to: string;
        start: number;
        got: WatchResponse[];
      }[] = [];
      for (let w = 0; w < 5; w++) {
        const s = randomInt(random, 0, 1);
        const from = keys[randomInt(random, 0, 2)] ?? 'a';
        // Some watchers watch one key (indexed by key while synced), the others a range.
        const single = random() < 0.4;
        const to = single ? `${from}\0` : (keys[randomInt(random, 3, 4)] ?? 'e');
        const start = randomInt(random, 0, 11);
        const id =
          (streams[s] ?? streams[0])?.watch({
            key: b(from),
            ...(single ? {} : {rangeEnd: b(to)}),
            startRevision: start,
          }) ?? -1;
        watches.push({
          stream: s,
          id,
          from,
          to,
          start: start === 0 ? store.rev() + 1 : start,
          got: [],
        });
      }
      for (let round = 0; round < 150; round++) {
        const r = random();
        if (r < 0.5) {
          const n = randomInt(random, 1, 3);
          const ops: ['put' | 'del', string, string?][] = [];
          const used = new Set<string>();
          for (let k = 0; k < n; k++) {
            const key = keys[randomInt(random, 0, 4)] ?? 'a';
            if (used.has(key)) continue;
            used.add(key);
            ops.push([random() < 0.8 ? 'put' : 'del', key, `r${round}`]);
          }
          truth.push(...txn(ops));
        } else if (r < 0.8) {
          steps.runOne();
        } else {
          const s = randomInt(random, 0, 1);
          for (const resp of streams[s]?.drain() ?? []) {
            watches.find(w => w.stream === s && w.id === resp.watchId)?.got.push(resp);
          }
        }
      }
      for (let i = 0; i < 1000; i++) {
        steps.runAll();
        streams.forEach((st, s) => {
          for (const resp of st.drain())
            watches.find(w => w.stream === s && w.id === resp.watchId)?.got.push(resp);
        });
      }
      for (const w of watches) {
        const expected = truth
          .filter(e => e.kv.modRevision >= w.start)
          .filter(e => str(e.kv.key) >= w.from && str(e.kv.key) < w.to)
          .map(describeEvent);
        const got = eventsOf(w.got).map(describeEvent);
        expect(got, `seed ${seed} watcher ${w.from}-${w.to}@${w.start}`).toEqual(expected);
        // Atomic: no revision is split over two responses.
        const revsPerResp = w.got.map(r => new Set(r.events.map(e => e.kv.modRevision)));
        for (let i = 1; i < revsPerResp.length; i++) {
          const prev = revsPerResp[i - 1] ?? new Set<number>();
          for (const rev of revsPerResp[i] ?? []) expect(prev.has(rev)).toBe(false);
        }
      }
      expect(store.watcherCounts()).toMatchObject({unsynced: 0, victims: 0});
    }
  });

  it('delivers all events of one txn in one response', () => {
    const {store, txn} = setup();
    const stream = store.newWatchStream();
    stream.watch({key: b('a'), rangeEnd: b('z')});
    txn([
      ['put', 'a'],
      ['put', 'b'],
      ['del', 'zz'],
      ['put', 'c'],
    ]);
    const resps = stream.drain();
    expect(resps).toHaveLength(1);
    expect(resps[0]?.events.map(describeEvent)).toEqual(['2:put:a', '2:put:b', '2:put:c']);
  });

  it('is resumable from the last received revision + 1', () => {
    const {store, steps, txn} = setup({maxRevisionsPerSync: 2});
    for (let i = 0; i < 10; i++) txn([['put', `k${i % 3}`, `v${i}`]]);
    const s1 = store.newWatchStream();
    const id = s1.watch({key: b('k'), rangeEnd: b('l'), startRevision: 2});
    steps.runOne();
    steps.runOne();
    const first = eventsOf(s1.drain());
    expect(first.length).toBeGreaterThan(0);
    s1.cancel(id);
    const lastRev = first.at(-1)?.kv.modRevision ?? 0;
    txn([['put', 'k9', 'late']]);
    const s2 = store.newWatchStream();
    s2.watch({key: b('k'), rangeEnd: b('l'), startRevision: lastRev + 1});
    steps.runAll();
    const all = [...first, ...eventsOf(s2.drain())].map(e => e.kv.modRevision);
    expect(all).toEqual(Array.from({length: 11}, (_, i) => i + 2));
  });

  it('fills prev_kv with the key at the previous revision, and omits it once compacted', async () => {
    const {store, steps, txn} = setup();
    txn([['put', 'k', 'one']]);
    txn([['put', 'k', 'two']]);
    txn([['del', 'k']]);
    txn([['put', 'k', 'three']]);
    const stream = store.newWatchStream();
    stream.watch({key: b('k'), startRevision: 2, prevKv: true});
    steps.runAll();
    const ev = eventsOf(stream.drain());
    expect(ev.map(e => [e.type, e.prevKv === undefined ? null : str(e.prevKv.value)])).toEqual([
      ['put', null],
      ['put', 'one'],
      ['delete', 'two'],
      ['put', null],
    ]);
    await store.compact(4).done;
    const later = store.newWatchStream();
    later.watch({key: b('k'), startRevision: 4, prevKv: true});
    steps.runAll();
    const again = eventsOf(later.drain());
    // The delete at the compact revision went with the compaction, as in etcd.
    expect(again.map(e => [e.type, e.prevKv === undefined ? null : str(e.prevKv.value)])).toEqual([
      ['put', null],
    ]);
  });

  it('gives synced prev_kv watchers the previous value, and watchers without prev_kv none', () => {
    const {store, txn} = setup();
    txn([['put', 'k', 'one']]);
    const s1 = store.newWatchStream();
    const s2 = store.newWatchStream();
    const withPrev = [s1.watch({key: b('k'), prevKv: true}), s2.watch({key: b('k'), prevKv: true})];
    const plain = s1.watch({key: b('j'), rangeEnd: b('l')});
    txn([
      ['put', 'k', 'two'],
      ['put', 'k2', 'new'],
    ]);
    txn([['del', 'k']]);
    const r1 = s1.drain();
    const r2 = s2.drain();
    const seen = (id: number | undefined, resps: WatchResponse[]) =>
      eventsOf(resps.filter(r => r.watchId === id)).map(e => [
        describeEvent(e),
        e.prevKv === undefined ? null : str(e.prevKv.value),
      ]);
    const expected = [
      ['3:put:k', 'one'],
      ['4:delete:k', 'two'],
    ];
    expect(seen(withPrev[0], r1)).toEqual(expected);
    expect(seen(withPrev[1], r2)).toEqual(expected);
    expect(seen(plain, r1)).toEqual([
      ['3:put:k', null],
      ['3:put:k2', null],
      ['4:delete:k', null],
    ]);
  });

  it('calls the readable listener for every queued response and on close', () => {
    const {store, txn} = setup();
    const s = store.newWatchStream();
    let calls = 0;
    s.onReadable(() => {
      calls++;
    });
    s.watch({key: b('k')});
    txn([['put', 'k']]);
    txn([['put', 'x']]);
    txn([['put', 'k']]);
    expect(calls).toBe(2);
    expect(s.drain().map(r => r.revision)).toEqual([2, 4]);
    s.close();
    expect(calls).toBe(3);
    expect(s.isClosed).toBe(true);
  });

  it('applies NOPUT and NODELETE filters', () => {
    const {store, txn} = setup();
    const s = store.newWatchStream();
    const noPut = s.watch({key: b('k'), filters: [WatchFilter.NoPut]});
    const noDel = s.watch({key: b('k'), filters: [WatchFilter.NoDelete]});
    txn([['put', 'k']]);
    txn([['del', 'k']]);
    const resps = s.drain();
    expect(eventsOf(resps.filter(r => r.watchId === noPut)).map(e => e.type)).toEqual(['delete']);
    expect(eventsOf(resps.filter(r => r.watchId === noDel)).map(e => e.type)).toEqual(['put']);
  });

  it('cancels a watcher whose start revision is compacted, reporting the compact revision', async () => {
    const {store, steps, txn} = setup();
    for (let i = 0; i < 5; i++) txn([['put', 'k', `${i}`]]);
    await store.compact(4).done;
    const s = store.newWatchStream();
    const id = s.watch({key: b('k'), startRevision: 2});
    steps.runAll();
    expect(s.drain()).toEqual([
      {watchId: id, events: [], revision: 6, compactRevision: 4, canceled: true},
    ]);
    expect(s.watcherIds).toEqual([]);
  });

  it('never blocks writes on a consumer that does not read, and bounds its queue', () => {
    const {store, steps, txn} = setup({streamCapacity: 4});
    const s = store.newWatchStream();
    s.watch({key: b('k'), rangeEnd: b('l')});
    for (let i = 0; i < 200; i++) {
      txn([['put', `k${i % 7}`, `${i}`]]);
      steps.runOne();
    }
    expect(store.rev()).toBe(201);
    expect(store.watcherCounts().victims).toBe(1);
    const got: KvEvent[] = [];
    for (let i = 0; i < 500; i++) {
      const batch = s.drain();
      expect(batch.length).toBeLessThanOrEqual(4);
      got.push(...eventsOf(batch));
      steps.runAll();
    }
    expect(got.map(e => e.kv.modRevision)).toEqual(Array.from({length: 200}, (_, i) => i + 2));
    expect(store.watcherCounts()).toEqual({synced: 1, unsynced: 0, victims: 0});
  });

  it('rejects an empty range and duplicate ids with etcd messages; answers progress requests', () => {
    const {store, txn} = setup();
    const s = store.newWatchStream();
    expect(() => s.watch({key: b('b'), rangeEnd: b('a')})).toThrow('mvcc: watcher range is empty');
    s.watch({key: b('a'), watchId: 5});
    expect(() => s.watch({key: b('a'), watchId: 5})).toThrow(
      'mvcc: duplicate watch ID provided on the WatchStream',
    );
    txn([['put', 'x']]);
    s.drain();
    expect(s.requestProgress()).toBe(true);
    expect(s.drain()).toEqual([
      {watchId: -1, events: [], revision: 2, compactRevision: 0, canceled: false},
    ]);
  });

  it('streams responses through an async generator until aborted', async () => {
    const {store, txn} = setup();
    const s = store.newWatchStream();
    s.watch({key: b('k')});
    const ac = new AbortController();
    const seen: number[] = [];
    const reader = (async () => {
      for await (const r of s.responses(ac.signal)) {
        seen.push(r.revision);
        if (seen.length === 2) ac.abort();
      }
    })();
    txn([['put', 'k']]);
    await new Promise(r => setImmediate(r));
    txn([['put', 'k']]);
    await reader;
    expect(seen).toEqual([2, 3]);
  });
});
