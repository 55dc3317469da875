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

/**
 * Builds and packs `@synod/proto` and `@synod/client` as npm would publish them, installs
 * the tarballs into a fresh project outside the repository, and uses them from plain
 * ESM JavaScript against etcd and from TypeScript through the published types.
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
      await run(
        process.execPath,
        [
          createRequire(import.meta.url).resolve('typescript/bin/tsc'),
          '-b',
          'packages/client/tsconfig.build.json',
        ],
        {cwd: repoRoot},
      );
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
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const outcome = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
        cwd: project,
      }).then(
        () => 'ok',
        (error: unknown) => String((error as {stdout?: unknown}).stdout ?? error),
      );
      expect(outcome).toBe('ok');
    });
  },
);
