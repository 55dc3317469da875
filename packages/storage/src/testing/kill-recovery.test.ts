import {spawn} from 'node:child_process';
import * as fs from 'node:fs';
import {createRequire} from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {build} from 'rolldown';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {KvStore} from '../mvcc/kv-store.js';
import {Wal} from '../wal/wal.js';
import {applyEntries} from './crash-workload.js';
import {randomInt, seededRandom} from './seeded-random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env['SYNOD_KILL_RUNS'] ?? 5);
let work: string;
let childScript: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-kill-'));
  childScript = path.join(work, 'kill-child.mjs');
  // The child must be plain JavaScript: bundle it (TypeScript and workspace sources) with
  // the bundler vite ships, keeping the native lmdb addon external at its installed path.
  const lmdb = pathToFileURL(createRequire(import.meta.url).resolve('lmdb')).href;
  await build({
    input: path.join(here, 'kill-child.ts'),
    platform: 'node',
    external: ['lmdb'],
    resolve: {conditionNames: ['@synod/source', 'import', 'node', 'default']},
    output: {file: childScript, format: 'esm', paths: {lmdb}},
    logLevel: 'warn',
  });
}, 60_000);

afterAll(() => {
  fs.rmSync(work, {recursive: true, force: true});
});

/** Starts the child, SIGKILLs it `killAfterMs` after its first ack, returns the acks seen. */
function runAndKill(dir: string, seed: number, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: number[] = [];
    let stderr = '';
    let buffered = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (m !== null) acks.push(Number(m[1]));
      }
      timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code}/${signal}: ${stderr}`));
      else resolve(acks);
    });
  });
}

const snapshotOf = (store: KvStore) =>
  store
    .range(Buffer.of(0), Buffer.of(0))
    .kvs.map(kv => [
      Buffer.from(kv.key).toString(),
      Buffer.from(kv.value).toString(),
      kv.createRevision,
      kv.modRevision,
      kv.version,
    ]);

describe('kill -9 of a process writing the WAL and the store', () => {
  it(`keeps every acknowledged batch and rebuilds the same store (${RUNS} kills)`, async () => {
    const dir = path.join(work, 'member');
    fs.mkdirSync(dir);
    const random = seededRandom(Number(process.env['SYNOD_SEED'] ?? 7));
    let maxAcked = 0;
    const started = Date.now();
    for (let run = 0; run < RUNS; run++) {
      const acks = await runAndKill(dir, run + 1, randomInt(random, 20, 250));
      maxAcked = Math.max(maxAcked, ...acks);

      const {wal, replay} = Wal.open(path.join(dir, 'wal'), {segmentBytes: 256 * 1024});
      wal.close();
      const entries = replay.entries;
      expect(entries[0]?.index).toBe(1);
      const last = entries.at(-1)?.index ?? 0;
      expect(
        last,
        `run ${run}: acknowledged ${maxAcked} but WAL ends at ${last}`,
      ).toBeGreaterThanOrEqual(maxAcked);
      entries.forEach((e, i) => {
        expect(e.index).toBe(i + 1);
      });

      const store = KvStore.open(path.join(dir, 'db'));
      expect(store.consistentIndex()).toBeLessThanOrEqual(last);
      await applyEntries(store, entries);
      const refDir = path.join(work, `ref-${run}`);
      const ref = KvStore.open(refDir);
      await applyEntries(ref, entries);
      expect(store.rev()).toBe(ref.rev());
      expect(snapshotOf(store)).toEqual(snapshotOf(ref));
      expect((await store.hashKV(0)).hash).toBe((await ref.hashKV(0)).hash);
      await store.close();
      await ref.close();
      fs.rmSync(refDir, {recursive: true, force: true});
      maxAcked = last;
    }
    if (RUNS >= 20) {
      console.log(`${RUNS} kill -9 runs in ${Date.now() - started} ms, last index ${maxAcked}`);
    }
  }, 600_000);
});
