import {execFile, spawn} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import type {Browser, BrowserServer, Page} from 'playwright-core';
import {chromium} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {EtcdCluster} from '@synod/testing';
import {startSynod} from '@synod/testing';

/**
 * The web console in a real browser against a real member: headless Chromium from Debian's
 * `chromium` package, driven by playwright-core (which downloads nothing), loads `/ui/` from
 * a `synod` process and works through the JSON gateway as a user would. etcdctl writes what
 * the console must show and reads back what the console wrote.
 */

const consoleDir = fileURLToPath(new URL('..', import.meta.url));
const chromiumPath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** How long the page may take to show what the test waits for. */
const within = {timeout: 10_000, interval: 100};
/** Set to a folder to keep a screenshot of every view the test visits. */
const screenshotDir = process.env.SYNOD_CONSOLE_SCREENSHOTS;

if (!existsSync(chromiumPath)) {
  throw new Error(
    `Chromium is not installed at ${chromiumPath}: the web console's browser test needs ` +
      "Debian's chromium package (apt-get install -y chromium, as .ci/run and the README's test " +
      'command do), or CHROMIUM_BIN pointing at a Chromium binary.',
  );
}

/** Builds the console with Vite when this checkout has no bundle yet (a fresh clone after npm ci). */
async function ensureBundle(): Promise<void> {
  if (existsSync(join(consoleDir, 'dist', 'index.html'))) return;
  const vite = join(
    dirname(fileURLToPath(import.meta.resolve('vite/package.json'))),
    'bin',
    'vite.js',
  );
  await new Promise<void>((resolve, reject) => {
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

function etcdctl(endpoint: string, args: readonly string[]): Promise<string> {
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

/** Chromium, run as a server whose process the test owns and stops by pid. */
async function startBrowser(): Promise<{server: BrowserServer; browser: Browser}> {
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

async function stopBrowser(running: {server: BrowserServer; browser: Browser} | undefined) {
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

async function screenshot(page: Page, name: string): Promise<void> {
  if (screenshotDir === undefined) return;
  mkdirSync(screenshotDir, {recursive: true});
  await page.screenshot({path: join(screenshotDir, `${name}.png`)});
}

/** Opens a view from the top bar. */
async function openView(page: Page, view: string): Promise<void> {
  await page.click(`nav a[data-view="${view}"]`);
}

describe('web console in headless Chromium', () => {
  let cluster: EtcdCluster | undefined;
  let running: {server: BrowserServer; browser: Browser} | undefined;
  let page: Page;
  let endpoint: string;

  beforeAll(async () => {
    const [, started, browser] = await Promise.all([
      ensureBundle(),
      startSynod({members: 1}),
      startBrowser(),
    ]);
    cluster = started;
    running = browser;
    endpoint = started.endpoints[0] ?? '';
    page = await browser.browser.newPage({viewport: {width: 1280, height: 800}});
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await stopBrowser(running);
    await cluster?.stop();
  });

  it('shows the members and the leader', async () => {
    await page.goto(`${endpoint}/ui/`);
    await expect.poll(() => page.textContent('[data-testid="leader"]'), within).toContain('m0');
    expect(await page.textContent('[data-testid="members"]')).toContain('leader');
    await screenshot(page, 'cluster');
  });

  it('browses to a key that etcdctl put and shows its value as JSON', async () => {
    await etcdctl(endpoint, ['put', '/e2e/config/db', '{"host":"db1","port":5432}']);
    await openView(page, 'keys');
    await page.click('[data-key="/e2e/config/db"]');
    const value = page.locator('[data-testid="value"]');
    await expect.poll(() => value.textContent(), within).toContain('"host": "db1"');
    expect(await value.getAttribute('data-format')).toBe('json');
    await screenshot(page, 'keys');
  });

  it('puts a key through the confirmation dialog, and etcdctl reads it back', async () => {
    await openView(page, 'keys');
    await page.click('text=New key…');
    await page.fill('[data-testid="new-key-name"]', '/e2e/from-browser');
    await page.fill('[data-testid="new-key-value"]', 'hello from the console');
    await page.click('[data-testid="new-key"] button[type="submit"]');
    const dialog = page.locator('[role="dialog"]');
    await dialog.waitFor();
    await screenshot(page, 'put-confirmation');
    // Nothing is written before the confirmation.
    expect(await etcdctl(endpoint, ['get', '/e2e/from-browser', '--print-value-only'])).toBe('');
    await dialog.locator('button', {hasText: /^Put$/}).click();
    await expect
      .poll(() => etcdctl(endpoint, ['get', '/e2e/from-browser', '--print-value-only']), within)
      .toBe('hello from the console');
  });

  it('shows a watch event live', async () => {
    await openView(page, 'watch');
    await page.fill('[data-testid="watch-prefix"]', '/e2e/watched/');
    await page.click('button:text-is("Watch")');
    await expect
      .poll(() => page.textContent('[data-testid="watch-status"]'), within)
      .toContain('since revision');
    await etcdctl(endpoint, ['put', '/e2e/watched/x', 'live-value']);
    const events = page.locator('[data-testid="watch-events"] tbody');
    await expect.poll(() => events.textContent(), within).toContain('/e2e/watched/x');
    expect(await events.textContent()).toContain('live-value');
    await screenshot(page, 'watch');
  });
});

describe('web console with auth enabled', () => {
  let cluster: EtcdCluster | undefined;
  let running: {server: BrowserServer; browser: Browser} | undefined;
  let page: Page;
  let endpoint: string;

  beforeAll(async () => {
    const [, started, browser] = await Promise.all([
      ensureBundle(),
      startSynod({members: 1, extraArgs: ['--bcrypt-cost=4']}),
      startBrowser(),
    ]);
    cluster = started;
    running = browser;
    endpoint = started.endpoints[0] ?? '';
    const ctl = (...args: string[]) => etcdctl(endpoint, args);
    await ctl('put', '/team/service', 'readable by the reader');
    await ctl('user', 'add', 'root:rootpw', '--interactive=false');
    await ctl('user', 'add', 'reader:readerpw', '--interactive=false');
    await ctl('role', 'add', 'team-reader');
    await ctl('role', 'grant-permission', 'team-reader', 'read', '/team/', '--prefix');
    await ctl('user', 'grant-role', 'reader', 'team-reader');
    await ctl('auth', 'enable');
    page = await browser.browser.newPage({viewport: {width: 1280, height: 800}});
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await stopBrowser(running);
    await cluster?.stop();
  });

  async function logIn(user: string, password: string): Promise<void> {
    const form = page.locator('[data-testid="login"]');
    await form.waitFor();
    await form.locator('input[name="username"]').fill(user);
    await form.locator('input[name="password"]').fill(password);
    await form.locator('button[type="submit"]').click();
    await expect
      .poll(() => page.textContent('[data-testid="user"]').catch(() => null), within)
      .toBe(user);
  }

  it('asks for a login, and root then sees the cluster', async () => {
    await page.goto(`${endpoint}/ui/`);
    await screenshot(page, 'login');
    await logIn('root', 'rootpw');
    await expect.poll(() => page.textContent('[data-testid="leader"]'), within).toContain('m0');
  });

  it('shows a user the permission error for what their roles do not allow, and the keys they may read', async () => {
    await page.click('text=Log out');
    await logIn('reader', 'readerpw');
    await openView(page, 'keys');
    const denied = page.locator('[data-kind="permission-denied"]');
    await denied.waitFor();
    expect(await denied.textContent()).toContain('permission denied');
    await screenshot(page, 'permission-denied');
    await page.fill('[data-testid="prefix"]', '/team/');
    await page.click('button:text-is("List")');
    await page.click('[data-key="/team/service"]');
    await expect
      .poll(() => page.textContent('[data-testid="value"]'), within)
      .toBe('readable by the reader');
  });
});
