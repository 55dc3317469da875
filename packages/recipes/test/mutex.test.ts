import {spawn} from 'node:child_process';

import {createClient, op} from '@synod/client';
import type {Etcd} from '@synod/client';
import {sleep, waitFor} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {firstValueFrom} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {Mutex, Session} from '../src/index.js';
import {servers, twoSessions, uniqueName} from './servers.js';

describe.each(servers)('Session and Mutex on %s', (_name, start) => {
  let cluster: EtcdCluster;
  let client: Etcd;

  beforeAll(async () => {
    cluster = await start();
    client = createClient({endpoints: cluster.endpoints});
  });
  afterAll(async () => {
    client.close();
    await cluster.stop();
  });

  it('keeps its lease alive past the TTL, and close() revokes it', async () => {
    const session = await Session.create(client, {ttlSec: 2});
    await client.kv.put(uniqueName('session'), 'x', {lease: session.lease});
    await sleep(2_500);
    expect((await client.lease.timeToLive(session.lease)).ttlSec).toBeGreaterThan(0);
    const lost = firstValueFrom(session.lost$, {defaultValue: 'completed'});
    await session.close();
    expect(await lost).toBe('completed');
    expect((await client.lease.timeToLive(session.lease)).ttlSec).toBe(-1);
  });

  it('emits lost$ once when the lease is revoked behind its back', async () => {
    const session = await Session.create(client, {ttlSec: 2});
    const lost = firstValueFrom(session.lost$);
    await createClient({endpoints: cluster.endpoints}).lease.revoke(session.lease);
    const error = await lost;
    expect(error.reason).toBe('not-found');
    expect(session.active).toBe(false);
  });

  it('grants the lock in arrival order, across sessions and within one', async () => {
    const name = uniqueName('lock');
    const [a, b] = await twoSessions(client, 5);
    const first = await new Mutex(a, name).acquire();
    expect(first.key).toBe(`${name}/${a.lease.toString(16)}`);
    const order: string[] = [];
    const mutexB = new Mutex(b, name);
    const second = mutexB.acquire().then(h => {
      order.push('b1');
      return h;
    });
    await sleep(100);
    const third = mutexB.acquire().then(h => {
      order.push('b2');
      return h;
    });
    await sleep(200);
    expect(order).toEqual([]);
    await first.release();
    const h2 = await second;
    expect(h2.fencingToken).toBeGreaterThan(first.fencingToken);
    await sleep(100);
    expect(order).toEqual(['b1']);
    await h2.release();
    const h3 = await third;
    expect(order).toEqual(['b1', 'b2']);
    expect(h3.fencingToken).toBeGreaterThan(h2.fencingToken);
    await h3.release();
    await Promise.all([a.close(), b.close()]);
  });

  it('tryAcquire fails without leaving a key when the lock is held', async () => {
    const name = uniqueName('try');
    const [a, b] = await twoSessions(client, 5);
    const held = await new Mutex(a, name).acquire();
    expect(await new Mutex(b, name).tryAcquire()).toBeUndefined();
    expect((await client.kv.range({prefix: `${name}/`})).count).toBe(1);
    await held.release();
    const got = await new Mutex(b, name).tryAcquire();
    expect(got).toBeDefined();
    await got?.release();
    await Promise.all([a.close(), b.close()]);
  });

  it('an aborted acquire removes its queued key and rejects', async () => {
    const name = uniqueName('abort');
    const [a, b] = await twoSessions(client, 5);
    const held = await new Mutex(a, name).acquire();
    const controller = new AbortController();
    const waiting = new Mutex(b, name).acquire({signal: controller.signal});
    await waitFor(async () => (await client.kv.range({prefix: `${name}/`})).count === 2);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect((await client.kv.range({prefix: `${name}/`})).count).toBe(1);
    await held.release();
    await Promise.all([a.close(), b.close()]);
  });

  it('withLock serialises critical sections and the guarded txn fails once the lock is gone', async () => {
    const name = uniqueName('with');
    const counter = uniqueName('counter');
    const sessions = await Promise.all([1, 2, 3].map(() => Session.create(client, {ttlSec: 5})));
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      sessions.flatMap(s =>
        [1, 2, 3].map(() =>
          new Mutex(s, name).withLock(async handle => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            const now = Number((await client.kv.getString(counter)) ?? '0');
            await sleep(5);
            const result = await handle
              .guardedTxn()
              .then(op.put(counter, String(now + 1)))
              .commit();
            expect(result.succeeded).toBe(true);
            inside--;
          }),
        ),
      ),
    );
    expect(maxInside).toBe(1);
    expect(await client.kv.getString(counter)).toBe('9');
    const handle = await new Mutex(sessions[0]!, name).acquire();
    const lost = firstValueFrom(handle.lost$);
    await client.kv.delete(handle.key);
    expect((await lost).name).toBe('LockKeyDeletedError');
    const stale = await handle.guardedTxn().then(op.put(counter, 'stale')).commit();
    expect(stale.succeeded).toBe(false);
    await Promise.all(sessions.map(s => s.close()));
  });

  it('excludes and is excluded by etcdctl lock on the same name', async () => {
    const name = uniqueName('interop');
    const session = await Session.create(client, {ttlSec: 5});
    const mutex = new Mutex(session, name);
    const endpoints = cluster.endpoints.join(',');
    // etcdctl takes the lock first and holds it for a second.
    const etcdctl = spawn(
      'etcdctl',
      [`--endpoints=${endpoints}`, 'lock', name, '--', 'sleep', '1'],
      {
        stdio: 'ignore',
        env: {...process.env, ETCDCTL_API: '3'},
      },
    );
    const exited = new Promise<number | null>(resolve =>
      etcdctl.on('exit', code => {
        resolve(code);
      }),
    );
    await waitFor(async () => (await client.kv.range({prefix: `${name}/`})).count === 1, 5_000);
    const started = Date.now();
    const handle = await mutex.acquire();
    const acquiredAt = Date.now();
    expect(await exited).toBe(0);
    expect(acquiredAt - started).toBeGreaterThan(500);
    // Now Synod's mutex holds it: etcdctl must wait until it is released.
    const waitingCtl = spawn('etcdctl', [`--endpoints=${endpoints}`, 'lock', name, '--', 'true'], {
      stdio: 'ignore',
      env: {...process.env, ETCDCTL_API: '3'},
    });
    let ctlDone = false;
    const ctlExit = new Promise<number | null>(resolve =>
      waitingCtl.on('exit', code => {
        ctlDone = true;
        resolve(code);
      }),
    );
    await sleep(800);
    expect(ctlDone).toBe(false);
    await handle.release();
    expect(await ctlExit).toBe(0);
    await session.close();
  });
});
