import {execFile} from 'node:child_process';
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

import {etcdSkipReason, startEtcd} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The consumer's own rxjs; the packages take rxjs as a peer (`^7.8.0`) and must share it. */
const appRxjs = '7.8.1';

/**
 * Builds and packs `@synod/proto`, `@synod/client` and `@synod/recipes` as npm would
 * publish them, installs the tarballs into a fresh project outside the repository, and
 * uses the recipes from plain ESM JavaScript against etcd and from TypeScript through the
 * published types.
 *
 * Slow (a build and an npm install), so it runs only with SYNOD_PACK_TEST=1.
 */
describe.skipIf(process.env.SYNOD_PACK_TEST !== '1' || etcdSkipReason !== undefined)(
  'the packed recipes, installed outside the repository',
  () => {
    let cluster: EtcdCluster;
    let work: string;
    let project: string;

    beforeAll(async () => {
      cluster = await startEtcd();
      work = mkdtempSync(join(tmpdir(), 'synod-recipes-pack-'));
      project = join(work, 'consumer');
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      // The recipes' build graph only (it builds @synod/proto and @synod/client first).
      await run(process.execPath, [tsc, '-b', 'packages/recipes/tsconfig.build.json'], {
        cwd: repoRoot,
      });
      await run(
        npm,
        [
          'pack',
          '-w',
          '@synod/proto',
          '-w',
          '@synod/client',
          '-w',
          '@synod/recipes',
          '--pack-destination',
          work,
        ],
        {cwd: repoRoot},
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
          name: 'synod-recipes-consumer',
          private: true,
          type: 'module',
          dependencies: {
            '@synod/proto': tarball('proto'),
            '@synod/client': tarball('client'),
            '@synod/recipes': tarball('recipes'),
            // An application on another rxjs 7 release than the one Synod is built with.
            rxjs: appRxjs,
          },
        }),
      );
      // The third-party dependencies are in npm's cache after the workspace install.
      await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], {cwd: project});
    }, 180_000);

    afterAll(async () => {
      await cluster.stop();
      rmSync(work, {recursive: true, force: true});
    });

    it("shares the application's rxjs: one copy in the project", async () => {
      const {stdout} = await run(npm, ['ls', 'rxjs', '--all', '--json'], {cwd: project});
      const versions = new Set<string>();
      const walk = (
        node: {version?: string; dependencies?: Record<string, unknown>},
        name: string,
      ) => {
        if (name === 'rxjs' && node.version !== undefined) versions.add(node.version);
        for (const [child, value] of Object.entries(node.dependencies ?? {})) {
          walk(value as {version?: string; dependencies?: Record<string, unknown>}, child);
        }
      };
      walk(JSON.parse(stdout) as {dependencies?: Record<string, unknown>}, '');
      expect([...versions]).toEqual([appRxjs]);
    });

    it('takes a lock, leads an election and registers a service from an ESM script', async () => {
      writeFileSync(
        join(project, 'smoke.mjs'),
        [
          "import {createClient} from '@synod/client';",
          "import {Election, Mutex, ServiceRegistry, Session} from '@synod/recipes';",
          "import {filter, firstValueFrom} from 'rxjs';",
          'const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
          'const session = await Session.create(client, {ttlSec: 5});',
          "const lock = await new Mutex(session, 'packed-lock').acquire();",
          'const token = String(lock.fencingToken);',
          'await lock.release();',
          "const election = new Election(session, 'packed-election');",
          "await election.campaign('me');",
          'const leading = await firstValueFrom(election.isLeader$.pipe(filter(Boolean)));',
          'const registry = new ServiceRegistry(client, {ttlSec: 5});',
          "await registry.register('api', 'one', {port: 8080});",
          "const list = await firstValueFrom(registry.instances$('api').pipe(filter(l => l.length > 0)));",
          'await registry.close();',
          'await session.close();',
          'client.close();',
          'console.log(JSON.stringify({token, leading, port: list[0].metadata.port}));',
          '',
        ].join('\n'),
      );
      const {stdout} = await run(process.execPath, ['smoke.mjs'], {
        cwd: project,
        env: {...process.env, ETCD_ENDPOINT: cluster.endpoints[0]},
      });
      const result = JSON.parse(stdout) as {token: string; leading: boolean; port: number};
      expect(BigInt(result.token)).toBeGreaterThan(1n);
      expect(result.leading).toBe(true);
      expect(result.port).toBe(8080);
    });

    // Every module resolution a TypeScript project may use, with a module kind it allows.
    it.each([
      ['NodeNext', 'NodeNext'],
      ['Node16', 'Node16'],
      ['Bundler', 'ES2022'],
      ['Node', 'ES2022'],
    ])(
      'type-checks TypeScript against the published types (moduleResolution %s)',
      async (resolution, module) => {
        writeFileSync(
          join(project, 'tsconfig.json'),
          JSON.stringify({
            compilerOptions: {
              target: 'ES2022',
              module,
              moduleResolution: resolution,
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
            "import {createClient} from '@synod/client';",
            "import {ConfigWatcher, CreateMode, Mutex, Session, ZkTree} from '@synod/recipes';",
            "import type {LeaderInfo, LockHandle, ServiceInstance} from '@synod/recipes';",
            "import type {Observable} from 'rxjs';",
            "const client = createClient({endpoints: ['127.0.0.1:2379']});",
            'const session = await Session.create(client, {ttlSec: 10});',
            "const handle: LockHandle = await new Mutex(session, 'l').acquire();",
            'const token: bigint = handle.fencingToken;',
            "const config = ConfigWatcher.key(client, 'c', {decode: raw => Number(raw), default: 0});",
            'const value$: Observable<number> = config.config$;',
            "const path: string = await new ZkTree(session).create('/test', 'data', CreateMode.EPHEMERAL);",
            'let leader: LeaderInfo | null = null;',
            'let instances: readonly ServiceInstance<{port: number}>[] = [];',
            '// @ts-expect-error fencing tokens are bigint, not number',
            'const wrong: number = handle.fencingToken;',
            'export {token, value$, path, leader, instances, wrong};',
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
      },
    );
  },
);
