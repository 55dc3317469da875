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

/**
 * Builds and packs `@synod/proto`, `@synod/client` and `@synod/recipes` as npm would
 * publish them, installs the tarballs into a fresh project outside the repository, and
 * uses the recipes from plain ESM JavaScript against etcd and from TypeScript through the
 * published types, and from a CommonJS package inside that project with require() and
 * import().
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
      // A CommonJS package inside the project: its code is CommonJS, and it resolves the
      // packages (and the application's rxjs) from the project's node_modules.
      mkdirSync(join(project, 'cjs'));
      writeFileSync(
        join(project, 'cjs', 'package.json'),
        JSON.stringify({name: 'synod-recipes-cjs-consumer', private: true, type: 'commonjs'}),
      );
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
            "import type {LeaderInfo, LockHandle, MutexState, ServiceInstance} from '@synod/recipes';",
            "import type {Observable} from 'rxjs';",
            "const client = createClient({endpoints: ['127.0.0.1:2379']});",
            'const session = await Session.create(client, {ttlSec: 10});',
            "const handle: LockHandle = await new Mutex(session, 'l').acquire();",
            'const token: bigint = handle.fencingToken;',
            "const state: MutexState = new Mutex(session, 'l').state;",
            'const remainingTtlMs: number = state.lease.remainingTtlMs;',
            "const config = ConfigWatcher.key(client, 'c', {decode: raw => Number(raw), default: 0});",
            'const value$: Observable<number> = config.config$;',
            "const path: string = await new ZkTree(session).create('/test', 'data', CreateMode.EPHEMERAL);",
            'let leader: LeaderInfo | null = null;',
            'let instances: readonly ServiceInstance<{port: number}>[] = [];',
            '// @ts-expect-error fencing tokens are bigint, not number',
            'const wrong: number = handle.fencingToken;',
            'export {token, remainingTtlMs, value$, path, leader, instances, wrong};',
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
      // tsc checks @types/node and the packages' declarations: seconds, more on a busy machine.
      60_000,
    );

    it.runIf(requiresEsm)(
      "loads from CommonJS with require(), sharing the application's rxjs and one copy with import()",
      async () => {
        writeFileSync(
          join(project, 'cjs', 'require.js'),
          [
            "const {createClient} = require('@synod/client');",
            "const {Election, Mutex, Session} = require('@synod/recipes');",
            "const {Observable} = require('rxjs');",
            'async function main() {',
            '  const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
            '  const session = await Session.create(client, {ttlSec: 5});',
            "  const mutex = new Mutex(session, 'packed-cjs-lock');",
            '  const lock = await mutex.acquire();',
            '  const status = mutex.state.status;',
            '  await lock.release();',
            "  const leader$ = new Election(session, 'packed-cjs-election').leader$;",
            '  await session.close();',
            '  client.close();',
            "  const imported = await import('@synod/recipes');",
            '  console.log(JSON.stringify({status, sameClass: imported.Mutex === Mutex,',
            '    oneRxjs: leader$ instanceof Observable}));',
            '}',
            'main().catch(error => { console.error(error); process.exitCode = 1; });',
            '',
          ].join('\n'),
        );
        const {stdout} = await run(process.execPath, ['require.js'], {
          cwd: join(project, 'cjs'),
          env: {...process.env, ETCD_ENDPOINT: cluster.endpoints[0]},
        });
        expect(JSON.parse(stdout)).toEqual({status: 'held', sameClass: true, oneRxjs: true});
      },
    );

    it('refuses require() with the ES-module-only message where Node.js cannot require ES modules', async () => {
      writeFileSync(
        join(project, 'cjs', 'refused.js'),
        [
          "try { require('@synod/recipes'); console.log(JSON.stringify({loaded: true})); }",
          'catch (error) { console.log(JSON.stringify({code: error.code, message: error.message})); }',
          '',
        ].join('\n'),
      );
      const {stdout} = await run(process.execPath, [...withoutRequireEsm, 'refused.js'], {
        cwd: join(project, 'cjs'),
      });
      expect(JSON.parse(stdout)).toEqual({
        code: 'ERR_REQUIRE_ESM',
        message: esmOnlyMessage('@synod/recipes'),
      });
    });

    it('loads from CommonJS with import(), where Node.js cannot require ES modules too', async () => {
      writeFileSync(
        join(project, 'cjs', 'dynamic-import.js'),
        [
          'async function main() {',
          "  const {createClient} = await import('@synod/client');",
          "  const {Mutex, Session} = await import('@synod/recipes');",
          '  const client = createClient({endpoints: [process.env.ETCD_ENDPOINT]});',
          '  const session = await Session.create(client, {ttlSec: 5});',
          "  const lock = await new Mutex(session, 'packed-cjs-import-lock').acquire();",
          '  console.log(String(lock.fencingToken));',
          '  await session.close();',
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
      expect(BigInt(stdout.trim())).toBeGreaterThan(1n);
    });
  },
);
