#!/usr/bin/env node
// Regenerates packages/proto/src/gen from packages/proto/proto with buf and
// ts-proto, both installed from the npm registry. With --check it generates into
// a scratch folder and fails when the committed output differs, so CI catches a
// .proto edited without regenerating (or generated code edited by hand).
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync, cpSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const protoPackage = join(root, 'packages/proto');
const committed = join(protoPackage, 'src/gen');
const buf = join(root, 'node_modules/.bin/buf');
const plugin = join(root, 'node_modules/.bin/protoc-gen-ts_proto');

const commonOptions = [
  'outputServices=nice-grpc',
  'outputServices=generic-definitions',
  'useExactTypes=false',
  'esModuleInterop=true',
  'oneof=unions-value',
  'importSuffix=.js',
  'outputJsonMethods=false',
  'outputPartialMethods=true',
];

/**
 * Two runs with different 64-bit mappings. The etcd API carries member, lease
 * and cluster ids that use all 64 bits, so it is generated with bigint. The raft
 * protocol carries terms, indexes and node ids that Synod keeps below 2^53, so
 * it is generated with plain numbers (ts-proto throws on a larger value).
 */
const runs = [
  {
    paths: [
      'etcdserverpb',
      'mvccpb',
      'authpb',
      'v3lockpb',
      'v3electionpb',
      'grpc/health/v1',
      'synodpb',
    ],
    options: [...commonOptions, 'forceLong=bigint', 'env=node'],
  },
  {
    paths: ['raftpb', 'peerpb'],
    // Bytes as Uint8Array rather than Buffer: the raft core uses no Node.js type.
    options: [...commonOptions, 'forceLong=number', 'env=browser'],
  },
];

function generate(outDir) {
  for (const run of runs) {
    const template = JSON.stringify({
      version: 'v2',
      plugins: [{local: plugin, out: outDir, opt: run.options}],
    });
    const pathArgs = run.paths.flatMap(p => ['--path', join('proto', p)]);
    execFileSync(buf, ['generate', '--template', template, ...pathArgs], {
      cwd: protoPackage,
      stdio: 'inherit',
    });
  }
}

function listFiles(dir) {
  const out = [];
  const walk = d => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

const scratch = mkdtempSync(join(tmpdir(), 'synod-codegen-'));
try {
  generate(scratch);
  if (process.argv.includes('--check')) {
    const fresh = listFiles(scratch);
    let existing = [];
    try {
      existing = listFiles(committed);
    } catch {
      existing = [];
    }
    const problems = [];
    for (const f of new Set([...fresh, ...existing])) {
      if (!fresh.includes(f)) problems.push(`stale file ${f} (no .proto generates it)`);
      else if (!existing.includes(f)) problems.push(`missing file ${f} (not committed)`);
      else if (!readFileSync(join(scratch, f)).equals(readFileSync(join(committed, f))))
        problems.push(`out of date: ${f}`);
    }
    if (problems.length > 0) {
      console.error('Generated protocol code differs from the .proto sources:');
      for (const p of problems) console.error(`  ${p}`);
      console.error('Run `npm run codegen` and commit the result.');
      process.exit(1);
    }
    console.log(`codegen: ${fresh.length} generated files match the .proto sources`);
  } else {
    rmSync(committed, {recursive: true, force: true});
    cpSync(scratch, committed, {recursive: true});
    console.log(`codegen: wrote ${listFiles(committed).length} files to packages/proto/src/gen`);
  }
} finally {
  rmSync(scratch, {recursive: true, force: true});
}
