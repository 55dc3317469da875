import {esmOnlyMessage, packProject, packSkipReason, requiresEsm} from '@synod/testing';
import type {PackedProject} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/**
 * Builds and packs `@synod/proto` and `@synod/client` as npm would publish them, installs
 * the tarballs into a fresh project outside the repository, and uses them from plain
 * ESM JavaScript against etcd and from TypeScript through the published types, and from a
 * CommonJS package inside that project with require() and import().
 *
 * Slow (a build and an npm install), so it runs only with SYNOD_PACK_TEST=1.
 */
describe.skipIf(packSkipReason !== undefined)(
  'the packed client, installed outside the repository',
  () => {
    let project: PackedProject;

    beforeAll(async () => {
      project = await packProject({name: 'client', packages: ['@synod/proto', '@synod/client']});
    }, 120_000);

    afterAll(async () => {
      await project.stop();
    });

    it('puts and gets from an ESM script', async () => {
      const stdout = await project.runScript('smoke.mjs', [
        "import {createClient, CompactedError} from '@synod/client';",
        'const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
        "await client.kv.put('packed/key', 'packed value');",
        "const kv = await client.kv.get('packed/key');",
        'client.close();',
        'console.log(JSON.stringify({value: kv?.valueString, revision: String(kv?.modRevision),',
        '  errorClass: typeof CompactedError}));',
      ]);
      const result = JSON.parse(stdout) as {value: string; revision: string; errorClass: string};
      expect(result.value).toBe('packed value');
      expect(BigInt(result.revision)).toBeGreaterThan(1n);
      expect(result.errorClass).toBe('function');
    });

    it('type-checks TypeScript against the published types', async () => {
      project.write('usage.ts', [
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
      ]);
      const outcome = await project.typeCheck('.', {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        skipLibCheck: false,
        files: ['usage.ts'],
      });
      expect(outcome).toBe('ok');
    }, 60_000);

    it.runIf(requiresEsm)(
      'loads from CommonJS with require(), one copy shared with import()',
      async () => {
        const stdout = await project.runScript('cjs/require.js', [
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
        ]);
        expect(JSON.parse(stdout)).toEqual({
          value: 'from require',
          sameClass: true,
          proto: 'function',
          raftpb: 'function',
        });
      },
    );

    it('refuses require() with the ES-module-only message where Node.js cannot require ES modules', async () => {
      const stdout = await project.runScript(
        'cjs/refused.js',
        [
          "const names = ['@synod/proto', '@synod/proto/raftpb', '@synod/proto/synodpb', '@synod/client'];",
          'console.log(JSON.stringify(names.map(name => {',
          '  try { require(name); return {name, loaded: true}; }',
          '  catch (error) { return {name, code: error.code, message: error.message}; }',
          '})));',
        ],
        {withoutRequireEsm: true},
      );
      const proto = {code: 'ERR_REQUIRE_ESM', message: esmOnlyMessage('@synod/proto')};
      expect(JSON.parse(stdout)).toEqual([
        {name: '@synod/proto', ...proto},
        {name: '@synod/proto/raftpb', ...proto},
        {name: '@synod/proto/synodpb', ...proto},
        {name: '@synod/client', code: 'ERR_REQUIRE_ESM', message: esmOnlyMessage('@synod/client')},
      ]);
    });

    it('loads from CommonJS with import(), where Node.js cannot require ES modules too', async () => {
      const stdout = await project.runScript(
        'cjs/dynamic-import.js',
        [
          'async function main() {',
          "  const {createClient} = await import('@synod/client');",
          '  const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
          "  await client.kv.put('packed/cjs-import', 'from import()');",
          "  console.log(await client.kv.getString('packed/cjs-import'));",
          '  client.close();',
          '}',
          'main().catch(error => { console.error(error); process.exitCode = 1; });',
        ],
        {withoutRequireEsm: true},
      );
      expect(stdout.trim()).toBe('from import()');
    });

    // TypeScript's node16 models a Node.js that cannot require() an ES module; nodenext
    // (TypeScript 5.8 and newer) one that can.
    it('type-checks CommonJS TypeScript: node16 asks for import(), nodenext allows require()', async () => {
      project.write('cjs/static.ts', [
        "import {createClient} from '@synod/client';",
        "export const client = createClient({endpoints: ['127.0.0.1:2379']});",
      ]);
      project.write('cjs/dynamic.ts', [
        "import type {Etcd} from '@synod/client' with {'resolution-mode': 'import'};",
        'export async function connect(): Promise<Etcd> {',
        "  const {createClient} = await import('@synod/client');",
        "  return createClient({endpoints: ['127.0.0.1:2379']});",
        '}',
      ]);
      // The ES module test above checks the declarations themselves; this one how they
      // resolve from CommonJS.
      const check = (module: string, files: string[]): Promise<string> =>
        project.typeCheck('cjs', {module, moduleResolution: module, skipLibCheck: true, files});
      const refused = await check('Node16', ['static.ts']);
      expect(refused).toContain('static.ts(1,28): error TS1479');
      expect(refused).toContain(
        `Consider writing a dynamic 'import("@synod/client")' call instead.`,
      );
      expect(await check('Node16', ['dynamic.ts'])).toBe('ok');
      expect(await check('NodeNext', ['static.ts', 'dynamic.ts'])).toBe('ok');
    }, 60_000);
  },
);
