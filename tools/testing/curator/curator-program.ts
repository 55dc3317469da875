import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {existsSync, mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {installExitHook, liveChildren, tempDirs} from '../process-registry.js';

/**
 * Runs `CuratorChecks.java`: Apache Curator's recipes, unchanged, against any ZooKeeper
 * connect string (the real ZooKeeper's or Synod's). The program is compiled with `javac`
 * against Debian's Curator jars (`libcurator-recipes-java`, whose manifests pull in the
 * framework, client, guava and ZooKeeper jars) the first time a process asks for it, and the
 * classes are reused for the rest of that process. Each run is one JVM, tracked by pid: it is
 * killed by {@link CuratorRun.kill}, and with every other test child when the process ends.
 *
 * The program prints lines `CHECK <name> ok|FAIL <detail>`, `FACT <name> <value>`,
 * `STATE <word> [value]` and `TIME <name> <ms>`; see the Java source for each mode.
 */

const source = fileURLToPath(new URL('CuratorChecks.java', import.meta.url));

function packageFiles(name: string): string[] {
  const listed = spawnSync('dpkg', ['-L', name], {encoding: 'utf8'});
  return listed.status === 0 ? listed.stdout.split('\n') : [];
}

function findCurator(): {javac: string; java: string; classpath: string} | string {
  const javac = process.env.JAVAC ?? 'javac';
  const java = process.env.JAVA ?? 'java';
  if (spawnSync(javac, ['-version'], {stdio: 'ignore'}).status !== 0) {
    return `no Java compiler ("${javac} -version" failed): install default-jdk-headless`;
  }
  const jar = packageFiles('libcurator-recipes-java').find(
    file => file.endsWith('/curator-recipes.jar') && existsSync(file),
  );
  if (jar === undefined) {
    return 'Curator is not installed (no curator-recipes.jar in "dpkg -L libcurator-recipes-java"): install libcurator-framework-java and libcurator-recipes-java';
  }
  return {javac, java, classpath: jar};
}

const curator = findCurator();

/** Why the Curator suites cannot run on this machine, or undefined when they can. */
export const curatorSkipReason: string | undefined = ((): string | undefined => {
  if (typeof curator !== 'string') return undefined;
  // On CI a missing JDK or Curator must fail the build rather than silently skip the suite.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(curator);
  return curator;
})();

let compiled: Promise<string> | undefined;

/** Compiles the program once per process; resolves to the directory of its classes. */
export function compileCuratorChecks(): Promise<string> {
  compiled ??= new Promise<string>((resolve, reject) => {
    if (typeof curator === 'string') {
      reject(new Error(curator));
      return;
    }
    installExitHook();
    const out = mkdtempSync(join(tmpdir(), 'curator-checks-'));
    tempDirs.add(out);
    const javac = spawn(
      curator.javac,
      ['-nowarn', '-encoding', 'UTF-8', '-cp', curator.classpath, '-d', out, source],
      {stdio: ['ignore', 'pipe', 'pipe']},
    );
    liveChildren.add(javac);
    let output = '';
    javac.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    javac.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    javac.once('close', code => {
      liveChildren.delete(javac);
      if (code === 0) resolve(out);
      else reject(new Error(`javac failed (${String(code)}):\n${output}`));
    });
  });
  return compiled;
}

/** What one `CHECK` line said. */
export interface CuratorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The outcome of a finished run. */
export interface CuratorResult {
  readonly code: number | null;
  readonly lines: readonly string[];
  readonly checks: readonly CuratorCheck[];
  /** `FACT` lines, name to value. */
  readonly facts: ReadonlyMap<string, string>;
  /** `TIME` lines, name to milliseconds. */
  readonly times: ReadonlyMap<string, number>;
  /** The tail of stderr. */
  readonly stderr: string;
}

/** One running JVM of the program. */
export interface CuratorRun {
  readonly pid: number | undefined;
  /** Every stdout line so far. */
  readonly lines: readonly string[];
  /** Resolves with the first line matching `pattern`; rejects on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Writes a line to the program's stdin ("killed" announces a kill). */
  tell(line: string): void;
  /** SIGKILL by pid; resolves once it has exited. */
  kill(): Promise<void>;
  /** Resolves when the program exits (killed after `timeoutMs`). */
  result(timeoutMs?: number): Promise<CuratorResult>;
}

/** Options for {@link runCurator}. */
export interface CuratorRunOptions {
  /** Extra arguments after the root path. */
  readonly args?: readonly string[];
  /** Let the JIT compile fully (for benchmarks); tests start faster with the C1 compiler only. */
  readonly fullJit?: boolean;
}

/** Starts the program in `mode` against `connectString`, its nodes under `root`. */
export async function runCurator(
  mode: 'recipes' | 'hold' | 'takeover' | 'faults' | 'bench-mutex',
  connectString: string,
  root: string,
  options: CuratorRunOptions = {},
): Promise<CuratorRun> {
  const classes = await compileCuratorChecks();
  if (typeof curator === 'string') throw new Error(curator);
  const jvm = [
    '-Xmx192m',
    '-XX:+UseSerialGC',
    ...(options.fullJit === true ? [] : ['-XX:TieredStopAtLevel=1']),
    '-Djava.net.preferIPv4Stack=true',
    // No SLF4J binding is on the class path: its one warning goes to stderr, logs nowhere.
    '-cp',
    `${classes}:${curator.classpath}`,
    'CuratorChecks',
  ];
  const child: ChildProcess = spawn(
    curator.java,
    [...jvm, mode, connectString, root, ...(options.args ?? [])],
    {stdio: ['pipe', 'pipe', 'pipe']},
  );
  liveChildren.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts.filter(line => line !== ''));
    for (const wake of waiters) wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>(resolve => {
    child.once('close', code => {
      liveChildren.delete(child);
      for (const wake of waiters) wake();
      resolve(code);
    });
  });
  let exitCode: number | null | undefined;
  void exited.then(code => (exitCode = code));
  const kill = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
    await exited;
  };
  return {
    pid: child.pid,
    lines,
    waitForLine(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`no line ${String(pattern)} within ${timeoutMs} ms:\n${describe()}`));
        }, timeoutMs);
        const look = (): void => {
          const line = lines.find(l => pattern.test(l));
          if (line !== undefined || exitCode !== undefined) {
            clearTimeout(deadline);
            waiters.delete(look);
            if (line !== undefined) resolve(line);
            else reject(new Error(`exited before ${String(pattern)}:\n${describe()}`));
          }
        };
        waiters.add(look);
        look();
      });
    },
    tell(line) {
      child.stdin?.write(`${line}\n`);
    },
    kill,
    async result(timeoutMs = 120_000) {
      const timer = setTimeout(() => void kill(), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return parse(code, lines, stderr);
    },
  };
  function describe(): string {
    return `${lines.join('\n')}\n--- stderr ---\n${stderr}`;
  }
}

function parse(code: number | null, lines: readonly string[], stderr: string): CuratorResult {
  const checks: CuratorCheck[] = [];
  const facts = new Map<string, string>();
  const times = new Map<string, number>();
  for (const line of lines) {
    const check = /^CHECK (\S+) (ok|FAIL) ?(.*)$/.exec(line);
    if (check !== null) {
      checks.push({name: check[1] ?? '', ok: check[2] === 'ok', detail: check[3] ?? ''});
      continue;
    }
    const fact = /^FACT (\S+) ?(.*)$/.exec(line);
    if (fact !== null) facts.set(fact[1] ?? '', fact[2] ?? '');
    const time = /^TIME (\S+) (-?\d+)$/.exec(line);
    if (time !== null) times.set(time[1] ?? '', Number(time[2]));
  }
  return {code, lines, checks, facts, times, stderr};
}
