import {execFile} from 'node:child_process';
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdSkipReason, startEtcd} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Whether this Node.js can require() an ES module (20.19, 22.12 and newer). */
const requiresEsm = process.features.require_module;
/**
 * Node.js flags that make it behave like one before 20.19, which cannot require() an ES
 * module, where the flag exists (20.17 and newer); older ones behave so already.
 */
const withoutRequireEsm = process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
  ? ['--no-experimental-require-module']
  : [];

/** What `require(name)` throws where Node.js cannot require() an ES module. */
function esmOnlyMessage(name: string): string {
  return (
    `${name} is an ES module only, and this Node.js cannot require() it. ` +
    `Load it with \`await import('${name}')\` (this works from CommonJS too), ` +
    'or make this code an ES module ("type": "module" in its package.json, or an .mjs file). ' +
    'Node.js 20.19, 22.12 and newer require() it as it is.'
  );
}

/** Type-checks the project in `cwd`: 'ok', or tsc's report. */
async function typeCheck(cwd: string): Promise<string> {
  return run(process.execPath, [tsc, '-p', 'tsconfig.json'], {cwd}).then(
    () => 'ok',
    (error: unknown) => String((error as {stdout?: unknown}).stdout ?? error),
  );
}

/**
 * Builds and packs `@synod/proto` and `@synod/client` as npm would publish them, installs
 * the tarballs into a fresh project outside the repository, and uses them from plain
 * ESM JavaScript against etcd and from TypeScript through the published types, and from a
 * CommonJS package inside that project with require() and import().
 *
 * Slow (a build and an npm install), so it runs only with SYNOD_PACK_TEST=1.
 */
