import {execFileSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';

import {ESLint} from 'eslint';
import {beforeAll, describe, expect, it} from 'vitest';

/**
 * The layering of ARCHITECTURE.md is enforced by lint. These cases feed lint a
 * source text as if it were a file of the given package and check that the rule
 * that guards the boundary fires; the control case shows the same file passes
 * when it keeps to its layer, so a rule that rejects everything would fail here.
 */
const root = fileURLToPath(new URL('..', import.meta.url));

// The nx rule reads the project graph from nx's cache and silently skips itself
// when there is none (as in a fresh clone): compute it first, as `npm run lint` does.
beforeAll(() => {
  execFileSync(
    fileURLToPath(new URL('../node_modules/.bin/nx', import.meta.url)),
    ['show', 'projects'],
    {
      cwd: root,
      env: {...process.env, NX_DAEMON: 'false'},
      stdio: 'ignore',
    },
  );
}, 60_000);

const eslint = new ESLint({
  cwd: root,
  // The fixtures exist only in memory, so no tsconfig lists them: let the
  // TypeScript project service give them its default project.
  overrideConfig: {
    files: ['**/lint-fixture.ts'],
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            'packages/*/src/lint-fixture.ts',
            'packages/server/src/member/lint-fixture.ts',
          ],
        },
      },
    },
  },
});

async function ruleIdsFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {filePath});
  if (result === undefined) throw new Error(`lint returned no result for ${filePath}`);
  return result.messages.map(m => m.ruleId ?? `fatal: ${m.message}`);
}

const raftFile = 'packages/raft/src/lint-fixture.ts';

describe('module boundaries', () => {
  it('accepts a raft file that imports only the raft protocol types', async () => {
    const code = `import {MessageType} from '@synod/proto/raftpb';\nexport const hup = MessageType.MsgHup;\n`;
    expect(await ruleIdsFor(raftFile, code)).toEqual([]);
  });

  it('rejects gRPC in the raft core', async () => {
    const code = `import {createServer} from 'nice-grpc';\nexport const s = createServer;\n`;
    expect(await ruleIdsFor(raftFile, code)).toContain('@nx/enforce-module-boundaries');
  });

  it('rejects rxjs in the raft core', async () => {
    const code = `import {Subject} from 'rxjs';\nexport const s = new Subject<number>();\n`;
    expect(await ruleIdsFor(raftFile, code)).toContain('@nx/enforce-module-boundaries');
  });

  it('rejects Node.js modules in the raft core', async () => {
    const code = `import {readFileSync} from 'node:fs';\nexport const r = readFileSync;\n`;
    expect(await ruleIdsFor(raftFile, code)).toContain('no-restricted-imports');
  });

  it('rejects Math.random and Date.now in the raft core', async () => {
    const code = `export const a = Math.random();\nexport const b = Date.now();\n`;
    expect(await ruleIdsFor(raftFile, code)).toEqual([
      'no-restricted-properties',
      'no-restricted-properties',
    ]);
  });

  it('rejects timers in the raft core', async () => {
    const code = `export function later(f: () => void): void {\n  setTimeout(f, 1);\n}\n`;
    expect(await ruleIdsFor(raftFile, code)).toContain('no-restricted-globals');
  });

  it('rejects the client importing the server', async () => {
    const code = `export * from '@synod/server';\n`;
    expect(await ruleIdsFor('packages/client/src/lint-fixture.ts', code)).toContain(
      '@nx/enforce-module-boundaries',
    );
  });

  it('rejects the server importing the simulator', async () => {
    const code = `export * from '@synod/simulator';\n`;
    const ids = await ruleIdsFor('packages/server/src/lint-fixture.ts', code);
    expect(ids).toContain('no-restricted-imports');
  });

  it('rejects storage reaching up into the server', async () => {
    const code = `export * from '@synod/server';\n`;
    expect(await ruleIdsFor('packages/storage/src/lint-fixture.ts', code)).toContain(
      '@nx/enforce-module-boundaries',
    );
  });
});

const memberFile = 'packages/server/src/member/lint-fixture.ts';

describe('the member takes its time, timers and randomness injected', () => {
  it('accepts a member file that reads time and schedules through the injected clock', async () => {
    const code = `import type {Clock} from './clock.js';
export function later(clock: Clock, f: () => void): number {
  clock.setTimeout(f, 1);
  clock.soon(f);
  return clock.nowMs();
}
`;
    expect(await ruleIdsFor(memberFile, code)).toEqual([]);
  });

  it('rejects Date.now, performance.now and Math.random in the member', async () => {
    const code = `export const a = Date.now();
export const b = performance.now();
export const c = Math.random();
`;
    const ids = await ruleIdsFor(memberFile, code);
    expect(ids.filter(id => id === 'no-restricted-properties')).toHaveLength(3);
  });

  it("rejects Node's timers in the member", async () => {
    const code = `export function later(f: () => void): void {
  setTimeout(f, 1);
  setInterval(f, 1);
  setImmediate(f);
}
`;
    expect(await ruleIdsFor(memberFile, code)).toEqual([
      'no-restricted-globals',
      'no-restricted-globals',
      'no-restricted-globals',
    ]);
  });

  it("rejects node:crypto's randomInt in the member", async () => {
    const code = `import {randomInt} from 'node:crypto';
export const seed = randomInt(10);
`;
    expect(await ruleIdsFor(memberFile, code)).toContain('no-restricted-imports');
  });

  it('still rejects the simulator in the member', async () => {
    const code = `export * from '@synod/simulator';
`;
    expect(await ruleIdsFor(memberFile, code)).toContain('no-restricted-imports');
  });
});

const cycleRule = 'synod/no-import-cycles';

describe('no import cycles in packages/', () => {
  it('accepts a member file whose imports point down the layers', async () => {
    const code = `import type {MemberConfig} from '../config/member-config.js';
import type {Clock} from './clock.js';
export type Parts = [MemberConfig, Clock];
`;
    expect(await ruleIdsFor(memberFile, code)).toEqual([]);
  });

  it('rejects a member file importing the API, whose services import the member', async () => {
    const code = `import {toGrpcError} from '../api/errors.js';
export const mapped = toGrpcError;
`;
    expect(await ruleIdsFor(memberFile, code)).toContain(cycleRule);
  });

  it('rejects a file importing, by its types only, a file that imports it', async () => {
    // member.ts imports request-ids.ts (through proposals.ts): importing member.ts back closes
    // the cycle.
    const code = `import type {MemberCore} from './member.js';
export type Owner = MemberCore;
`;
    expect(await ruleIdsFor('packages/server/src/member/request-ids.ts', code)).toContain(
      cycleRule,
    );
  });
});
