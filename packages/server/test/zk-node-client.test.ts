import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import zookeeper from 'node-zookeeper-client';
import type {Client, Event, Exception, Stat} from 'node-zookeeper-client';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {freePort, startSoloMember} from './support/in-process-cluster.js';

/** A client call as a promise: resolves with the callback's results, rejects with its error. */
function call<T extends unknown[]>(
  start: (callback: (error: Error | Exception | null, ...results: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, ...results) => {
      if (error === null) resolve(results);
      // A ZooKeeper error is an Exception with its code; reject with it as it is.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      else reject(error);
    });
  });
}

describe('node-zookeeper-client against a member’s ZooKeeper port', () => {
  let dir: string;
  let member: Member;
  let connectString: string;
  const clients: Client[] = [];

  const connect = async (chroot = ''): Promise<Client> => {
    const client = zookeeper.createClient(`${connectString}${chroot}`, {sessionTimeout: 10_000});
    clients.push(client);
    const connected = new Promise<void>(resolve => client.once('connected', resolve));
    client.connect();
    await connected;
    return client;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-nzc-'));
    const port = await freePort();
    member = await startSoloMember(join(dir, 'solo.synod'), {
      listenZkUrls: `http://127.0.0.1:${port}`,
    });
    connectString = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  it('makes paths, sequential ephemerals, and reads them back with Stats', async () => {
    const zk = await connect();
    await call<[string]>(cb => {
      zk.mkdirp('/nzc/app/locks', cb);
    });
    const [first] = await call<[string]>(cb => {
      zk.create(
        '/nzc/app/locks/lock-',
        Buffer.from('a'),
        zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
        cb,
      );
    });
    const [second] = await call<[string]>(cb => {
      zk.create(
        '/nzc/app/locks/lock-',
        Buffer.from('b'),
        zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
        cb,
      );
    });
    expect([first, second]).toEqual([
      '/nzc/app/locks/lock-0000000000',
      '/nzc/app/locks/lock-0000000001',
    ]);
    const [children, parentStat] = await call<[string[], Stat]>(cb => {
      zk.getChildren('/nzc/app/locks', cb);
    });
    expect(children.sort()).toEqual(['lock-0000000000', 'lock-0000000001']);
    expect(parentStat.numChildren).toBe(2);
    const [data, stat] = await call<[Buffer, Stat]>(cb => {
      zk.getData(second, cb);
    });
    expect(data.toString()).toBe('b');
    expect(stat.ephemeralOwner.equals(zk.getSessionId())).toBe(true);
  });

  it('sets data with versions and fails with BAD_VERSION on a stale one', async () => {
    const zk = await connect();
    await call<[string]>(cb => {
      zk.create('/nzc/v', Buffer.from('0'), cb);
    });
    const [stat] = await call<[Stat]>(cb => {
      zk.setData('/nzc/v', Buffer.from('1'), 0, cb);
    });
    expect(stat.version).toBe(1);
    const stale = call<[Stat]>(cb => {
      zk.setData('/nzc/v', Buffer.from('2'), 0, cb);
    });
    await expect(stale).rejects.toMatchObject({code: zookeeper.Exception.BAD_VERSION});
  });

  it('commits a transaction as one, and none of a failing one', async () => {
    const zk = await connect();
    await call<[unknown]>(cb => {
      zk.transaction()
        .create('/nzc/t')
        .create('/nzc/t/a')
        .setData('/nzc/t', Buffer.from('x'))
        .commit(cb);
    });
    const failing = call<[unknown]>(cb => {
      zk.transaction().create('/nzc/t/b').check('/nzc/t', 7).commit(cb);
    });
    await expect(failing).rejects.toMatchObject({code: zookeeper.Exception.BAD_VERSION});
    const [exists] = await call<[Stat | null]>(cb => {
      zk.exists('/nzc/t/b', cb);
    });
    expect(exists).toBeNull();
  });

  it('delivers a child watch when another client’s ephemeral goes with its session', async () => {
    const watcher = await connect();
    const owner = await connect();
    await call<[string]>(cb => {
      owner.mkdirp('/nzc/members', cb);
    });
    await call<[string]>(cb => {
      owner.create('/nzc/members/m', Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb);
    });
    const event = new Promise<Event>(resolve => {
      watcher.getChildren('/nzc/members', resolve, () => undefined);
    });
    owner.close();
    const fired = await event;
    expect(fired.getName()).toBe('NODE_CHILDREN_CHANGED');
    expect(fired.getPath()).toBe('/nzc/members');
    const [children] = await call<[string[], Stat]>(cb => {
      watcher.getChildren('/nzc/members', cb);
    });
    expect(children).toEqual([]);
  });

  it('works under a chroot', async () => {
    const root = await connect();
    await call<[string]>(cb => {
      root.mkdirp('/nzc/chroot', cb);
    });
    const jailed = await connect('/nzc/chroot');
    await call<[string]>(cb => {
      jailed.create('/inside', Buffer.from('in'), cb);
    });
    const [data] = await call<[Buffer, Stat]>(cb => {
      root.getData('/nzc/chroot/inside', cb);
    });
    expect(data.toString()).toBe('in');
  });
});
