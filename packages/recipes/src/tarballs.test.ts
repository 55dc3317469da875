import {execFile} from 'node:child_process';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

import {beforeAll, describe, expect, it} from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What every package ships besides its modules. */
const common = ['LICENSE', 'README.md', 'esm-only.cjs', 'package.json'];

/** The files `src/<module>.ts` compiles to and ships with, for source maps to point at. */
function modules(...names: string[]): string[] {
  return names.flatMap(name => [
    `dist/${name}.d.ts`,
    `dist/${name}.d.ts.map`,
    `dist/${name}.js`,
    `dist/${name}.js.map`,
    `src/${name}.ts`,
  ]);
}

/**
 * Exactly what each package puts in its tarball. A file added to or dropped from a
 * package must be added or dropped here too, on purpose.
 */
const expected: Record<string, string[]> = {
  '@synod/proto': [
    ...common,
    ...[
      'authpb/auth',
      'etcdserverpb/rpc',
      'grpc/health/v1/health',
      'mvccpb/kv',
      'peerpb/peer',
      'raftpb/raft',
      'synodpb/internal',
      'synodpb/zookeeper',
      'v3electionpb/v3election',
      'v3lockpb/v3lock',
    ].map(name => `proto/${name}.proto`),
    ...modules(
      'byte-preserving-utf8',
      'etcd-errors',
      'gen/authpb/auth',
      'gen/etcdserverpb/rpc',
      'gen/grpc/health/v1/health',
      'gen/mvccpb/kv',
      'gen/peerpb/peer',
      'gen/raftpb/raft',
      'gen/synodpb/internal',
      'gen/synodpb/zookeeper',
      'gen/v3electionpb/v3election',
      'gen/v3lockpb/v3lock',
      'index',
      'raftpb',
      'synodpb',
      'zookeeper-protocol',
    ),
  ],
  '@synod/client': [
    ...common,
    ...modules(
      'async-queue',
      'auth',
      'backoff',
      'bytes',
      'call-options',
      'cluster',
      'compare',
      'connection-pool',
      'errors',
      'etcd',
      'index',
      'key-space',
      'key-value',
      'kv',
      'lease',
      'lease-keeper',
      'maintenance',
      'ops',
      'tls',
      'to-async-iterable',
      'txn',
      'watch',
      'watch-manager',
    ),
  ],
  '@synod/recipes': [
    ...common,
    ...modules(
      'barrier',
      'config-watcher',
      'counter',
      'decode-config',
      'double-barrier',
      'election',
      'index',
      'key-snapshot',
      'local-queue',
      'lock-handle',
      'mutex',
      'pickers',
      'priority-queue',
      'queue',
      'read-write-lock',
      'retry-transient',
      'semaphore',
      'service-instances',
      'service-registry',
      'session',
      'state-stream',
      'stm',
      'wait-for-deletes',
      'work-queue',
      'zk-errors',
      'zk-tree',
    ),
  ],
};

interface PackResult {
  readonly name: string;
  readonly files: readonly {readonly path: string}[];
}

/**
 * `npm pack --dry-run` of the three published packages, compared with the lists above:
 * catches a README, LICENSE or module left out, and a test, build info or stray file let
 * in. Fast (no tarball is written, nothing is installed), so it runs in every `npm test`.
 */
describe('the files each published package ships', () => {
  let packed: readonly PackResult[];

  beforeAll(async () => {
    // dist must be built for npm to list it; a no-op when it is up to date. A dist that
    // still holds the output of a deleted module fails below: rebuild it from clean.
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-b', 'packages/recipes/tsconfig.build.json'], {
      cwd: repoRoot,
    });
    const {stdout} = await run(
      npm,
      [
        'pack',
        '--dry-run',
        '--json',
        '--ignore-scripts',
        ...Object.keys(expected).flatMap(name => ['-w', name]),
      ],
      {cwd: repoRoot},
    );
    packed = JSON.parse(stdout) as PackResult[];
  }, 120_000);

  it.each(Object.keys(expected))('%s ships exactly its expected files', name => {
    const result = packed.find(p => p.name === name);
    expect(result, `npm pack listed no ${name}`).toBeDefined();
    const files = (result?.files ?? []).map(f => f.path).sort();
    expect(files).toEqual([...(expected[name] ?? [])].sort());
  });
});
