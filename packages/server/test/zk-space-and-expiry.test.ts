import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {CreateMode, ErrorCode, EventType, ZooKeeperClient} from '@synod/testing';
import {AlarmType} from '@synod/proto';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {startSoloMember} from './support/in-process-cluster.js';

/**
 * A member's ZooKeeper port where etcd's limits and ZooKeeper's timing meet: the NOSPACE alarm
 * (`--quota-backend-bytes`) refuses ZooKeeper writes that add data with QuotaExceeded (what a
 * ZooKeeper 3.8 server answers a write its quotas refuse) and lets deletes through; and a
 * session ends no sooner than its timeout after its client's last word, however the lease
 * renewals fell.
 */
describe('ZooKeeper writes under NOSPACE, and session expiry against the last word', () => {
  let dir: string;
  let member: Member;
  let port: number;
  const clients: ZooKeeperClient[] = [];
  const open = async (options: {sessionTimeoutMs?: number; keepAlive?: boolean} = {}) => {
    const c = await ZooKeeperClient.connect({host: '127.0.0.1', port, ...options});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-space-'));
    member = await startSoloMember(join(dir, 'solo.synod'), {
      listenZkUrls: 'http://127.0.0.1:0',
      quotaBackendBytes: 256 * 1024,
    });
    const address = member.zkAddresses[0] ?? '';
    port = Number(address.slice(address.lastIndexOf(':') + 1));
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  it('a session lives its whole timeout after its client falls silent, and ends soon after', async () => {
    const watcher = await open();
    const silent = await open({sessionTimeoutMs: 4000, keepAlive: false});
    const connectedAtMs = performance.now();
    expect(await silent.create('/silent', '', CreateMode.ephemeral)).toMatchObject({err: 0});
    expect(await watcher.exists('/silent', true)).toMatchObject({err: 0});
    // The last word, in the middle of a renewal round: the round renews the session after it.
    await new Promise(r => setTimeout(r, Math.max(0, connectedAtMs + 1200 - performance.now())));
    expect(await silent.exists('/')).toMatchObject({err: 0});
    silent.disconnect();
    const lastWordMs = performance.now();
    const events = await watcher.takeEvents(1, 10_000, 0);
    const endedAfterMs = performance.now() - lastWordMs;
    expect(events.map(e => [e.type, e.path])).toEqual([[EventType.nodeDeleted, '/silent']]);
    expect(endedAfterMs).toBeGreaterThanOrEqual(4000);
    // Half a tick (1 s) until the round's renewal, the leader's 500 ms sweep, 1 s for load.
    expect(endedAfterMs).toBeLessThan(4000 + 2500);
  }, 15_000);

  it('under NOSPACE, creates and setData get QuotaExceeded; deletes, reads and new sessions go on', async () => {
    const zk = await open();
    expect(await zk.create('/fill', '')).toMatchObject({err: 0});
    const big = 'x'.repeat(20_000);
    let refused: number | undefined;
    let created = 0;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const r = await zk.create(`/fill/n${i}`, big);
      if (r.kind !== 'reply') throw new Error(`create ${i}: ${r.kind}`);
      if (r.err === 0) created++;
      else refused = r.err;
      // The quota is checked against the file's size, which grows when a batch commits.
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(refused).toBe(ErrorCode.quotaExceeded);
    expect(created).toBeGreaterThan(0);
    while (member.core.alarms.list().length === 0) await new Promise(r => setTimeout(r, 20));
    expect(member.core.alarms.has(AlarmType.NOSPACE)).toBe(true);

    // Applied under the alarm, on every member: ZooKeeper's order of checks still holds.
    expect(await zk.create('/fill/late', 'x')).toMatchObject({err: ErrorCode.quotaExceeded});
    expect(await zk.create('/missing/child', 'x')).toMatchObject({err: ErrorCode.noNode});
    expect(await zk.setData('/fill/n0', 'y')).toMatchObject({err: ErrorCode.quotaExceeded});
    expect(await zk.setData('/fill/none', 'y')).toMatchObject({err: ErrorCode.noNode});
    const multi = await zk.multi([
      {op: 'check', path: '/fill', version: 0},
      {op: 'create', path: '/fill/in-multi', data: 'x'},
      {op: 'delete', path: '/fill/n1'},
    ]);
    // A failed multi's header says ok, as ZooKeeper's does; its results name the failure.
    expect(multi).toMatchObject({
      err: 0,
      value: [{err: 0}, {err: ErrorCode.quotaExceeded}, {err: ErrorCode.runtimeInconsistency}],
    });

    // What frees space, and what reads, still works.
    expect(await zk.delete('/fill/n0')).toMatchObject({err: 0});
    expect(await zk.getData('/fill/n1')).toMatchObject({err: 0});
    const late = await open();
    expect(await late.exists('/fill/n0')).toMatchObject({err: ErrorCode.noNode});
    expect(await late.close()).toMatchObject({err: 0});
  }, 30_000);
});
