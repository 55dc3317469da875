import {execFile} from 'node:child_process';
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

import {etcdSkipReason, startEtcd} from './etcd-process.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Why the pack tests are skipped, or undefined when they run. They are slow (a build and an
 * npm install), so they run only with SYNOD_PACK_TEST=1, and their scripts talk to etcd.
 */
export const packSkipReason: string | undefined =
  process.env.SYNOD_PACK_TEST === '1'
    ? etcdSkipReason
    : 'the pack tests are slow: set SYNOD_PACK_TEST=1 to run them';

/** Whether this Node.js can require() an ES module (20.19, 22.12 and newer). */
export const requiresEsm = process.features.require_module;

/**
 * Node.js flags that make it behave like one before 20.19, which cannot require() an ES
 * module, where the flag exists (20.17 and newer); older ones behave so already.
 */
const withoutRequireEsm = process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
  ? ['--no-experimental-require-module']
  : [];

/**
 * What `require(name)` throws where Node.js cannot require() an ES module: the message of
 * each package's `esm-only.cjs`.
 */
export function esmOnlyMessage(name: string): string {
  return (
    `${name} is an ES module only, and this Node.js cannot require() it. ` +
    `Load it with \`await import('${name}')\` (this works from CommonJS too), ` +
    'or make this code an ES module ("type": "module" in its package.json, or an .mjs file). ' +
    'Node.js 20.19, 22.12 and newer require() it as it is.'
  );
}

/** Options of {@link packProject}. */
export interface PackProjectOptions {
  /**
   * The package under test, by its directory under `packages/` (`'client'`): its build
   * graph is built, which builds the packages it depends on first, and the consumer
   * projects are named after it.
   */
  readonly name: string;
  /** The workspace packages packed and installed, the one under test among them. */
  readonly packages: readonly string[];
  /** The consumer's other dependencies (name to version), as an application has its own. */
  readonly dependencies?: Readonly<Record<string, string>>;
}

/** How a {@link PackedProject} runs a script. */
export interface RunScriptOptions {
  /** Run it as a Node.js before 20.19 does, which cannot require() an ES module. */
  readonly withoutRequireEsm?: boolean;
}

/** How a {@link PackedProject} type-checks: the compiler options that vary between checks. */
export interface TypeCheckOptions {
  readonly module: string;
  readonly moduleResolution: string;
  /** False to check the packages' declarations themselves, not only how they resolve. */
  readonly skipLibCheck: boolean;
  /** The files checked, relative to the directory checked. */
  readonly files: readonly string[];
}

/**
 * A project outside the repository with packed Synod packages installed from their
 * tarballs, as a user installs them from npm, and an etcd for its scripts. The project is
 * an ES module package (`"type": "module"`) and holds a CommonJS package in `cjs/`
 * (`"type": "commonjs"`), which resolves the packages from the project's `node_modules`.
 * Paths are relative to the project.
 */
export interface PackedProject {
  /** Writes `lines` to `file`, each ended by a newline. */
  write(file: string, lines: readonly string[]): void;
  /**
   * Writes `lines` to `file` and runs it with Node.js in the file's directory, with the
   * etcd's endpoint in `ETCD_ENDPOINT`: its stdout.
   */
  runScript(file: string, lines: readonly string[], options?: RunScriptOptions): Promise<string>;
  /** Runs npm with `args` in the project: its stdout. */
  runNpm(args: readonly string[]): Promise<string>;
  /** Writes `tsconfig.json` in `subdir` and type-checks it: 'ok', or tsc's report. */
  typeCheck(subdir: string, options: TypeCheckOptions): Promise<string>;
  /** Stops the etcd and deletes the project and the tarballs. */
  stop(): Promise<void>;
}

/**
 * Starts an etcd, builds and packs `options.packages` as npm would publish them, and
 * installs the tarballs into a fresh project in the system's temporary directory.
 *
 * Slow: a build, and an npm install (from npm's cache for the third-party dependencies,
 * which the workspace install put there).
 */
export async function packProject(options: PackProjectOptions): Promise<PackedProject> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const etcd = await startEtcd();
  const work = mkdtempSync(join(tmpdir(), `synod-${options.name}-pack-`));
  const dir = join(work, 'consumer');
  const stop = async (): Promise<void> => {
    rmSync(work, {recursive: true, force: true});
    await etcd.stop();
  };
  try {
    await install(options, {tsc, work, dir});
  } catch (error) {
    await stop();
    throw error;
  }

  const write = (file: string, lines: readonly string[]): void => {
    writeFileSync(join(dir, file), [...lines, ''].join('\n'));
  };
  return {
    write,
    async runScript(file, lines, scriptOptions = {}) {
      write(file, lines);
      const path = join(dir, file);
      const flags = scriptOptions.withoutRequireEsm === true ? withoutRequireEsm : [];
      const {stdout} = await run(process.execPath, [...flags, basename(path)], {
        cwd: dirname(path),
        env: {...process.env, ETCD_ENDPOINT: etcd.endpoints[0]},
      });
      return stdout;
    },
    async runNpm(args) {
      const {stdout} = await run(npm, [...args], {cwd: dir});
      return stdout;
    },
    async typeCheck(subdir, {module, moduleResolution, skipLibCheck, files}) {
      const cwd = join(dir, subdir);
      writeFileSync(
        join(cwd, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module,
            moduleResolution,
            strict: true,
            noEmit: true,
            skipLibCheck,
            types: ['node'],
          },
          files,
        }),
      );
      return run(process.execPath, [tsc, '-p', 'tsconfig.json'], {cwd}).then(
        () => 'ok',
        (error: unknown) => String((error as {stdout?: unknown}).stdout ?? error),
      );
    },
    stop,
  };
}

/** Builds and packs the packages into `work`, and installs them into a new project `dir`. */
async function install(
  options: PackProjectOptions,
  {tsc, work, dir}: {readonly tsc: string; readonly work: string; readonly dir: string},
): Promise<void> {
  await run(process.execPath, [tsc, '-b', `packages/${options.name}/tsconfig.build.json`], {
    cwd: repoRoot,
  });
  await run(
    npm,
    ['pack', ...options.packages.flatMap(name => ['-w', name]), '--pack-destination', work],
    {cwd: repoRoot},
  );
  const tarballs = readdirSync(work).filter(f => f.endsWith('.tgz'));
  const dependencies: Record<string, string> = {};
  for (const name of options.packages) {
    // npm names the tarball of @synod/client synod-client-<version>.tgz.
    const prefix = `${name.replace(/^@/, '').replace('/', '-')}-`;
    const found = tarballs.find(f => f.startsWith(prefix));
    if (found === undefined) throw new Error(`npm pack made no tarball for ${name}`);
    dependencies[name] = `file:${join(work, found)}`;
  }
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: `synod-${options.name}-consumer`,
      private: true,
      type: 'module',
      dependencies: {...dependencies, ...options.dependencies},
    }),
  );
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], {cwd: dir});
  mkdirSync(join(dir, 'cjs'));
  writeFileSync(
    join(dir, 'cjs', 'package.json'),
    JSON.stringify({name: `synod-${options.name}-cjs-consumer`, private: true, type: 'commonjs'}),
  );
}