describe.skipIf(process.env.SYNOD_PACK_TEST !== '1' || etcdSkipReason !== undefined)(
  'the packed client, installed outside the repository',
  () => {
    let cluster: EtcdCluster;
    let work: string;
    let project: string;

    beforeAll(async () => {
      cluster = await startEtcd();
      work = mkdtempSync(join(tmpdir(), 'synod-pack-'));
      project = join(work, 'consumer');
      // The client's build graph only (it builds @synod/proto first).
      await run(process.execPath, [tsc, '-b', 'packages/client/tsconfig.build.json'], {
        cwd: repoRoot,
      });
      await run(
        npm,
        ['pack', '-w', '@synod/proto', '-w', '@synod/client', '--pack-destination', work],
        {
          cwd: repoRoot,
        },
      );
      const tarballs = readdirSync(work).filter(f => f.endsWith('.tgz'));
      const tarball = (name: string): string => {
        const found = tarballs.find(f => f.startsWith(`synod-${name}-`));
        if (found === undefined) throw new Error(`npm pack made no tarball for @synod/${name}`);
        return `file:${join(work, found)}`;
      };
      mkdirSync(project);
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({
          name: 'synod-client-consumer',
          private: true,
          type: 'module',
          dependencies: {'@synod/proto': tarball('proto'), '@synod/client': tarball('client')},
        }),
      );
      // The third-party dependencies are in npm's cache after the workspace install.
      await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], {cwd: project});
      // A CommonJS package inside the project: its code is CommonJS, and it resolves the
      // packages from the project's node_modules.
      mkdirSync(join(project, 'cjs'));
      writeFileSync(
        join(project, 'cjs', 'package.json'),
        JSON.stringify({name: 'synod-client-cjs-consumer', private: true, type: 'commonjs'}),
      );
    }, 120_000);

    afterAll(async () => {
      await cluster.stop();
      rmSync(work, {recursive: true, force: true});
    });

    it('puts and gets from an ESM script', async () => {
      writeFileSync(
        join(project, 'smoke.mjs'),
        [
          "import {createClient, CompactedError} from '@synod/client';",
          'const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
          "await client.kv.put('packed/key', 'packed value');",
          "const kv = await client.kv.get('packed/key');",
          'client.close();',
          'console.log(JSON.stringify({value: kv?.valueString, revision: String(kv?.modRevision),',
          '  errorClass: typeof CompactedError}));',
          '',
        ].join('\n'),
      );
      const {stdout} = await run(process.execPath, ['smoke.mjs'], {
        cwd: project,
        env: {...process.env, ETCD_ENDPOINT: cluster.endpoints[0]},
      });
      const result = JSON.parse(stdout) as {value: string; revision: string; errorClass: string};
      expect(result.value).toBe('packed value');
      expect(BigInt(result.revision)).toBeGreaterThan(1n);
      expect(result.errorClass).toBe('function');
    });

    it('type-checks TypeScript against the published types', async () => {
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
          },
          files: ['usage.ts'],
        }),
      );
      writeFileSync(
        join(project, 'usage.ts'),
        [
          "import {compare, createClient, op} from '@synod/client';",
          "import type {Etcd, KeyValue, WatchBatch} from '@synod/client';",
          "import type {Observable} from 'rxjs';",
          "const client: Etcd = createClient({endpoints: ['127.0.0.1:2379'], namespace: 'app/'});",
          "const kv: KeyValue | undefined = await client.kv.get('k');",
          'const revision: bigint | undefined = kv?.modRevision;',
          "const result = await client.kv.txn().if(compare.version('k', '=', 0)).then(op.put('k', 'v')).commit();",
          'const ok: boolean = result.succeeded;',
          "const batches: Observable<WatchBatch> = client.watch.watch$({prefix: ''});",
          '// @ts-expect-error revisions are bigint, not string',
          'const wrong: string | undefined = kv?.modRevision;',
          'export {revision, ok, batches, wrong};',
          '',
        ].join('\n'),
      );
      expect(await typeCheck(project)).toBe('ok');
    }, 60_000);

    it.runIf(requiresEsm)(
      'loads from CommonJS with require(), one copy shared with import()',
      async () => {
        writeFileSync(
          join(project, 'cjs', 'require.js'),
          [
            "const proto = require('@synod/proto');",
            "const raftpb = require('@synod/proto/raftpb');",
            "const {createClient, CompactedError} = require('@synod/client');",
            'async function main() {',
            '  const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
            "  await client.kv.put('packed/cjs', 'from require');",
            "  const value = await client.kv.getString('packed/cjs');",
            '  client.close();',
            "  const imported = await import('@synod/client');",
            '  console.log(JSON.stringify({value, sameClass: imported.CompactedError === CompactedError,',
            '    proto: typeof proto.RangeRequest.encode, raftpb: typeof raftpb.Message.encode}));',
            '}',
            'main().catch(error => { console.error(error); process.exitCode = 1; });',
            '',
          ].join('\n'),
        );
        const {stdout} = await run(process.execPath, ['require.js'], {
          cwd: join(project, 'cjs'),
          env: {...process.env, ETCD_ENDPOINT: cluster.endpoints[0]},
        });
        expect(JSON.parse(stdout)).toEqual({
          value: 'from require',
          sameClass: true,
          proto: 'function',
          raftpb: 'function',
        });
      },
    );

    it('refuses require() with the ES-module-only message where Node.js cannot require ES modules', async () => {
      writeFileSync(
        join(project, 'cjs', 'refused.js'),
        [
          "const names = ['@synod/proto', '@synod/proto/raftpb', '@synod/proto/synodpb', '@synod/client'];",
          'console.log(JSON.stringify(names.map(name => {',
          '  try { require(name); return {name, loaded: true}; }',
          '  catch (error) { return {name, code: error.code, message: error.message}; }',
          '})));',
          '',
        ].join('\n'),
      );
      const {stdout} = await run(process.execPath, [...withoutRequireEsm, 'refused.js'], {
        cwd: join(project, 'cjs'),
      });
      const proto = {code: 'ERR_REQUIRE_ESM', message: esmOnlyMessage('@synod/proto')};
      expect(JSON.parse(stdout)).toEqual([
        {name: '@synod/proto', ...proto},
        {name: '@synod/proto/raftpb', ...proto},
        {name: '@synod/proto/synodpb', ...proto},
        {name: '@synod/client', code: 'ERR_REQUIRE_ESM', message: esmOnlyMessage('@synod/client')},
      ]);
    });

    it('loads from CommonJS with import(), where Node.js cannot require ES modules too', async () => {
      writeFileSync(
        join(project, 'cjs', 'dynamic-import.js'),
        [
          'async function main() {',
          "  const {createClient} = await import('@synod/client');",
          '  const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
          "  await client.kv.put('packed/cjs-import', 'from import()');",
          "  console.log(await client.kv.getString('packed/cjs-import'));",
          '  client.close();',
          '}',
          'main().catch(error => { console.error(error); process.exitCode = 1; });',
          '',
        ].join('\n'),
      );
      const {stdout} = await run(process.execPath, [...withoutRequireEsm, 'dynamic-import.js'], {
        cwd: join(project, 'cjs'),
        env: {...process.env, ETCD_ENDPOINT: cluster.endpoints[0]},
      });
      expect(stdout.trim()).toBe('from import()');
    });

    // TypeScript's node16 models a Node.js that cannot require() an ES module; nodenext
    // (TypeScript 5.8 and newer) one that can.
    it('type-checks CommonJS TypeScript: node16 asks for import(), nodenext allows require()', async () => {
      const cjs = join(project, 'cjs');
      const configure = (module: string, files: string[]): void => {
        writeFileSync(
          join(cjs, 'tsconfig.json'),
          JSON.stringify({
            compilerOptions: {
              target: 'ES2022',
              module,
              moduleResolution: module,
              strict: true,
              noEmit: true,
              // The ES module test above checks the declarations themselves; this one how
              // they resolve from CommonJS.
              skipLibCheck: true,
              types: ['node'],
            },
            files,
          }),
        );
      };
      writeFileSync(
        join(cjs, 'static.ts'),
        [
          "import {createClient} from '@synod/client';",
          "export const client = createClient({endpoints: ['127.0.0.1:2379']});",
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(cjs, 'dynamic.ts'),
        [
          "import type {Etcd} from '@synod/client' with {'resolution-mode': 'import'};",
          'export async function connect(): Promise<Etcd> {',
          "  const {createClient} = await import('@synod/client');",
          "  return createClient({endpoints: ['127.0.0.1:2379']});",
          '}',
          '',
        ].join('\n'),
      );
      configure('Node16', ['static.ts']);
      const refused = await typeCheck(cjs);
      expect(refused).toContain('static.ts(1,28): error TS1479');
      expect(refused).toContain(
        `Consider writing a dynamic 'import("@synod/client")' call instead.`,
      );
      configure('Node16', ['dynamic.ts']);
      expect(await typeCheck(cjs)).toBe('ok');
      configure('NodeNext', ['static.ts', 'dynamic.ts']);
      expect(await typeCheck(cjs)).toBe('ok');
    }, 60_000);
  },
);
