// Runs the storage benchmarks: bundles each bench/*.ts (TypeScript and workspace sources)
// with rolldown, the bundler vite ships, then runs it with node.
// Usage: node bench/run.mjs [wal|mvcc ...]
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import {createRequire} from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {build} from 'rolldown';

const here = path.dirname(fileURLToPath(import.meta.url));
const names = process.argv.slice(2);
const all = fs
  .readdirSync(here)
  .filter(f => f.endsWith('-bench.ts'))
  .map(f => f.replace(/-bench\.ts$/, ''));
const selected = names.length > 0 ? names : all;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'synod-bench-build-'));
const lmdb = pathToFileURL(createRequire(import.meta.url).resolve('lmdb')).href;
try {
  for (const name of selected) {
    const file = path.join(out, `${name}.mjs`);
    await build({
      input: path.join(here, `${name}-bench.ts`),
      platform: 'node',
      external: ['lmdb'],
      resolve: {conditionNames: ['@synod/source', 'import', 'node', 'default']},
      output: {file, format: 'esm', paths: {lmdb}},
      logLevel: 'warn',
    });
    console.log(`\n== ${name} ==`);
    const nodeFlags = (process.env['SYNOD_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--max-old-space-size=4096', ...nodeFlags, file],
      {
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) process.exitCode = 1;
  }
} finally {
  fs.rmSync(out, {recursive: true, force: true});
}
