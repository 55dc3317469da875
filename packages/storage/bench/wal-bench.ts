/**
 * WAL throughput at several batch sizes, one fdatasync per batch, and the raw disk's
 * synchronous 512-byte write rate for comparison.
 */
import {execFileSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {Wal} from '../src/wal/wal.js';

const ENTRY_BYTES = 256;
const BUDGET_MS = Number(process.env['SYNOD_BENCH_MS'] ?? 3000);
const base = fs.mkdtempSync(
  path.join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-walbench-'),
);

function rawFsyncRate(): string {
  const file = path.join(base, 'dd.bin');
  const started = process.hrtime.bigint();
  execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=512', 'count=1000', 'oflag=dsync'], {
    stdio: 'ignore',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return `dd bs=512 count=1000 oflag=dsync: ${(1000 / (ms / 1000)).toFixed(0)} writes/s (${ms.toFixed(0)} ms)`;
}

function bench(batchSize: number): string {
  const dir = path.join(base, `wal-${batchSize}`);
  const wal = Wal.create(dir, Buffer.from('bench'));
  const data = Buffer.alloc(ENTRY_BYTES, 7);
  let index = 1;
  let batches = 0;
  const started = process.hrtime.bigint();
  let elapsedMs = 0;
  while (elapsedMs < BUDGET_MS) {
    const entries: Entry[] = [];
    for (let i = 0; i < batchSize; i++) {
      entries.push({index: index++, term: 1, type: EntryType.EntryNormal, data});
    }
    wal.save({term: 1, vote: 1, commit: index - 1}, entries);
    batches++;
    elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  }
  wal.close();
  const entriesPerSec = ((index - 1) / elapsedMs) * 1000;
  const mbPerSec = (entriesPerSec * ENTRY_BYTES) / 1e6;
  const syncsPerSec = (batches / elapsedMs) * 1000;
  return (
    `batch ${String(batchSize).padStart(4)}: ${entriesPerSec.toFixed(0).padStart(8)} entries/s, ` +
    `${mbPerSec.toFixed(2).padStart(7)} MB/s payload, ${syncsPerSec.toFixed(0)} fdatasync/s`
  );
}

try {
  console.log(rawFsyncRate());
  console.log(`entries of ${ENTRY_BYTES} bytes, ${BUDGET_MS} ms per batch size`);
  for (const size of [1, 16, 256, 4096]) console.log(bench(size));
} finally {
  fs.rmSync(base, {recursive: true, force: true});
}
