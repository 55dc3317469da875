import {existsSync} from 'node:fs';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {ZooKeeperClient} from './zookeeper-client.js';
import {CreateMode, ErrorCode} from './zookeeper-jute.js';
import {fourLetterWord, startZooKeeper, zookeeperSkipReason} from './zookeeper-process.js';
import type {ZooKeeperEnsemble} from './zookeeper-process.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(zookeeperSkipReason !== undefined)('the ZooKeeper oracle', () => {
  let ensemble: ZooKeeperEnsemble;

  beforeAll(async () => {
    ensemble = await startZooKeeper({servers: 3});
  }, 90_000);

  afterAll(async () => {
    await ensemble.stop();
  });

  it('a write on one server of the 3-server ensemble is read on another after sync', async () => {
    const [first, second] = ensemble.servers;
    if (first === undefined || second === undefined) throw new Error('3 servers expected');
    const writer = await ZooKeeperClient.connect({host: first.host, port: first.clientPort});
    const reader = await ZooKeeperClient.connect({host: second.host, port: second.clientPort});
    const created = await writer.create2('/oracle', 'up', CreateMode.persistent);
    expect(created).toMatchObject({kind: 'reply', err: ErrorCode.ok, value: {path: '/oracle'}});
    await reader.sync('/oracle');
    const read = await reader.getData('/oracle');
    expect(read).toMatchObject({kind: 'reply', err: ErrorCode.ok});
    expect(read.kind === 'reply' && read.value?.data?.toString()).toBe('up');
    await writer.close();
    await reader.close();
    const modes = await Promise.all(
      ensemble.servers.map(
        async s => /^Mode: (\w+)$/m.exec(await fourLetterWord(s.host, s.clientPort, 'srvr'))?.[1],
      ),
    );
    expect(modes.sort()).toEqual(['follower', 'follower', 'leader']);
  });

  it('stop kills every JVM by pid and removes the data dirs', async () => {
    expect(ensemble.servers.every(s => existsSync(s.dir))).toBe(true);
    const pids = ensemble.servers.map(s => s.pid ?? 0);
    expect(pids.every(alive)).toBe(true);
    await ensemble.stop();
    expect(pids.some(alive)).toBe(false);
    const srvr = await fourLetterWord(
      '127.0.0.1',
      ensemble.servers[0]?.clientPort ?? 0,
      'ruok',
      500,
    );
    expect(srvr).toBe('');
    expect(ensemble.servers.map(s => s.pid)).toEqual([undefined, undefined, undefined]);
    expect(ensemble.servers.some(s => existsSync(s.dir))).toBe(false);
  });
});
