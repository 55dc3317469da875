import type {Page} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {startSynod} from '@synod/testing';

import type {RunningBrowser} from './console-harness.js';
import {
  base64,
  ensureBundle,
  gatewayCall,
  newPage,
  openView,
  screenshot,
  startBrowser,
  stopBrowser,
  within,
} from './console-harness.js';

/**
 * The console of a three-member cluster in headless Chromium, served by a follower: each
 * member's own term, index and size; leases with their keys; lock holders and election
 * leaders from etcd's Lock and Election services; and the new leader after the leader's
 * process is killed.
 */

interface Status {
  readonly header?: {readonly member_id?: string};
  readonly leader?: string;
}

interface MemberList {
  readonly members?: readonly {readonly ID?: string; readonly name?: string}[];
}

describe('web console of a three-member cluster', () => {
  let cluster: EtcdCluster | undefined;
  let running: RunningBrowser | undefined;
  let page: Page;
  let pageErrors: Error[];
  let leader: EtcdMember;
  let served: EtcdMember;
  /** Lock and election calls that wait until the test ends. */
  const waiting = new AbortController();

  async function leaderName(endpoint: string): Promise<string> {
    const status = await gatewayCall<Status>(endpoint, 'maintenance/status', {});
    const list = await gatewayCall<MemberList>(endpoint, 'cluster/member/list', {});
    return list.members?.find(m => m.ID === status.leader)?.name ?? '';
  }

  beforeAll(async () => {
    const [, started, browser] = await Promise.all([
      ensureBundle(),
      startSynod({members: 3, extraArgs: ['--metrics=extensive']}),
      startBrowser(),
    ]);
    cluster = started;
    running = browser;
    const name = await leaderName(started.endpoints[0] ?? '');
    leader = started.members.find(m => m.name === name) as EtcdMember;
    served = started.members.find(m => m.name !== name) as EtcdMember;
    ({page, pageErrors} = await newPage(browser.browser));
  }, 60_000);

  afterAll(async () => {
    waiting.abort();
    await stopBrowser(running);
    await cluster?.stop();
  });

  it('lists every member with its role and its own term, raft index and DB size', async () => {
    await page.goto(`${served.clientUrl}/ui/`);
    await expect
      .poll(() => page.textContent('[data-testid="leader"]'), within)
      .toContain(leader.name);
    const rows = page.locator('[data-testid="members"] tbody tr');
    await expect.poll(() => rows.count(), within).toBe(3);
    for (const member of cluster?.members ?? []) {
      const row = page.locator(`[data-testid="members"] tr[data-member="${member.name}"]`);
      await expect
        .poll(() => row.locator('[data-testid="role"]').textContent(), within)
        .toBe(member === leader ? 'leader' : 'follower');
      // Term, raft index, applied, revision and DB size: each member's own answer.
      const cells = await row.locator('td.mono').allTextContents();
      expect(cells.slice(1, 5).every(c => /^\d+$/.test(c) && Number(c) > 0)).toBe(true);
      expect(cells[5]).toMatch(/\d (B|KiB|MiB)$/);
    }
    expect(await page.locator('[data-testid="unreachable"]').count()).toBe(0);
    expect(await page.textContent('[data-testid="alarms"]')).toContain('No alarm raised');
    await screenshot(page, 'cluster');
  });

  it('shows each lease with its TTLs and its keys', async () => {
    const endpoint = served.clientUrl;
    const {ID: id} = await gatewayCall<{ID?: string}>(endpoint, 'lease/grant', {TTL: 300});
    for (const key of ['/services/api/10.0.0.1', '/services/api/10.0.0.2']) {
      await gatewayCall(endpoint, 'kv/put', {key: base64(key), value: base64('up'), lease: id});
    }
    await openView(page, 'leases');
    const row = page.locator(`tr[data-lease="${BigInt(id ?? 0).toString(16)}"]`);
    await expect.poll(() => row.textContent(), within).toContain('/services/api/10.0.0.2');
    const cells = await row.locator('td').allTextContents();
    expect(cells[1]).toMatch(/^(29\d|300) s$/);
    expect(cells[2]).toBe('300 s');
    expect(cells[3]).toContain('/services/api/10.0.0.1');
    await screenshot(page, 'leases');
  });

  it('shows who holds a lock, who waits for it, and who leads an election', async () => {
    const endpoint = served.clientUrl;
    const grant = async () =>
      (await gatewayCall<{ID?: string}>(endpoint, 'lease/grant', {TTL: 300})).ID ?? '0';
    const [holder, waiter, candidate] = [await grant(), await grant(), await grant()];
    await gatewayCall(endpoint, 'lock/lock', {name: base64('jobs/nightly'), lease: holder});
    // The second contender waits inside the Lock call until the test ends.
    void fetch(`${endpoint}/v3/lock/lock`, {
      method: 'POST',
      body: JSON.stringify({name: base64('jobs/nightly'), lease: waiter}),
      signal: waiting.signal,
    }).catch(() => undefined);
    await gatewayCall(endpoint, 'election/campaign', {
      name: base64('ingest-leader'),
      lease: candidate,
      value: base64('worker-7'),
    });
    await openView(page, 'locks');
    const table = page.locator('[data-testid="locks"]');
    await expect.poll(() => table.textContent(), within).toContain('worker-7');
    const hex = (id: string) => BigInt(id).toString(16);
    const lockRow = table.locator('tr', {hasText: 'jobs/nightly'});
    await expect
      .poll(() => lockRow.locator('td').nth(3).textContent(), within)
      .toContain(hex(waiter));
    expect(await lockRow.locator('td').nth(1).textContent()).toContain(hex(holder));
    const electionRow = table.locator('tr', {hasText: 'ingest-leader'});
    expect(await electionRow.locator('td').nth(1).textContent()).toContain(hex(candidate));
    expect(await electionRow.locator('td').nth(2).textContent()).toBe('worker-7');
    await screenshot(page, 'locks');
  });

  it("charts the member's requests, latency, fsyncs and commits from its /metrics", async () => {
    await openView(page, 'charts');
    const charts = page.locator('[data-testid="chart"]');
    await expect.poll(() => charts.count(), within).toBe(4);
    // Traffic while the charts scrape, so each has points to draw.
    for (let i = 0; i < 30; i++) {
      await gatewayCall(served.clientUrl, 'kv/put', {
        key: base64(`/load/${i}`),
        value: base64('x'),
      });
      if (i % 10 === 9) await page.waitForTimeout(1000);
    }
    for (let i = 0; i < 4; i++) {
      await expect.poll(() => charts.nth(i).locator('canvas').count(), within).toBe(1);
    }
    expect(await page.locator('[data-testid="chart"] p.muted').count()).toBe(0);
    await screenshot(page, 'charts');
  });

  it('shows the new leader after the leader is killed, and the old one as unreachable', async () => {
    await openView(page, 'cluster');
    await expect
      .poll(() => page.textContent('[data-testid="leader"]'), within)
      .toContain(leader.name);
    const pid = leader.pid;
    expect(pid).toBeDefined();
    await leader.kill('SIGKILL');
    await expect
      .poll(() => page.textContent('[data-testid="leader"]'), within)
      .not.toContain(leader.name);
    const newLeader = await leaderName(served.clientUrl);
    expect(newLeader).not.toBe('');
    expect(newLeader).not.toBe(leader.name);
    await expect
      .poll(() => page.textContent('[data-testid="leader"]'), within)
      .toContain(newLeader);
    const oldRow = page.locator(`[data-testid="members"] tr[data-member="${leader.name}"]`);
    await expect.poll(() => oldRow.locator('[data-testid="unreachable"]').count(), within).toBe(1);
    const newRow = page.locator(`[data-testid="members"] tr[data-member="${newLeader}"]`);
    expect(await newRow.locator('[data-testid="role"]').textContent()).toBe('leader');
    await screenshot(page, 'leader-change');
    expect(pageErrors).toEqual([]);
  });
});
