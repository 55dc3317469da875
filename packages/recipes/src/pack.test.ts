import {esmOnlyMessage, packProject, packSkipReason, requiresEsm} from '@synod/testing';
import type {PackedProject} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/** The consumer's own rxjs; the packages take rxjs as a peer (`^7.8.0`) and must share it. */
const appRxjs = '7.8.1';

/**
 * Builds and packs `@synod/proto`, `@synod/client` and `@synod/recipes` as npm would
 * publish them, installs the tarballs into a fresh project outside the repository, and
 * uses the recipes from plain ESM JavaScript against etcd and from TypeScript through the
 * published types, and from a CommonJS package inside that project with require() and
 * import().
 *
 * Slow (a build and an npm install), so it runs only with SYNOD_PACK_TEST=1.
 */
describe.skipIf(packSkipReason !== undefined)(
  'the packed recipes, installed outside the repository',
  () => {
    let project: PackedProject;

    beforeAll(async () => {
      project = await packProject({
        name: 'recipes',
        packages: ['@synod/proto', '@synod/client', '@synod/recipes'],
        // An application on another rxjs 7 release than the one Synod is built with; the
        // CommonJS package inside the project resolves it too.
        dependencies: {rxjs: appRxjs},
      });
    }, 180_000);

    afterAll(async () => {
      await project.stop();
    });

    it("shares the application's rxjs: one copy in the project", async () => {
      const stdout = await project.runNpm(['ls', 'rxjs', '--all', '--json']);
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
      const stdout = await project.runScript('smoke.mjs', [
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
      ]);
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
      async (moduleResolution, module) => {
        project.write('usage.ts', [
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
        ]);
        const outcome = await project.typeCheck('.', {
          module,
          moduleResolution,
          skipLibCheck: false,
          files: ['usage.ts'],
        });
        expect(outcome).toBe('ok');
      },
      // tsc checks @types/node and the packages' declarations: seconds, more on a busy machine.
      60_000,
    );

    it.runIf(requiresEsm)(
      "loads from CommonJS with require(), sharing the application's rxjs and one copy with import()",
      async () => {
        const stdout = await project.runScript('cjs/require.js', [
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
        ]);
        expect(JSON.parse(stdout)).toEqual({status: 'held', sameClass: true, oneRxjs: true});
      },
    );

    it('refuses require() with the ES-module-only message where Node.js cannot require ES modules', async () => {
      const stdout = await project.runScript(
        'cjs/refused.js',
        [
          "try { require('@synod/recipes'); console.log(JSON.stringify({loaded: true})); }",
          'catch (error) { console.log(JSON.stringify({code: error.code, message: error.message})); }',
        ],
        {withoutRequireEsm: true},
      );
      expect(JSON.parse(stdout)).toEqual({
        code: 'ERR_REQUIRE_ESM',
        message: esmOnlyMessage('@synod/recipes'),
      });
    });

    it('loads from CommonJS with import(), where Node.js cannot require ES modules too', async () => {
      const stdout = await project.runScript(
        'cjs/dynamic-import.js',
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
        ],
        {withoutRequireEsm: true},
      );
      expect(BigInt(stdout.trim())).toBeGreaterThan(1n);
    });
  },
);
