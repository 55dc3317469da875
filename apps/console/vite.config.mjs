import {fileURLToPath} from 'node:url';

import {defineConfig} from 'vite';

/**
 * The console is served by the member under `/ui/`, so every asset URL is built under that
 * base. JSX is Preact's, compiled by Vite's own transformer: no framework plugin is needed.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  oxc: {jsx: {runtime: 'automatic', importSource: 'preact'}},
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The bundle ships with the server: no source maps to serve.
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
