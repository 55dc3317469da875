import {ZooKeeperClient} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {InProcessCluster} from './support/in-process-cluster.js';
import {startInProcessCluster} from './support/in-process-cluster.js';

const EPHEMERAL = 1;
const EPHEMERAL_SEQUENTIAL = 3;
const NO_NODE = -101;
const NODE_CREATED = 1;
const NODE_DELETED = 2;

describe('ZooKeeper clients on three members: one tree, sessions that move', () => {
  let cluster: InProcessCluster;
  const clients: ZooKeeperClient[] = [];

  const zkPort = (i: number): number => {
    const address = cluster.members[i]?.zkAddresses[0] ?? '';
    return Number(address.slice(address.lastIndexOf(':') + 1));
  };
  const open = async (
    i: number,
    options: {
      sessionId?: bigint;
      password?: Buffer;
      sessionTimeoutMs?: number;
      keepAlive?: boolean;
    } = {},
  ) => {
    const c = await ZooKeeperClient.connect({host: '127.0.0.1', port: zkPort(i), ...options});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startInProcessCluster(3, {listenZkUrls: 'http://127.0.0.1:0'});
    await cluster.leader();
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster.close();
  });

  it('a write through one member is read through the others after sync, and fires their watches', async () => {
    const a = await open(0);
    const b = await open(1);
    const c = await open(2);
    expect(await c.exists('/shared', true)).toMatchObject({err: NO_NODE});
    expect(await a.create('/shared', 'x')).toMatchObject({err: 0});
    expect(await b.sync('/shared')).toMatchObject({err: 0});
    const got = await b.getData('/shared');
    expect(got.kind === 'reply' && got.value?.data?.toString()).toBe('x');
    const events = await c.takeEvents(1);
    expect(events.map(e => [e.type, e.path])).toEqual([[NODE_CREATED, '/shared']]);
  });

  it('names sequential nodes the same whichever member clients write through', async () => {
    const writers = [await open(0), await open(1), await open(2)];
    await writers[0]?.create('/queue', '');
    const names = await Promise.all(
      writers.map(w => w.create('/queue/item-', '', EPHEMERAL_SEQUENTIAL)),
    );
    const paths = names.map(n => (n.kind === 'reply' ? n.value?.path : undefined)).sort();
    expect(paths).toEqual([
      '/queue/item-0000000000',
      '/queue/item-0000000001',
      '/queue/item-0000000002',
    ]);
  });

  it('a session resumes on another member with its ephemerals, and its close deletes them everywhere', async () => {
    const first = await open(0, {sessionTimeoutMs: 8000});
    expect(await first.create('/mover', '', EPHEMERAL)).toMatchObject({err: 0});
    first.disconnect();
    const moved = await open(2, {
      sessionId: first.session.sessionId,
      password: first.session.password,
    });
    expect(moved.session.sessionId).toBe(first.session.sessionId);
    expect(moved.session.timeOutMs).toBe(8000);
    const watcher = await open(1);
    expect(await watcher.exists('/mover', true)).toMatchObject({err: 0});
    expect(await moved.close()).toMatchObject({err: 0});
    const events = await watcher.takeEvents(1);
    expect(events.map(e => [e.type, e.path])).toEqual([[NODE_DELETED, '/mover']]);
  });

  it('a write on the old connection of a session that moved to another member closes it unanswered (SessionMoved)', async () => {
    const old = await open(0, {sessionTimeoutMs: 8000});
    expect(await old.create('/moved', 'before')).toMatchObject({err: 0});
    const moved = await open(1, {
      sessionId: old.session.sessionId,
      password: old.session.password,
    });
    expect(moved.session.sessionId).toBe(old.session.sessionId);
    // As on a ZooKeeper 3.8 ensemble (checked by hand): reads and sync on the old connection
    // are still served; its write is refused by the leader with SessionMoved, and the old
    // server closes the connection without a reply (FinalRequestProcessor).
    expect(await old.getData('/moved')).toMatchObject({err: 0});
    expect(await old.sync('/moved')).toMatchObject({err: 0});
    expect(await old.setData('/moved', 'from the old connection')).toEqual({kind: 'closed'});
    expect(await moved.setData('/moved', 'from the new one')).toMatchObject({err: 0});
    const got = await moved.getData('/moved');
    expect(got.kind === 'reply' && got.value?.data?.toString()).toBe('from the new one');
    expect(got).toMatchObject({value: {stat: {version: 1}}});
    // Back on the first member, the session is served there again.
    moved.disconnect();
    const back = await open(0, {sessionId: old.session.sessionId, password: old.session.password});
    expect(await back.setData('/moved', 'back', 1)).toMatchObject({err: 0});
  });

  it('a session that pings a follower outlives its timeout (renewals reach the leader)', async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.findIndex(m => m !== undefined && m !== leader);
    const client = await open(follower, {sessionTimeoutMs: 4000});
    await client.create('/kept', '', EPHEMERAL);
    await new Promise(resolve => setTimeout(resolve, 7000));
    expect(await client.exists('/kept')).toMatchObject({err: 0});
    expect(client.closed).toBe(false);
  }, 15_000);

  it('the leader expires a silent session after its timeout, and its ephemerals go then, not before', async () => {
    const silent = await open(1, {sessionTimeoutMs: 4000, keepAlive: false});
    const watcher = await open(2);
    await silent.create('/silent', '', EPHEMERAL);
    expect(await watcher.exists('/silent', true)).toMatchObject({err: 0});
    const start = Date.now();
    silent.disconnect();
    const events = await watcher.takeEvents(1, 12_000);
    const elapsedMs = Date.now() - start;
    expect(events.map(e => [e.type, e.path])).toEqual([[NODE_DELETED, '/silent']]);
    expect(elapsedMs).toBeGreaterThanOrEqual(3000);
    const again = await open(0, {
      sessionId: silent.session.sessionId,
      password: silent.session.password,
    });
    expect(again.session.timeOutMs).toBe(0);
  }, 20_000);
});
