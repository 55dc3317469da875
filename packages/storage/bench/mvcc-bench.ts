/**
 * MVCC figures: puts/s applied in batches of 1,000 (256-byte values), range latency over
 * 1,000,000 keys, index memory per key, and file size after compaction and defragment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {KvStore} from '../src/mvcc/kv-store.js';
import {seededRandom} from '../src/testing/seeded-random.js';

const KEYS = Number(process.env['SYNOD_BENCH_KEYS'] ?? 1_000_000);
const BATCH = 1000;
const VALUE = Buffer.alloc(256, 0x61);
const base = fs.mkdtempSync(
  path.join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-mvccbench-'),
);

const keyOf = (i: number): Buffer =>
  Buffer.from(`/registry/pods/ns${i % 100}/pod-${String(i).padStart(8, '0')}`);
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function gc(): void {
  const g = (globalThis as {gc?: () => void}).gc;
  g?.();
}

/** Applies KEYS puts in batches of BATCH, one commit per batch, at most 4 commits in flight. */
async function putAll(store: KvStore, round: number): Promise<number> {
  const started = process.hrtime.bigint();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < KEYS; i += BATCH) {
    for (let j = i; j < Math.min(KEYS, i + BATCH); j++) {
      const tw = store.write();
      tw.put(keyOf(j), VALUE, 0n);
      tw.end();
    }
    store.setConsistentIndex(round * KEYS + i + BATCH);
    inflight.push(store.commit());
    if (inflight.length > 4) await inflight.shift();
  }
  await Promise.all(inflight);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return (KEYS / ms) * 1000;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function main(): Promise<void> {
  const dir = path.join(base, 'db');
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const store = KvStore.open(dir);
  const putsPerSec = await putAll(store, 0);
  console.log(
    `put: ${putsPerSec.toFixed(0)} puts/s (${KEYS} keys, 256-byte values, commit every ${BATCH})`,
  );
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(
    `index memory: ${((heapAfter - heapBefore) / KEYS).toFixed(0)} B/key ` +
      `(heap +${mb(heapAfter - heapBefore)} for ${store.indexedKeys()} keys; etcd ~218 B/key)`,
  );

  const random = seededRandom(1);
  const cases: [string, (i: number) => unknown][] = [
    ['single-key get', i => store.range(keyOf(i), undefined)],
    // 100 consecutive keys of one namespace: keys of ns n are i = n, n + 100, n + 200, ...
    ['range of 100 keys', i => store.range(keyOf(i), keyOf(i + 100 * 100))],
    [
      'prefix of one namespace (1% of keys), limit 10',
      i =>
        store.range(
          Buffer.from(`/registry/pods/ns${i % 100}/`),
          Buffer.from(`/registry/pods/ns${i % 100}0`),
          {limit: 10},
        ),
    ],
  ];
  for (const [label, run] of cases) {
    const samples: number[] = [];
    for (let n = 0; n < 2000; n++) {
      const i = Math.floor(random() * (KEYS - 100 * 100));
      const t0 = process.hrtime.bigint();
      run(i);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    samples.sort((a, b) => a - b);
    console.log(
      `${label}: p50 ${percentile(samples, 0.5).toFixed(1)} us, p99 ${percentile(samples, 0.99).toFixed(1)} us`,
    );
  }
  const t0 = process.hrtime.bigint();
  const counted = store.range(Buffer.of(0), Buffer.of(0), {countOnly: true}).count;
  console.log(
    `count over all ${counted} keys: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`,
  );

  console.log(`file after ${KEYS} puts: ${mb(store.backend.sizeBytes())}`);
  const rePuts = await putAll(store, 1);
  console.log(`overwrite: ${rePuts.toFixed(0)} puts/s; file ${mb(store.backend.sizeBytes())}`);
  const c0 = process.hrtime.bigint();
  await store.compact(store.rev()).done;
  const compactMs = Number(process.hrtime.bigint() - c0) / 1e6;
  console.log(
    `after compaction (${compactMs.toFixed(0)} ms): file ${mb(store.backend.sizeBytes())}, ` +
      `in use ${mb(store.backend.sizeInUseBytes())}`,
  );
  const d0 = process.hrtime.bigint();
  await store.backend.defragment();
  const defragMs = Number(process.hrtime.bigint() - d0) / 1e6;
  console.log(
    `after defragment (${defragMs.toFixed(0)} ms): file ${mb(store.backend.sizeBytes())}`,
  );
  await store.close();
}

try {
  await main();
} finally {
  fs.rmSync(base, {recursive: true, force: true});
}
