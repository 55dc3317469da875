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
    // Two files at a time even on two cores (vitest's default there is one): most
    // integration tests wait on member processes and timers, not on this CPU.
    maxWorkers: 2,
  },
});
