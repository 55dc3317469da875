import {defaultServerConditions} from 'vite';
import {defineConfig} from 'vitest/config';

/**
 * One vitest run over every package. Workspace packages resolve to their
 * TypeScript sources through the `@synod/source` export condition, so tests
 * run right after `npm ci` without a build.
 */
export default defineConfig({
  resolve: {
    conditions: ['@synod/source', ...defaultServerConditions],
  },
  ssr: {
    resolve: {
      conditions: ['@synod/source', ...defaultServerConditions],
      externalConditions: ['@synod/source'],
    },
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'tools/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Three files at a time on two cores (vitest's default there is one): most integration
    // tests wait on member processes, elections, session timeouts and timers, not on this
    // CPU. With two, the suite took 13.5 minutes of a CI run; SYNOD_TEST_WORKERS overrides.
    maxWorkers: Number(process.env.SYNOD_TEST_WORKERS ?? 3),
  },
});
