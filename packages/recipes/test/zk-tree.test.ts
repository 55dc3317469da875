import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {waitFor} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {firstValueFrom} from 'rxjs';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {
  BadVersionError,
  CreateMode,
  NoChildrenForEphemeralsError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  Session,
  ZkTree,
} from '../src/index.js';
import {servers, uniqueName} from './servers.js';

describe.each(servers)('ZkTree on %s', (_name, start) => {
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

  it("create('/test', 'data', EPHEMERAL) lives as long as its session", async () => {
    const root = `/${uniqueName('zk')}`;
    const session = await Session.create(client, {ttlSec: 5});
    const zk = new ZkTree(session, {root});
    expect(await zk.create('/test', 'data', CreateMode.EPHEMERAL)).toBe('/test');
    const node = await zk.getData('/test');
    expect(node.data.toString()).toBe('data');
    expect(node.stat.version).toBe(0);
    expect(node.stat.ephemeralOwner).toBe(session.lease);
    await expect(zk.create('/test/child', 'x')).rejects.toBeInstanceOf(
      NoChildrenForEphemeralsError,
    );
    await expect(zk.create('/test', 'again')).rejects.toBeInstanceOf(NodeExistsError);
    const other = await Session.create(client, {ttlSec: 5});
    const otherView = new ZkTree(other, {root});
    expect(await otherView.exists('/test')).not.toBeNull();
    await session.close();
    expect(await otherView.exists('/test')).toBeNull();
    await other.close();
  });

  it('checks parents, versions and children like ZooKeeper', async () => {
    const root = `/${uniqueName('zk')}`;
    const session = await Session.create(client, {ttlSec: 5});
    const zk = new ZkTree(session, {root});
    await expect(zk.create('/a/b', 'x')).rejects.toBeInstanceOf(NoNodeError);
    await zk.create('/a', 'one');
    await zk.create('/a/b', 'two');
    await zk.create('/ab', 'sibling, not a child');
    expect(await zk.getChildren('/a')).toEqual(['b']);
    expect(await zk.getChildren('/')).toEqual(['a', 'ab']);
    const stat = await zk.setData('/a', 'uno', 0);
    expect(stat.version).toBe(1);
    const bad = zk.setData('/a', 'dos', 0);
    await expect(bad).rejects.toBeInstanceOf(BadVersionError);
    await expect(bad).rejects.toMatchObject({expected: 0, actual: 1, code: -103});
    await expect(zk.setData('/missing', 'x')).rejects.toBeInstanceOf(NoNodeError);
    await expect(zk.delete('/a')).rejects.toBeInstanceOf(NotEmptyError);
    await expect(zk.delete('/a/b', 5)).rejects.toBeInstanceOf(BadVersionError);
    await zk.delete('/a/b', 0);
    await zk.delete('/a', 1);
    await expect(zk.delete('/a')).rejects.toBeInstanceOf(NoNodeError);
    await expect(zk.getChildren('/a')).rejects.toBeInstanceOf(NoNodeError);
    await expect(zk.getData('/a')).rejects.toBeInstanceOf(NoNodeError);
    await session.close();
  });

  it('numbers sequential nodes per parent with 10 digits, under contention', async () => {
    const root = `/${uniqueName('zk')}`;
    const session = await Session.create(client, {ttlSec: 5});
    const zk = new ZkTree(session, {root});
    await zk.create('/q', '');
    await zk.create('/r', '');
    const names = await Promise.all(
      Array.from({length: 6}, (_, i) =>
        zk.create(
          '/q/item-',
          String(i),
          i % 2 === 0 ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.EPHEMERAL_SEQUENTIAL,
        ),
      ),
    );
    expect([...names].sort()).toEqual(
      Array.from({length: 6}, (_, i) => `/q/item-${String(i).padStart(10, '0')}`),
    );
    expect(await zk.create('/r/', '', {mode: CreateMode.PERSISTENT_SEQUENTIAL})).toBe(
      '/r/0000000000',
    );
    await session.close();
  });

  it('data$ and children$ follow changes and replay the latest value', async () => {
    const root = `/${uniqueName('zk')}`;
    const session = await Session.create(client, {ttlSec: 5});
    const zk = new ZkTree(session, {root});
    const data: (string | null)[] = [];
    const children: string[] = [];
    const a = zk.data$('/cfg').subscribe(d => data.push(d?.data.toString() ?? null));
    const b = zk.children$('/cfg').subscribe(c => children.push(c.join()));
    await waitFor(() => data.length === 1 && children.length === 1);
    await zk.create('/cfg', 'v1');
    await zk.create('/cfg/x', '');
    await zk.setData('/cfg', 'v2');
    await zk.create('/cfg/y', '', CreateMode.EPHEMERAL);
    await waitFor(() => children.at(-1) === 'x,y' && data.at(-1) === 'v2');
    expect((await firstValueFrom(zk.data$('/cfg')))?.stat.version).toBe(1);
    await zk.delete('/cfg/x');
    await zk.delete('/cfg/y');
    await zk.delete('/cfg');
    await waitFor(() => data.at(-1) === null && children.at(-1) === '');
    expect(data).toEqual([null, 'v1', 'v2', null]);
    expect(children).toEqual(['', 'x', 'x,y', 'y', '']);
    a.unsubscribe();
    b.unsubscribe();
    await session.close();
  });
});
