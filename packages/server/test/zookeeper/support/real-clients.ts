import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

import {zookeeperJava} from '@synod/testing';

import type {ZkTarget} from '../harness.js';

/**
 * Real ZooKeeper clients run as a user would: Debian's zkCli (ZooKeeper's own Java client,
 * `org.apache.zookeeper.ZooKeeperMain`, fed a script on stdin) and python's kazoo (Debian's
 * python3-kazoo) running its recipes from `kazoo_recipes.py`. Each run's output is
 * normalised so that two servers' runs can be compared:
 * - zkCli: hex zxids (`cZxid = 0x..`, ...) become `zxid#n` by rank within the run, `ctime`
 *   and `mtime` dates become `<time>`, a non-zero `ephemeralOwner` becomes `<session>`;
 *   log lines (SLF4J, "Connecting to", "Welcome", "JLine") are dropped.
 * - kazoo: its JSON lines are compared as they are; the script prints only what a recipe
 *   hands back, never an id or a time.
 */

/** The python that can import kazoo: Debian installs it for the system interpreter. */
export const kazooPython: string | undefined = ['python3', '/usr/bin/python3'].find(
  python => spawnSync(python, ['-c', 'import kazoo'], {stdio: 'ignore'}).status === 0,
);

const running = new Set<ChildProcess>();

/** Kills, by pid, every client process still running. */
export function killClients(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }
  running.clear();
}

async function run(
  file: string,
  args: readonly string[],
  stdin: string,
  timeoutMs: number,
): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawn(file, args, {stdio: ['pipe', 'pipe', 'pipe']});
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(stdin);
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>(resolve => child.once('close', resolve));
  clearTimeout(timer);
  running.delete(child);
  return {code, stdout, stderr};
}

/**
 * Runs zkCli with `commands` (one a line) against `target`; returns its normalised output.
 * `jvmFlags` set client properties, such as the TLS ones.
 */
export async function runZkCli(
  target: ZkTarget,
  commands: readonly string[],
  jvmFlags: readonly string[] = [],
): Promise<string[]> {
  const {java, classpath} = zookeeperJava();
  const server = `${target.host}:${target.port}`;
  const args = ['-XX:TieredStopAtLevel=1', '-Xmx96m', ...jvmFlags, '-cp', classpath];
  const {stdout, stderr} = await run(
    java,
    [...args, 'org.apache.zookeeper.ZooKeeperMain', '-server', server],
    [...commands, 'quit', ''].join('\n'),
    30_000,
  );
  const printed = `${stdout}\n${stderr}`
    .split('\n')
    .map(line => line.trimEnd())
    .filter(
      line =>
        line !== '' && !/^(SLF4J:|Connecting to |Welcome to ZooKeeper|JLine support)/.test(line),
    );
  // zkCli's event thread prints the session's state changes (`WATCHER::`, then `WatchedEvent
  // state:SyncConnected type:None ...`) whenever they come, between the lines of a command's
  // output or not: they go first, in the order they came.
  const stateEvents: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < printed.length; i++) {
    const line = printed[i] ?? '';
    const next = printed[i + 1] ?? '';
    if (line === 'WATCHER::' && /^WatchedEvent state:\w+ type:None /.test(next)) {
      stateEvents.push(line, next);
      i++;
    } else rest.push(line);
  }
  const lines = [...stateEvents, ...rest];
  const zxids = [
    ...new Set(lines.flatMap(line => /^[cmp]Zxid = (0x[0-9a-f]+)$/.exec(line)?.[1] ?? [])),
  ].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return lines.map(line =>
    line
      .replace(/^([cmp]Zxid) = (0x[0-9a-f]+)$/, (_m, key: string, z: string) =>
        BigInt(z) === 0n ? `${key} = 0x0` : `${key} = zxid#${zxids.indexOf(z) + 1}`,
      )
      .replace(/^([cm]time) = .*$/, '$1 = <time>')
      .replace(/^ephemeralOwner = 0x(?!0$)[0-9a-f]+$/, 'ephemeralOwner = <session>'),
  );
}

const recipes = fileURLToPath(new URL('kazoo_recipes.py', import.meta.url));

/** Runs kazoo's recipes under `root` on `target`; returns the transcript's lines. */
export async function runKazoo(target: ZkTarget, root: string): Promise<unknown[]> {
  if (kazooPython === undefined) throw new Error('python3 with kazoo is not installed');
  const {code, stdout, stderr} = await run(
    kazooPython,
    [recipes, `${target.host}:${target.port}`, root],
    '',
    40_000,
  );
  const lines = stdout
    .split('\n')
    .filter(line => line !== '')
    .map(line => JSON.parse(line) as unknown);
  if (code !== 0) lines.push({exit: code, error: stderr.split('\n').slice(-3).join('\n')});
  return lines;
}
