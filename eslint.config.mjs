// @ts-check
import eslint from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

import synod from './tools/lint/no-import-cycles.mjs';

/** Test support may be imported by tests, benchmarks and tools of any layer. */
const testing = 'layer:testing';

/**
 * Which layer may import which. Tags live in each package.json under "nx".
 * The graph points one way: proto <- raft, storage <- server <- apps;
 * proto <- client <- recipes; the simulator is imported only by tools.
 */
const depConstraints = [
  {sourceTag: 'layer:proto', onlyDependOnLibsWithTags: [testing]},
  {sourceTag: testing, onlyDependOnLibsWithTags: ['layer:proto', 'layer:client']},
  {
    sourceTag: 'layer:core',
    onlyDependOnLibsWithTags: ['layer:proto', testing],
    bannedExternalImports: ['nice-grpc*', '@grpc/*', 'rxjs', 'rxjs/*', 'lmdb', 'pino'],
  },
  {
    sourceTag: 'layer:storage',
    onlyDependOnLibsWithTags: ['layer:proto', testing],
    bannedExternalImports: ['nice-grpc*', '@grpc/*', 'rxjs', 'rxjs/*'],
  },
  {
    sourceTag: 'layer:server',
    onlyDependOnLibsWithTags: ['layer:proto', 'layer:core', 'layer:storage', testing],
    bannedExternalImports: ['rxjs', 'rxjs/*'],
  },
  {
    sourceTag: 'layer:client',
    onlyDependOnLibsWithTags: ['layer:proto', testing],
    bannedExternalImports: ['lmdb'],
  },
  {sourceTag: 'layer:recipes', onlyDependOnLibsWithTags: ['layer:client', 'layer:proto', testing]},
  {
    sourceTag: 'layer:sim',
    onlyDependOnLibsWithTags: [
      'layer:core',
      'layer:storage',
      'layer:server',
      'layer:proto',
      testing,
    ],
  },
  {
    sourceTag: 'layer:app',
    onlyDependOnLibsWithTags: ['layer:server', 'layer:client', 'layer:proto', testing],
  },
  // The web console runs in the browser and reaches the member only over HTTP.
  {sourceTag: 'layer:console', onlyDependOnLibsWithTags: [testing]},
];

/** What a deterministic package must never touch: time, randomness and the outside world. */
const determinism = {
  'no-restricted-properties': [
    'error',
    {object: 'Math', property: 'random', message: 'Inject a seeded PRNG instead.'},
    {object: 'Date', property: 'now', message: 'Time must arrive as tick() or an injected clock.'},
    {object: 'performance', property: 'now', message: 'Use an injected clock.'},
  ],
  'no-restricted-globals': [
    'error',
    ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'process', 'Buffer'].map(
      name => ({name, message: `The raft core is synchronous and environment-free: no ${name}.`}),
    ),
  ],
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['node:*', 'fs', 'fs/*', 'path', 'os', 'net', 'http', 'crypto', 'child_process'],
          message: 'The raft core does no I/O: it imports no Node.js module.',
        },
      ],
    },
  ],
};

/** What shipped code may not import: the simulator, and test support. */
const shippedImportPatterns = [
  {
    group: ['@synod/simulator', '@synod/simulator/*'],
    message: 'Only tools and the simulator itself may import the simulator.',
  },
  {
    group: ['@synod/testing'],
    message: 'Test support is for tests, benchmarks and tools, not shipped code.',
  },
];

/**
 * The member (RaftLoop, MemberCore and what they own) reads time, starts timers and draws
 * randomness only through the Clock and RandomSource it is given, so the simulator can run
 * it under virtual time. Node's implementation lives outside `member/`.
 */
