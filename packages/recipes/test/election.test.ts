import {spawn} from 'node:child_process';

import {readMetric, sleep, waitFor} from '@synod/testing';
import {firstValueFrom, filter} from 'rxjs';
import {describe, expect, it} from 'vitest';

import {Election, NotLeaderError, Session} from '../src/index.js';
import type {LeaderInfo} from '../src/index.js';
import {clusterForSuite, servers, twoSessions, uniqueName} from './servers.js';

describe.each(servers)('Election on %s', (server, start) => {
  const suite = clusterForSuite(start);

  it('elects in campaign order; leader$ replays and follows proclaim and resign', async () => {
    const name = uniqueName('elect');
    const [a, b] = await twoSessions(suite.client, 5);
    const ea = new Election(a, name);
    const eb = new Election(b, name);
    const seen: (string | null)[] = [];
    const subscription = ea.leader$.subscribe(l => seen.push(l?.value ?? null));
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual([null]);
    await ea.campaign('a1');
    const bLeads = eb.campaign('b1');
    let bDone = false;
    void bLeads.then(() => (bDone = true));
    await ea.proclaim('a2');
    await waitFor(() => seen.at(-1) === 'a2');
    // A late subscriber gets the latest value replayed at once.
    expect((await firstValueFrom(ea.leader$))?.value).toBe('a2');
    expect(await firstValueFrom(ea.isLeader$)).toBe(true);
    expect(await firstValueFrom(eb.isLeader$)).toBe(false);
    await sleep(200);
    expect(bDone).toBe(false);
    await expect(eb.proclaim('nope')).resolves.toBeUndefined(); // a candidate may proclaim its own value
    await ea.resign();
    await bLeads;
    await waitFor(() => seen.at(-1) === 'nope');
    expect(await firstValueFrom(eb.isLeader$)).toBe(true);
    await eb.resign();
    await waitFor(() => seen.at(-1) === null);
    expect(seen).toEqual([null, 'a1', 'a2', 'nope', null]);
    await expect(ea.proclaim('x')).rejects.toBeInstanceOf(NotLeaderError);
    subscription.unsubscribe();
    await Promise.all([a.close(), b.close()]);
  });

  // Measured through the server's watcher gauge (etcd_debugging_mvcc_watcher_total).
  it('leader$ shares one server watch among subscribers and cancels it on the last unsubscribe', async () => {
    const url = suite.cluster.endpoints[0] ?? '';
    const watchers = (): Promise<number | undefined> =>
      readMetric(url, 'etcd_debugging_mvcc_watcher_total');
    const session = await Session.create(suite.client, {ttlSec: 5});
    const election = new Election(session, uniqueName('shared'));
    const before = (await watchers()) ?? Number.NaN;
    const subscriptions = [1, 2, 3].map(() => election.leader$.subscribe());
    await waitFor(async () => (await watchers()) === before + 1);
    await sleep(200);
    expect(await watchers()).toBe(before + 1);
    for (const s of subscriptions) s.unsubscribe();
    await waitFor(async () => (await watchers()) === before, 3_000, 'watch cancelled');
    await session.close();
  });

  it('leader$ completes when the session closes', async () => {
    const session = await Session.create(suite.client, {ttlSec: 5});
    const election = new Election(session, uniqueName('complete'));
    let completed = false;
    election.leader$.subscribe({complete: () => (completed = true)});
    await session.close();
    await waitFor(() => completed);
  });

  it('interoperates with etcdctl elect', async () => {
    const name = uniqueName('ctl');
    const endpoints = suite.cluster.endpoints.join(',');
    const session = await Session.create(suite.client, {ttlSec: 5});
    const election = new Election(session, name);
    await election.campaign('synod-leader');
    // etcdctl waits behind us, then prints the key and its value when it leads.
    const ctl = spawn('etcdctl', [`--endpoints=${endpoints}`, 'elect', name, 'ctl-leader'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {...process.env, ETCDCTL_API: '3'},
    });
    let output = '';
    ctl.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(async () => (await suite.client.kv.range({prefix: `${name}/`})).count === 2);
    await sleep(300);
    expect(output).toBe('');
    const changed = firstValueFrom(
      election.leader$.pipe(filter((l): l is LeaderInfo => l?.value === 'ctl-leader')),
    );
    await election.resign();
    expect((await changed).value).toBe('ctl-leader');
    await waitFor(() => output.includes('ctl-leader'));
    // Synod's candidate now queues behind etcdctl.
    let won = false;
    const campaign = election.campaign('again').then(() => (won = true));
    await sleep(300);
    expect(won).toBe(false);
    ctl.kill('SIGINT');
    await campaign;
    expect((await election.leader())?.value).toBe('again');
    await session.close();
  });
});
