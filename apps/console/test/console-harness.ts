import {execFile, spawn} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import type {Browser, BrowserServer, Page} from 'playwright-core';
import {chromium} from 'playwright-core';

import {sleep} from '@synod/testing';

/**
 * What the console's browser tests share: the bundle, Chromium from Debian's `chromium`
 * package (run by playwright-core, which downloads nothing) as a process the test owns and
 * stops by pid, etcdctl, and the screenshots every test keeps as artifacts.
 */

const consoleDir = fileURLToPath(new URL('..', import.meta.url));
const chromiumPath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** How long the page may take to show what a test waits for. */
export const within = {timeout: 10_000, interval: 100};

/**
 * Where screenshots go: `SYNOD_CONSOLE_SCREENSHOTS`, or a folder under the OS temp dir. Each
 * test file prints it once; docs/images holds a few of them, copied by hand.
 */
export const screenshotDir =
  process.env.SYNOD_CONSOLE_SCREENSHOTS ?? join(tmpdir(), 'synod-console-screenshots');

if (!existsSync(chromiumPath)) {
  throw new Error(
    `Chromium is not installed at ${chromiumPath}: the web console's browser test needs ` +
      "Debian's chromium package (apt-get install -y chromium, as .ci/run and the README's test " +
      'command do), or CHROMIUM_BIN pointing at a Chromium binary.',
  );
}

/** The newest modification time of anything under `path`. */
function newestMs(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMs(join(path, entry)));
  return newest;
}

function bundleIsCurrent(): boolean {
  const built = join(consoleDir, 'dist', 'index.html');
  if (!existsSync(built)) return false;
  const sources = Math.max(
    newestMs(join(consoleDir, 'src')),
    newestMs(join(consoleDir, 'index.html')),
  );
  return statSync(built).mtimeMs >= sources;
}

function viteBuild(): Promise<void> {
  const vite = join(
    dirname(fileURLToPath(import.meta.resolve('vite/package.json'))),
    'bin',
    'vite.js',
  );
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build'], {cwd: consoleDir, stdio: 'pipe'});
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', code => {
      if (code === 0) resolve();
      else reject(new Error(`vite build of the console failed (exit ${code}):\n${output}`));
    });
  });
}

/**
 * Builds the console with Vite when the bundle is missing or older than its sources, so a
 * test never runs an old build. Test files run in parallel: a lock folder lets one build
 * while the others wait for it.
 */
export async function ensureBundle(): Promise<void> {
  const lock = join(consoleDir, 'dist.building');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (bundleIsCurrent()) return;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than a minute was left by a killed run.
      const lockedSinceMs = statSync(lock, {throwIfNoEntry: false})?.mtimeMs ?? Date.now();
      if (Date.now() - lockedSinceMs > 60_000) {
        rmSync(lock, {recursive: true, force: true});
      }
      if (Date.now() > deadline) throw new Error(`the console's bundle is locked by ${lock}`);
      await sleep(200);
    }
  }
  try {
    if (!bundleIsCurrent()) await viteBuild();
  } finally {
    rmSync(lock, {recursive: true, force: true});
  }
}

export function etcdctl(endpoint: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'etcdctl',
      [`--endpoints=${endpoint}`, '--dial-timeout=5s', ...args],
      {timeout: 15_000, encoding: 'utf8'},
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim());
        else reject(new Error(`etcdctl ${args.join(' ')} failed: ${stderr || error.message}`));
      },
    );
  });
}

/** Calls a method of etcd's JSON gateway (`kv/put` for `/v3/kv/put`) and returns its answer. */
export async function gatewayCall<T>(
  endpoint: string,
  method: string,
  body: unknown,
  token?: string,
): Promise<T> {
  const response = await fetch(`${endpoint}/v3/${method}`, {
    method: 'POST',
    headers: token === undefined ? {} : {authorization: token},
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method}: HTTP ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export const base64 = (bytes: string | Uint8Array) => Buffer.from(bytes).toString('base64');

/** Chromium, run as a server whose process the test owns and stops by pid. */
export interface RunningBrowser {
  readonly server: BrowserServer;
  readonly browser: Browser;
}

export async function startBrowser(): Promise<RunningBrowser> {
  const server = await chromium.launchServer({
    executablePath: chromiumPath,
    headless: true,
    // Playwright gives the browser a fresh, temporary profile (--user-data-dir) of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const browser = await chromium.connect(server.wsEndpoint());
  return {server, browser};
}

export async function stopBrowser(running: RunningBrowser | undefined): Promise<void> {
  if (running === undefined) return;
  const pid = running.server.process().pid;
  await running.browser.close().catch(() => undefined);
  await running.server.close().catch(() => undefined);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
}

let announced = false;

/** Keeps a screenshot of the page as a test artifact, `<screenshotDir>/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, {recursive: true});
  if (!announced) {
    announced = true;
    console.log(`console screenshots: ${screenshotDir}`);
  }
  await page.screenshot({path: join(screenshotDir, `${name}.png`)});
}

/** Opens a view from the top bar. */
export async function openView(page: Page, view: string): Promise<void> {
  await page.click(`nav a[data-view="${view}"]`);
}

/** A new page that fails the test on any script error, at the size the docs' screenshots use. */
export async function newPage(browser: Browser): Promise<{page: Page; pageErrors: Error[]}> {
  const page = await browser.newPage({viewport: {width: 1280, height: 800}});
  page.setDefaultTimeout(10_000);
  const pageErrors: Error[] = [];
  page.on('pageerror', error => pageErrors.push(error));
  return {page, pageErrors};
}