const injectedTimeMessage = 'Use the injected Clock or RandomSource (member/clock.ts).';
const memberInjectedTime = {
  'no-restricted-properties': [
    'error',
    ...[
      ['Math', 'random'],
      ['Date', 'now'],
      ['performance', 'now'],
    ].map(([object, property]) => ({object, property, message: injectedTimeMessage})),
  ],
  'no-restricted-globals': [
    'error',
    ...[
      'setTimeout',
      'setInterval',
      'setImmediate',
      'clearTimeout',
      'clearInterval',
      'clearImmediate',
      'performance',
    ].map(name => ({name, message: injectedTimeMessage})),
  ],
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...['node:crypto', 'crypto'].map(name => ({
          name,
          importNames: ['randomInt', 'randomBytes', 'randomUUID', 'getRandomValues'],
          message: injectedTimeMessage,
        })),
        ...['node:timers', 'node:timers/promises', 'node:perf_hooks', 'timers', 'perf_hooks'].map(
          name => ({name, message: injectedTimeMessage}),
        ),
      ],
      patterns: shippedImportPatterns,
    },
  ],
};

export default tseslint.config(
  {
    name: 'global-ignores',
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '.nx/**',
      'packages/proto/src/gen/**',
      '**/*.synod/**',
    ],
  },
  {
    name: 'base-config',
    files: ['**/*.ts', 'apps/console/src/**/*.tsx'],
    extends: [eslint.configs.recommended, ...tseslint.configs.strictTypeChecked],
    plugins: {'@nx': nx},
    languageOptions: {
      parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
    },
    linterOptions: {reportUnusedDisableDirectives: 'error'},
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {enforceBuildableLibDependency: false, allow: [], depConstraints},
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/ban-ts-comment': ['error', {'ts-expect-error': 'allow-with-description'}],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {allowNumber: true, allowBoolean: true},
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_'},
      ],
      'no-restricted-imports': ['error', {patterns: shippedImportPatterns}],
    },
  },
  {
    name: 'tests',
    files: ['**/*.test.ts', '**/bench/**/*.ts', '**/test/**/*.ts', 'tools/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@synod/simulator', '@synod/simulator/*'],
              message: 'Only tools and the simulator itself may import the simulator.',
            },
          ],
        },
      ],
    },
  },
  {
    name: 'simulator-users',
    files: ['tools/**/*.ts', 'packages/simulator/**/*.ts'],
    rules: {'no-restricted-imports': 'off'},
  },
  {
    // The simulator runs the shipped member, so it imports the server. The only edge back is
    // test-only: the server's fault suites check their histories with the simulator's
    // linearizability checker, and no shipped server file may import the simulator (above).
    name: 'simulator-runs-the-server',
    files: ['packages/simulator/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
          ignoredCircularDependencies: [['@synod/simulator', '@synod/server']],
        },
      ],
    },
  },
  {
    // The server's fault tests drive real members with Synod's own client and check the
    // recorded histories with the simulator's linearizability checker; nothing else in the
    // server may import either.
    name: 'fault-tests',
    files: ['packages/server/test/faults/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: ['@synod/simulator', '@synod/client'],
          depConstraints,
        },
      ],
    },
  },
  {
    // No import cycles between files of a package, nor between the top folders of its src/
    // (tools/lint/no-import-cycles.mjs).
    name: 'no-import-cycles',
    files: ['packages/**/*.ts'],
    plugins: {synod},
    rules: {
      'synod/no-import-cycles': 'error',
    },
  },
  {
    name: 'raft-determinism',
    files: ['packages/raft/src/**/*.ts'],
    rules: determinism,
  },
  {
    name: 'member-injected-time',
    files: ['packages/server/src/member/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: memberInjectedTime,
  },
  {
    name: 'simulator-determinism',
    files: ['packages/simulator/src/**/*.ts'],
    rules: {'no-restricted-properties': determinism['no-restricted-properties']},
  },
  {
    name: 'plain-javascript',
    files: ['**/*.mjs', '**/*.js'],
    extends: [eslint.configs.recommended, tseslint.configs.disableTypeChecked],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly'}},
  },
  prettier,
);
