import {createServer} from 'node:http';
import type {Server} from 'node:http';
import type {AddressInfo} from 'node:net';

import type {Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {EtcdCluster} from '@synod/testing';
import {CreateMode, ZooKeeperClient, freePorts, startSynod, waitFor} from '@synod/testing';

import type {RunningBrowser} from './console-harness.js';
import {
  base64,
  ensureBundle,
  etcdctl,
  gatewayCall,
  newPage,
  openView,
  screenshot,
  startBrowser,
  stopBrowser,
  within,
} from './console-harness.js';

/**
 * The web console in a real browser against a real member: headless Chromium loads `/ui/`
 * from a `synod` process and works through the JSON gateway as a user would. etcdctl writes
 * what the console must show and reads back what the console wrote. Keys and values made to
 * break a page (markup, bytes that are not UTF-8, a 1 MiB value) must show as text and run
 * nothing; with auth on, a page of another origin can neither write through the logged-in
 * console nor frame it, and a user never sees a key their roles do not let them read.
 */

/** Whether a script smuggled in a key or value ran: it would set this on the page's window. */
const smuggledRan = (page: Page): Promise<unknown> => page.evaluate('window.smuggled');

/** Lists the keys under `prefix` in the keys view. */
async function listPrefix(page: Page, prefix: string): Promise<void> {
  await openView(page, 'keys');
  await page.fill('[data-testid="prefix"]', prefix);
  await page.click('button:text-is("List")');
}

// One member (with a ZooKeeper port) and one browser for the whole file; auth is enabled
// half-way, for the second group of tests.
let cluster: EtcdCluster | undefined;
let running: RunningBrowser | undefined;
let endpoint = '';
let zkPort = 0;

beforeAll(async () => {
  [zkPort = 0] = await freePorts(1);
  const [, started, browser] = await Promise.all([
    ensureBundle(),
    startSynod({
      members: 1,
      extraArgs: [`--listen-zk-urls=http://127.0.0.1:${zkPort}`, '--bcrypt-cost=4'],
    }),
    startBrowser(),
  ]);
  cluster = started;
  running = browser;
  endpoint = started.endpoints[0] ?? '';
}, 60_000);

afterAll(async () => {
  await stopBrowser(running);
  await cluster?.stop();
});

describe('web console in headless Chromium', () => {
  let page: Page;
  let pageErrors: Error[];
  let zk: ZooKeeperClient | undefined;

  beforeAll(async () => {
    ({page, pageErrors} = await newPage((running as RunningBrowser).browser));
  });

  afterAll(async () => {
    zk?.disconnect();
    await page.close();
  });

  it('shows the members and the leader', async () => {
    await page.goto(`${endpoint}/ui/`);
    await expect.poll(() => page.textContent('[data-testid="leader"]'), within).toContain('m0');
    expect(await page.textContent('[data-testid="members"]')).toContain('leader');
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
    // Nothing is written before the confirmation.
    expect(await etcdctl(endpoint, ['get', '/e2e/from-browser', '--print-value-only'])).toBe('');
    await dialog.locator('button', {hasText: /^Put$/}).click();
    await expect
      .poll(() => etcdctl(endpoint, ['get', '/e2e/from-browser', '--print-value-only']), within)
      .toBe('hello from the console');
  });

  it('edits a value only once confirmed, and shows the old one in its history', async () => {
    await etcdctl(endpoint, ['put', '/e2e/edited', 'first version']);
    await listPrefix(page, '/e2e/');
    await page.click('[data-key="/e2e/edited"]');
    await page.click('[data-testid="edit"]');
    await page.fill('[data-testid="value-editor"]', 'second version');
    await page.click('button:text-is("Put…")');
    const dialog = page.locator('[role="dialog"]');
    await dialog.waitFor();
    await screenshot(page, 'edit-confirmation');
    // Cancelled: nothing written.
    await dialog.locator('button', {hasText: /^Cancel$/}).click();
    expect(await etcdctl(endpoint, ['get', '/e2e/edited', '--print-value-only'])).toBe(
      'first version',
    );
    await page.click('button:text-is("Put…")');
    await page.locator('[role="dialog"] button', {hasText: /^Put$/}).click();
    await expect
      .poll(() => etcdctl(endpoint, ['get', '/e2e/edited', '--print-value-only']), within)
      .toBe('second version');
    await expect
      .poll(() => page.textContent('[data-testid="value"]'), within)
      .toBe('second version');
    await page.click('button:text-is("History")');
    await expect
      .poll(() => page.textContent('[data-testid="history"]'), within)
      .toContain('first version');
    await screenshot(page, 'history');
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

  it('shows keys and values that hold markup as text, in the tree, the value, the history and the watch', async () => {
    const scriptKey = '/bad/<script>window.smuggled = "key"</script>';
    const imgValue = '<img src=x onerror="window.smuggled = \'value\'"><b>bold?</b>';
    // Watched before the writes, so the events carry the markup too.
    await openView(page, 'watch');
    await page.fill('[data-testid="watch-prefix"]', '/bad/');
    await page.click('button:text-is("Watch")');
    await expect
      .poll(() => page.textContent('[data-testid="watch-status"]'), within)
      .toContain('since revision');
    await gatewayCall(endpoint, 'kv/put', {key: base64(scriptKey), value: base64('first')});
    await gatewayCall(endpoint, 'kv/put', {key: base64(scriptKey), value: base64(imgValue)});
    const events = page.locator('[data-testid="watch-events"] tbody');
    await expect.poll(() => events.textContent(), within).toContain(imgValue);
    expect(await events.textContent()).toContain(scriptKey);
    expect(await events.locator('img, b, script').count()).toBe(0);

    await listPrefix(page, '/bad/');
    await page.locator(`[data-key="${scriptKey.replaceAll('"', '\\"')}"]`).click();
    const value = page.locator('[data-testid="value"]');
    await expect.poll(() => value.textContent(), within).toBe(imgValue);
    expect(await page.textContent('[data-testid="key-tree"]')).toContain('<script>');
    await page.click('button:text-is("History")');
    await expect.poll(() => page.textContent('[data-testid="history"]'), within).toContain('first');
    expect(await page.locator('main img, main b, main script').count()).toBe(0);
    await screenshot(page, 'markup');
    expect(await smuggledRan(page)).toBeUndefined();
  });

  it('shows a key and a value that are not UTF-8, the value as hex and not editable as text', async () => {
    const key = Buffer.concat([Buffer.from('/bad/bytes-'), Buffer.from([0xff, 0xfe, 0x3c])]);
    const value = Buffer.from([0xc3, 0x28, 0x3c, 0x73, 0x3e, 0x00, 0x80]);
    await gatewayCall(endpoint, 'kv/put', {key: base64(key), value: base64(value)});
    await listPrefix(page, '/bad/');
    await page.locator('[data-key="/bad/bytes-\uFFFD\uFFFD<"]').click();
    const shown = page.locator('[data-testid="value"]');
    await expect.poll(() => shown.getAttribute('data-format'), within).toBe('hex');
    expect(await shown.textContent()).toContain('c3 28 3c 73 3e 00 80');
    expect(await page.locator('[data-testid="edit"]').isDisabled()).toBe(true);
    // The store still holds the exact bytes.
    const read = await gatewayCall<{kvs?: {value?: string}[]}>(endpoint, 'kv/range', {
      key: base64(key),
    });
    expect(read.kvs?.[0]?.value).toBe(base64(value));
  });

  it('shows a 1 MiB value whole, and the page stays usable', async () => {
    const big = '<i>x</i>'.repeat(131_072);
    await gatewayCall(endpoint, 'kv/put', {key: base64('/bad/big'), value: base64(big)});
    await listPrefix(page, '/bad/');
    await page.click('[data-key="/bad/big"]');
    const shown = page.locator('[data-testid="value"]');
    await expect.poll(async () => (await shown.textContent())?.length, within).toBe(1_048_576);
    expect(await page.textContent('[data-testid="key-detail"]')).toContain('1.0 MiB');
    expect(await page.locator('main i').count()).toBe(0);
    await openView(page, 'cluster');
    await expect.poll(() => page.textContent('[data-testid="leader"]'), within).toContain('m0');
    expect(await smuggledRan(page)).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });

  it('lists each ZooKeeper session with its timeout and its ephemeral znodes', async () => {
    await waitFor(async () => {
      try {
        zk = await ZooKeeperClient.connect({
          host: '127.0.0.1',
          port: zkPort,
          sessionTimeoutMs: 10_000,
        });
        return true;
      } catch {
        return false;
      }
    });
    const session = zk as ZooKeeperClient;
    await session.create('/workers', '');
    await session.create('/workers/w-1', 'host-a', CreateMode.ephemeral);
    const id = session.session.sessionId.toString(16);
    await openView(page, 'zookeeper');
    const row = page.locator(`[data-testid="zk-sessions"] tr[data-session="${id}"]`);
    await expect.poll(() => row.textContent(), within).toContain('/workers/w-1');
    expect(await row.textContent()).toContain('10000 ms');
    expect(await page.textContent('[data-testid="zookeeper"]')).toContain('zk_ephemerals_count');
    await screenshot(page, 'zookeeper');
  });
});

describe('web console with auth enabled', () => {
  let page: Page;
  let foreign: Server | undefined;
  let foreignOrigin: string;
  let hiddenLease = '';
  let readableLease = '';
  const asRoot = (...args: string[]) => etcdctl(endpoint, ['--user=root:rootpw', ...args]);

  beforeAll(async () => {
    const ctl = (...args: string[]) => etcdctl(endpoint, args);
    await ctl('put', '/team/service', 'first team value');
    await ctl('put', '/team/service', 'readable by the reader');
    await ctl('put', '/vault/plan', 'classified plan');
    const grant = async () =>
      (await gatewayCall<{ID?: string}>(endpoint, 'lease/grant', {TTL: 600})).ID ?? '0';
    hiddenLease = await grant();
    readableLease = await grant();
    const put = (key: string, lease: string) =>
      gatewayCall(endpoint, 'kv/put', {key: base64(key), value: base64('v'), lease});
    await put('/team/leased', hiddenLease);
    await put('/vault/leased', hiddenLease);
    await put('/team/only', readableLease);
    await ctl('user', 'add', 'root:rootpw', '--interactive=false');
    await ctl('user', 'add', 'reader:readerpw', '--interactive=false');
    await ctl('role', 'add', 'team-reader');
    await ctl('role', 'grant-permission', 'team-reader', 'read', '/team/', '--prefix');
    await ctl('user', 'grant-role', 'reader', 'team-reader');
    await ctl('auth', 'enable');
    // Another site, on another origin: what a page there can do to the member.
    foreign = createServer((_, response) => {
      response.writeHead(200, {'content-type': 'text/html; charset=utf-8'});
      response.end('<!doctype html><title>elsewhere</title>');
    });
    await new Promise<void>(resolve => foreign?.listen(0, '127.0.0.1', resolve));
    foreignOrigin = `http://localhost:${(foreign.address() as AddressInfo).port}`;
    ({page} = await newPage((running as RunningBrowser).browser));
  }, 30_000);

  afterAll(async () => {
    await page.close();
    await new Promise(resolve => foreign?.close(resolve));
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

  /** The whole page's text must not name what the reader may not read. */
  async function expectNothingHidden(): Promise<void> {
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/vault|classified/);
  }

  it('asks for a login, and root then sees the cluster', async () => {
    await page.goto(`${endpoint}/ui/`);
    await screenshot(page, 'login');
    await logIn('root', 'rootpw');
    await expect.poll(() => page.textContent('[data-testid="leader"]'), within).toContain('m0');
  });

  it("refuses another site's requests while root is logged in: no write without the token, no framing", async () => {
    const other = (await newPage(running?.browser as NonNullable<RunningBrowser>['browser'])).page;
    try {
      await other.goto(`${foreignOrigin}/`);
      const forge = (credentials: 'include' | 'omit') =>
        other.evaluate(
          async ({target, credentials}) => {
            try {
              const response = await fetch(`${target}/v3/kv/put`, {
                method: 'POST',
                credentials,
                headers: {'content-type': 'application/json'},
                body: JSON.stringify({key: btoa('/team/forged'), value: btoa('forged')}),
              });
              return `${response.status} ${await response.text()}`;
            } catch (error) {
              return `refused by the browser: ${String(error)}`;
            }
          },
          {target: endpoint, credentials},
        );
      // With the browser's credentials, etcd's CORS answer (any origin, no credentials) makes
      // the browser refuse the call; without them, the member refuses a call with no token.
      expect(await forge('include')).toMatch(/^refused by the browser/);
      expect(await forge('omit')).toContain('user name is empty');
      expect(await asRoot('get', '/team/forged', '--print-value-only')).toBe('');
      // The token lives in the console's session storage, out of another origin's reach, and
      // the console refuses to be framed (frame-ancestors 'none', X-Frame-Options: DENY).
      await other.setContent(`<iframe src="${endpoint}/ui/"></iframe>`);
      // Chromium replaces a frame it refuses to show with its error page.
      const children = () =>
        other
          .frames()
          .filter(f => f !== other.mainFrame())
          .map(f => f.url());
      await expect.poll(children, within).toEqual(['chrome-error://chromewebdata/']);
      // The console's own files take GET and HEAD only.
      const post = await other.evaluate(
        async target => (await fetch(`${target}/ui/`, {method: 'POST', mode: 'no-cors'})).type,
        endpoint,
      );
      expect(post).toBe('opaque');
      expect((await fetch(`${endpoint}/ui/`, {method: 'POST'})).status).toBe(405);
    } finally {
      await other.close();
    }
  });

  it('shows a user the permission error for what their roles do not allow, and the keys they may read', async () => {
    await page.click('text=Log out');
    await logIn('reader', 'readerpw');
    await openView(page, 'keys');
    const denied = page.locator('[data-kind="permission-denied"]');
    await denied.waitFor();
    expect(await denied.textContent()).toContain('permission denied');
    await screenshot(page, 'permission-denied');
    await expectNothingHidden();
    await listPrefix(page, '/team/');
    await page.click('[data-key="/team/service"]');
    await expect
      .poll(() => page.textContent('[data-testid="value"]'), within)
      .toBe('readable by the reader');
    await page.click('button:text-is("History")');
    await expect
      .poll(() => page.textContent('[data-testid="history"]'), within)
      .toContain('first team value');
    expect(await page.locator('[data-key="/team/only"]').count()).toBe(1);
    await expectNothingHidden();
  });

  it("never shows the reader a key outside their roles: not in the watch, the leases, the locks or ZooKeeper's sessions", async () => {
    await openView(page, 'watch');
    await page.fill('[data-testid="watch-prefix"]', '/');
    await page.click('button:text-is("Watch")');
    await expect.poll(() => page.textContent('main'), within).toContain('permission denied');
    await page.fill('[data-testid="watch-prefix"]', '/team/');
    await page.click('button:text-is("Watch")');
    await expect
      .poll(() => page.textContent('[data-testid="watch-status"]'), within)
      .toContain('since revision');
    await asRoot('put', '/vault/new', 'classified news');
    await asRoot('put', '/team/new', 'team news');
    const events = page.locator('[data-testid="watch-events"] tbody');
    await expect.poll(() => events.textContent(), within).toContain('team news');
    await expectNothingHidden();

    await openView(page, 'leases');
    const hidden = page.locator(`tr[data-lease="${BigInt(hiddenLease).toString(16)}"]`);
    await expect.poll(() => hidden.locator('[data-testid="keys-hidden"]').count(), within).toBe(1);
    const readable = page.locator(`tr[data-lease="${BigInt(readableLease).toString(16)}"]`);
    expect(await readable.textContent()).toContain('/team/only');
    await screenshot(page, 'leases-restricted');
    await expectNothingHidden();

    await openView(page, 'locks');
    await page.locator('[data-kind="permission-denied"]').waitFor();
    await expectNothingHidden();
    await openView(page, 'zookeeper');
    await page.locator('[data-kind="permission-denied"]').waitFor();
    await expectNothingHidden();
  });
});
