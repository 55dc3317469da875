/**
 * Child process of the kill -9 test: appends batches to a WAL, prints `ack <index>` after
 * each save() returns, then applies the batch to the store. Runs until killed.
 * Usage: node kill-child.mjs <dir> <seed>
 * @internal
 */
import * as path from 'node:path';
import type {Entry} from '@synod/proto/raftpb';
import {writeSync} from 'node:fs';
import {KvStore} from '../mvcc/kv-store.js';
import {Wal} from '../wal/wal.js';
import {applyEntries, makeBatch} from './crash-workload.js';
import {randomInt, seededRandom} from './seeded-random.js';

const [dir = '', seedArg = '1'] = process.argv.slice(2);
const random = seededRandom(Number(seedArg));
const walDir = path.join(dir, 'wal');
const opts = {segmentBytes: 256 * 1024};

let wal: Wal;
let recovered: readonly Entry[] = [];
if (Wal.exists(walDir)) {
  const opened = Wal.open(walDir, opts);
  wal = opened.wal;
  recovered = opened.replay.entries;
} else {
  wal = Wal.create(walDir, Buffer.from('kill-test'), opts);
}
const store = KvStore.open(path.join(dir, 'db'));
await applyEntries(store, recovered);
let next = (recovered.at(-1)?.index ?? 0) + 1;

for (;;) {
  const batch = makeBatch(random, next, randomInt(random, 1, 64));
  const last = next + batch.length - 1;
  wal.save({term: 1, vote: 1, commit: last}, batch);
  writeSync(1, `ack ${last}\n`);
  await applyEntries(store, batch);
  next = last + 1;
}
