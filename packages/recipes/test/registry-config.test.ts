import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {waitFor} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {firstValueFrom} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {
  ConfigInvalidError,
  ConfigWatcher,
  ServiceRegistry,
  roundRobinPicker,
} from '../src/index.js';

import {servers, uniqueName} from './servers.js';

interface Endpoint {
  readonly port: number;
}

function parseLimits(raw: string): {readonly rps: number} {
  const parsed = JSON.parse(raw) as {rps?: unknown};
  if (typeof parsed.rps !== 'number') throw new Error('rps must be a number');
  return {rps: parsed.rps};
}

describe.each(servers)('ServiceRegistry and ConfigWatcher on %s', (_name, start) => {
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

  it('instances$ follows registrations, updates, deregistrations and expiry', async () => {
    const prefix = uniqueName('services');
    const registry = new ServiceRegistry(client, {prefix, ttlSec: 2});
    const lists: string[] = [];
    const subscription = registry
      .instances$<Endpoint>('api')
      .subscribe(list => lists.push(list.map(i => `${i.id}:${i.metadata.port}`).join(',')));
    await waitFor(() => lists.length === 1);
    const a = await registry.register<Endpoint>('api', 'a', {port: 1});
    const b = await registry.register<Endpoint>('api', 'b', {port: 2});
    await registry.register('other', 'z', {port: 9});
    await waitFor(() => lists.at(-1) === 'a:1,b:2');
    await a.update({port: 11});
    await waitFor(() => lists.at(-1) === 'a:11,b:2');
    // A late subscriber gets the current list at once.
    expect((await firstValueFrom(registry.instances$<Endpoint>('api'))).map(i => i.id)).toEqual([
      'a',
      'b',
    ]);
    await a.close();
    await waitFor(() => lists.at(-1) === 'b:2');
    // An instance whose process dies (its keep-alive stops) disappears after its TTL.
    const other = createClient({endpoints: cluster.endpoints});
    await new ServiceRegistry(other, {prefix, ttlSec: 2}).register('api', 'c', {port: 3});
    await waitFor(() => lists.at(-1) === 'b:2,c:3');
    other.close();
    await waitFor(() => lists.at(-1) === 'b:2', 6_000);
    expect(lists).toEqual(['', 'a:1', 'a:1,b:2', 'a:11,b:2', 'b:2', 'b:2,c:3', 'b:2']);
    expect(b.lease).toBeDefined();
    const pick = roundRobinPicker();
    const current = await firstValueFrom(registry.instances$<Endpoint>('api'));
    expect(pick(current)?.id).toBe('b');
    let completed = false;
    subscription.add(() => (completed = true));
    await registry.close();
    await waitFor(() => completed);
    expect((await client.kv.range({prefix: `${prefix}/`})).count).toBe(0);
  });

  it('re-registers under a new lease after the lease is lost', async () => {
    const prefix = uniqueName('rereg');
    const registry = new ServiceRegistry(client, {prefix, ttlSec: 2});
    const registration = await registry.register('api', 'x', {port: 1});
    const firstLease = registration.lease;
    const lost = firstValueFrom(registration.lost$);
    // Revoked by another client, as when the lease expired while this one was cut off
    // (revoking through the same client would just stop its keep-alive).
    const admin = createClient({endpoints: cluster.endpoints});
    await admin.lease.revoke(firstLease ?? 0n);
    admin.close();
    await lost;
    await waitFor(
      async () =>
        (await client.kv.get(`${prefix}/api/x`))?.lease !== undefined &&
        registration.lease !== undefined,
    );
    const kv = await client.kv.get(`${prefix}/api/x`);
    expect(kv?.lease).toBe(registration.lease);
    expect(registration.lease).not.toBe(firstLease);
    await registry.close();
  });

  it('config$ decodes a key, keeps the last good value and reports invalid data', async () => {
    const key = uniqueName('config');
    const watcher = ConfigWatcher.key(client, key, {decode: parseLimits, default: {rps: 0}});
    const values: number[] = [];
    const invalid: ConfigInvalidError[] = [];
    const invalidSub = watcher.invalid$.subscribe(e => invalid.push(e));
    const sub = watcher.config$.subscribe(v => values.push(v.rps));
    await waitFor(() => values.length === 1);
    await client.kv.put(key, '{"rps":10}');
    await waitFor(() => values.at(-1) === 10);
    await client.kv.put(key, '{"rps":"lots"}');
    await waitFor(() => invalid.length === 1);
    expect(invalid[0]?.raw).toBe('{"rps":"lots"}');
    expect(await firstValueFrom(watcher.config$)).toEqual({rps: 10});
    await client.kv.put(key, '{"rps":20}');
    await client.kv.delete(key);
    await waitFor(() => values.at(-1) === 0);
    expect(values).toEqual([0, 10, 20, 0]);
    let completed = false;
    sub.add(() => (completed = true));
    watcher.close();
    await waitFor(() => completed);
    invalidSub.unsubscribe();
  });

  it('config$ reads a prefix as an object, and strict mode errors', async () => {
    const prefix = `${uniqueName('app')}/`;
    await client.kv.put(`${prefix}mode`, 'fast');
    await client.kv.put(`${prefix}workers`, '4');
    const watcher = ConfigWatcher.prefix(client, prefix, {
      schema: {
        parse: raw => {
          const workers = Number(raw.workers);
          if (!Number.isInteger(workers)) throw new Error('workers must be an integer');
          return {mode: raw.mode ?? 'slow', workers};
        },
      },
      strict: true,
    });
    expect(await firstValueFrom(watcher.config$)).toEqual({mode: 'fast', workers: 4});
    const failed = new Promise<unknown>(resolve => {
      watcher.config$.subscribe({error: resolve});
    });
    await client.kv.put(`${prefix}workers`, 'four');
    expect(await failed).toBeInstanceOf(ConfigInvalidError);
    watcher.close();
  });
});
