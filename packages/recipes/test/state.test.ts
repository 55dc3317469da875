import {waitFor} from '@synod/testing';
import {lastValueFrom, toArray} from 'rxjs';
import {describe, expect, it} from 'vitest';

import {Election, Mutex, ServiceRegistry, Session} from '../src/index.js';
import type {LeaseState, MutexState} from '../src/index.js';
import {clusterForSuite, servers, twoSessions, uniqueName} from './servers.js';

/** Status and fencing token, as one line of a story. */
function step(state: {readonly status: string; readonly fencingToken: bigint | undefined}): string {
  return `${state.status}:${state.fencingToken ?? '-'}`;
}

/** A lease just granted or renewed with `ttlSec`, as a session's state shows it. */
function expectFreshLease(lease: LeaseState | undefined, id: bigint, ttlSec: number): void {
  expect(lease).toMatchObject({id, ttlSec, active: true, inactiveSinceMs: undefined});
  expect(lease?.remainingTtlMs).toBeGreaterThan(0);
  expect(lease?.remainingTtlMs).toBeLessThanOrEqual(ttlSec * 1000);
  expect(lease?.expiresAtMs).toBeGreaterThan(Date.now());
}

describe.each(servers)('Recipe state for logs and metrics on %s', (_name, start) => {
  const suite = clusterForSuite(start);

  it('Mutex: idle, waiting behind another session, held with its fencing token, idle after release', async () => {
    const name = uniqueName('state-lock');
    const [a, b] = await twoSessions(suite.client, 5);
    const first = new Mutex(a, name);
    const second = new Mutex(b, name);
    expect(second.state).toMatchObject({name, key: second.key, status: 'idle'});
    expect(second.state.fencingToken).toBeUndefined();
    expectFreshLease(second.state.lease, b.lease, 5);
    const story: string[] = [];
    const subscription = second.state$.subscribe(state => story.push(step(state)));

    const beforeHold = Date.now();
    const held = await first.acquire();
    expect(first.state).toMatchObject({status: 'held', key: held.key});
    expect(first.state.fencingToken).toBe(held.fencingToken);
    expect(first.state.sinceMs).toBeGreaterThanOrEqual(beforeHold);
    expect(first.state.sinceMs).toBeLessThanOrEqual(Date.now());

    const waiting = second.acquire();
    await waitFor(() => second.state.fencingToken !== undefined, 5_000, 'second key queued');
    const queued = second.state.fencingToken ?? 0n;
    expect(second.state.status).toBe('waiting');
    expect(queued).toBeGreaterThan(held.fencingToken);
    await held.release();
    expect(first.state.status).toBe('idle');
    const next = await waiting;
    // The place in line becomes the fencing token.
    expect(next.fencingToken).toBe(queued);
    expect(second.state).toMatchObject({status: 'held', fencingToken: queued});
    await next.release();
    expect(story).toEqual(['idle:-', 'waiting:-', `waiting:${queued}`, `held:${queued}`, 'idle:-']);
    subscription.unsubscribe();
    await Promise.all([a.close(), b.close()]);
  });

  it('Mutex: lost when the lease is revoked behind the holder, and state$ ends on close', async () => {
    const other = suite.openClient();
    const session = await Session.create(suite.client, {ttlSec: 2});
    const mutex = new Mutex(session, uniqueName('state-lost'));
    const states: MutexState[] = [];
    const all = lastValueFrom(mutex.state$.pipe(toArray()));
    mutex.state$.subscribe(state => states.push(state));
    const handle = await mutex.acquire();
    const heldSinceMs = mutex.state.sinceMs;
    await other.lease.revoke(session.lease);
    // The next keep-alive (every TTL/3) hears that the lease is gone.
    await waitFor(() => states.at(-1)?.status === 'lost', 5_000, 'lost state');
    const lost = mutex.state;
    expect(lost.fencingToken).toBe(handle.fencingToken);
    expect(lost.lease).toMatchObject({id: session.lease, active: false, remainingTtlMs: 0});
    expect(lost.lease.inactiveSinceMs).toBeGreaterThanOrEqual(heldSinceMs);
    expect(lost.sinceMs).toBe(lost.lease.inactiveSinceMs);
    await handle.release();
    expect(mutex.state.status).toBe('idle');
    await session.close();
    expect((await all).map(step)).toEqual([
      'idle:-',
      'waiting:-',
      `waiting:${handle.fencingToken}`,
      `held:${handle.fencingToken}`,
      `lost:${handle.fencingToken}`,
      'idle:-',
      'idle:-', // the last snapshot, on close
    ]);
    // After close, a subscriber gets the last snapshot and completion.
    expect((await lastValueFrom(mutex.state$.pipe(toArray()))).map(step)).toEqual(['idle:-']);
  });

  it('Election: a candidate sees the leader and since when; the leader knows itself without a watch', async () => {
    const name = uniqueName('state-elect');
    const [a, b] = await twoSessions(suite.client, 5);
    const leader = new Election(a, name);
    const candidate = new Election(b, name);
    expect(candidate.state).toMatchObject({name, status: 'idle', leader: undefined});
    const subscription = candidate.state$.subscribe();
    await waitFor(() => candidate.state.leader === null, 5_000, 'leader$ read');

    await leader.campaign('a1');
    const own = leader.state;
    expect(own).toMatchObject({status: 'leading', value: 'a1', key: leader.key});
    expectFreshLease(own.lease, a.lease, 5);
    // Nothing subscribes to the leader's leader$: it knows it leads from its own campaign.
    expect(own.leader).toMatchObject({key: leader.key, value: 'a1', lease: a.lease});
    expect(own.leader?.createRevision).toBe(own.fencingToken);
    expect(own.leader?.sinceMs).toBe(own.sinceMs);

    const campaign = candidate.campaign('b1');
    await waitFor(() => candidate.state.status === 'campaigning', 5_000, 'campaigning');
    await waitFor(() => candidate.state.leader?.value === 'a1', 5_000, 'leader seen');
    const seen = candidate.state.leader;
    expect(seen).toMatchObject({key: leader.key, createRevision: own.fencingToken});
    expect(candidate.state.value).toBe('b1');
    expect(candidate.state.fencingToken).toBeGreaterThan(own.fencingToken ?? 0n);

    await leader.proclaim('a2');
    expect(leader.state.value).toBe('a2');
    await waitFor(() => candidate.state.leader?.value === 'a2', 5_000, 'proclamation seen');
    // Same leadership: the time it was first seen stays.
    expect(candidate.state.leader?.sinceMs).toBe(seen?.sinceMs);

    await leader.resign();
    expect(leader.state).toMatchObject({status: 'idle', value: undefined, leader: undefined});
    await campaign;
    const now = candidate.state;
    expect(now).toMatchObject({status: 'leading', value: 'b1'});
    expect(now.leader?.key).toBe(candidate.key);
    expect(now.leader?.sinceMs).toBeGreaterThanOrEqual(seen?.sinceMs ?? 0);

    await candidate.resign();
    await waitFor(() => candidate.state.leader === null, 5_000, 'no leader');
    expect(candidate.state).toMatchObject({status: 'idle', fencingToken: undefined});
    subscription.unsubscribe();
    // Nobody watches now, and this session does not lead: the leader is unknown.
    expect(candidate.state.leader).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('ServiceRegistry: registered with its lease and create revision, registered again after a revoke, empty after close', async () => {
    const other = suite.openClient();
    const registry = new ServiceRegistry(suite.client, {
      prefix: uniqueName('state-services'),
      ttlSec: 2,
    });
    const registrations = lastValueFrom(registry.state$.pipe(toArray()));
    const kept = await registry.register('api', 'a', {port: 1});
    const once = await registry.register('api', 'b', {port: 2}, {reregister: false});
    const firstLease = kept.lease ?? 0n;
    expect(kept.state).toMatchObject({key: kept.key, status: 'registered', metadata: {port: 1}});
    expect(kept.state.fencingToken).toBe((await suite.client.kv.get(kept.key))?.createRevision);
    expectFreshLease(kept.state.lease, firstLease, 2);
    expect(registry.state.registrations.map(r => r.key)).toEqual([kept.key, once.key]);

    const story: string[] = [];
    kept.state$.subscribe(state => story.push(state.status));
    await Promise.all([other.lease.revoke(firstLease), other.lease.revoke(once.lease ?? 0n)]);
    await waitFor(() => once.state.status === 'lost', 5_000, 'registration lost');
    expect(once.state.lease).toBeUndefined();
    await waitFor(
      () => kept.state.status === 'registered' && kept.lease !== firstLease,
      5_000,
      'registered again',
    );
    expect(story).toEqual(['registered', 'registering', 'registered']);
    expectFreshLease(kept.state.lease, kept.lease ?? 0n, 2);
    expect(kept.state.fencingToken).toBe((await suite.client.kv.get(kept.key))?.createRevision);

    await kept.update({port: 11});
    expect(kept.state.metadata).toEqual({port: 11});
    await registry.close();
    expect(kept.state).toMatchObject({status: 'closed', lease: undefined});
    const snapshots = await registrations;
    expect(snapshots.at(-1)?.registrations).toEqual([]);
    // Each registration's story as the registry's snapshots told it, repeats dropped.
    const storyOf = (key: string): string[] =>
      snapshots
        .flatMap(s => s.registrations.filter(r => r.key === key).map(r => r.status))
        .filter((status, i, all) => status !== all[i - 1]);
    expect(storyOf(kept.key)).toEqual(['registered', 'registering', 'registered']);
    expect(storyOf(once.key)).toEqual(['registered', 'lost']);
  });
});
