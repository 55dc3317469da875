import {mkdtempSync, rmSync} from 'node:fs';
import {connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {ZooKeeperClient} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {freePort, startSoloMember} from './support/in-process-cluster.js';

const PERSISTENT = 0;
const EPHEMERAL = 1;
const PERSISTENT_SEQUENTIAL = 2;
const NO_NODE = -101;
const NODE_EXISTS = -110;
const BAD_VERSION = -103;
const NOT_EMPTY = -111;
const NO_CHILDREN_FOR_EPHEMERALS = -108;
const BAD_ARGUMENTS = -8;
const UNIMPLEMENTED = -6;

function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(word);
    });
    let out = '';
    socket.on('data', d => {
      out += d.toString();
    });
    socket.on('end', () => {
      resolve(out);
    });
    socket.on('error', reject);
  });
}

describe('a member speaking ZooKeeper 3.8 on its ZooKeeper port', () => {
  let dir: string;
  let member: Member;
  let port: number;
  const clients: ZooKeeperClient[] = [];
  const open = async (
    options: {sessionId?: bigint; password?: Buffer; sessionTimeoutMs?: number} = {},
  ) => {
    const c = await ZooKeeperClient.connect({host: '127.0.0.1', port, ...options});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-'));
    port = await freePort();
    member = await startSoloMember(join(dir, 'solo.synod'), {
      listenZkUrls: `http://127.0.0.1:${port}`,
      zkContainerCheckIntervalMs: 100,
    });
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  it('negotiates the session timeout into [2, 20] ticks and hands out a 16-byte password', async () => {
    const short = await open({sessionTimeoutMs: 100});
    expect(short.session.timeOutMs).toBe(4000);
    expect(short.session.password.length).toBe(16);
    const long = await open({sessionTimeoutMs: 1_000_000});
    expect(long.session.timeOutMs).toBe(40_000);
    expect(long.session.sessionId).not.toBe(short.session.sessionId);
  });

  it('has /zookeeper, /zookeeper/config and /zookeeper/quota', async () => {
    const zk = await open();
    const root = await zk.getChildren('/');
    expect(root).toMatchObject({err: 0, value: {children: ['zookeeper']}});
    const sys = await zk.getChildren('/zookeeper');
    expect(sys.kind === 'reply' && sys.value?.children.sort()).toEqual(['config', 'quota']);
    expect(await zk.getData('/zookeeper/config')).toMatchObject({err: 0});
  });

  it('creates, reads, sets and deletes with ZooKeeper Stat fields and errors', async () => {
    const zk = await open();
    const created = await zk.create2('/app', 'v1', PERSISTENT);
    expect(created.kind).toBe('reply');
    if (created.kind !== 'reply' || created.value === undefined) return;
    const stat = created.value.stat;
    expect(stat.czxid).toBe(created.zxid);
    expect(stat.mzxid).toBe(created.zxid);
    expect(stat.pzxid).toBe(created.zxid);
    expect(stat).toMatchObject({
      version: 0,
      cversion: 0,
      aversion: 0,
      dataLength: 2,
      numChildren: 0,
    });
    expect(stat.ephemeralOwner).toBe(0n);
    expect(await zk.create('/app', 'again', PERSISTENT)).toMatchObject({err: NODE_EXISTS});
    expect(await zk.create('/missing/child', '', PERSISTENT)).toMatchObject({err: NO_NODE});
    expect(await zk.create('no-slash', '', PERSISTENT)).toMatchObject({err: BAD_ARGUMENTS});
    // As ZooKeeper 3.8: the parent '/a/' is looked up first.
    expect(await zk.create('/a//b', '', PERSISTENT)).toMatchObject({err: NO_NODE});
    const set = await zk.setData('/app', 'v2', 0);
    expect(set).toMatchObject({err: 0, value: {stat: {version: 1, dataLength: 2}}});
    expect(await zk.setData('/app', 'v3', 0)).toMatchObject({err: BAD_VERSION});
    const got = await zk.getData('/app');
    expect(got.kind === 'reply' && got.value?.data?.toString()).toBe('v2');
    await zk.create('/app/child', '', PERSISTENT);
    expect(await zk.delete('/app')).toMatchObject({err: NOT_EMPTY});
    const parent = await zk.exists('/app');
    expect(parent).toMatchObject({err: 0, value: {stat: {cversion: 1, numChildren: 1}}});
    expect(await zk.delete('/app/child', 5)).toMatchObject({err: BAD_VERSION});
    expect(await zk.delete('/app/child')).toMatchObject({err: 0});
    expect(await zk.delete('/app')).toMatchObject({err: 0});
    expect(await zk.exists('/app')).toMatchObject({err: NO_NODE});
  });

  it('names sequential nodes from the count of child creates, which deletes do not advance', async () => {
    const zk = await open();
    await zk.create('/seq', '', PERSISTENT);
    const a = await zk.create('/seq/n-', '', PERSISTENT_SEQUENTIAL);
    expect(a).toMatchObject({value: {path: '/seq/n-0000000000'}});
    await zk.delete('/seq/n-0000000000');
    await zk.create('/seq/plain', '', PERSISTENT);
    const b = await zk.create('/seq/n-', '', PERSISTENT_SEQUENTIAL);
    expect(b).toMatchObject({value: {path: '/seq/n-0000000002'}});
  });

  it('deletes ephemerals when their session closes, and refuses children under them', async () => {
    const owner = await open();
    const other = await open();
    await other.create('/eph-parent', '', PERSISTENT);
    const e = await owner.create2('/eph-parent/e', '', EPHEMERAL);
    expect(e.kind === 'reply' && e.value?.stat.ephemeralOwner).toBe(owner.session.sessionId);
    expect(await owner.create('/eph-parent/e/c', '', PERSISTENT)).toMatchObject({
      err: NO_CHILDREN_FOR_EPHEMERALS,
    });
    const listed = await owner.getEphemerals('/eph-parent');
    expect(listed).toMatchObject({value: {ephemerals: ['/eph-parent/e']}});
    expect(await other.getChildren('/eph-parent', true)).toMatchObject({value: {children: ['e']}});
    await owner.close();
    const events = await other.takeEvents(1);
    expect(events.map(x => [x.type, x.path])).toEqual([[4, '/eph-parent']]);
    expect(await other.exists('/eph-parent/e')).toMatchObject({err: NO_NODE});
    expect(await other.exists('/eph-parent')).toMatchObject({value: {stat: {cversion: 2}}});
  });

  it('removes a container at the next sweep after its last child is deleted', async () => {
    const zk = await open();
    expect(await zk.createContainer('/box', '')).toMatchObject({err: 0});
    expect(await zk.createContainer('/never-used', '')).toMatchObject({err: 0});
    await zk.create('/box/item', '', PERSISTENT);
    await zk.delete('/box/item');
    const deadline = Date.now() + 10_000;
    const present = async () => {
      const r = await zk.exists('/box');
      return r.kind === 'reply' && r.err === 0;
    };
    while ((await present()) && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    expect(await zk.exists('/box')).toMatchObject({err: NO_NODE});
    // A container that never had a child is not the sweep's, as in ZooKeeper.
    expect(await zk.exists('/never-used')).toMatchObject({err: 0});
  });

  it('runs a multi all-or-nothing at one zxid, with per-op results and errors', async () => {
    const zk = await open();
    const ok = await zk.multi([
      {op: 'create', path: '/m', data: 'x'},
      {op: 'create', path: '/m/a'},
      {op: 'setData', path: '/m', data: 'y', version: 0},
      {op: 'check', path: '/m', version: 1},
    ]);
    expect(ok.kind).toBe('reply');
    if (ok.kind !== 'reply') return;
    expect(ok.err).toBe(0);
    expect(ok.value?.map(r => r.type)).toEqual([1, 1, 5, 13]);
    const m = await zk.exists('/m');
    expect(m.kind === 'reply' && m.value?.stat.czxid).toBe(ok.zxid);
    const failed = await zk.multi([
      {op: 'create', path: '/m/b'},
      {op: 'delete', path: '/nope'},
      {op: 'create', path: '/m/c'},
    ]);
    expect(failed).toMatchObject({err: 0});
    if (failed.kind !== 'reply') return;
    expect(failed.value?.map(r => [r.type, r.err])).toEqual([
      [-1, 0],
      [-1, NO_NODE],
      [-1, -2],
    ]);
    expect(await zk.exists('/m/b')).toMatchObject({err: NO_NODE});
  });

  it('fires one-shot watches once, before the reply that shows the change', async () => {
    const watcher = await open();
    const writer = await open();
    await writer.create('/w', 'a', PERSISTENT);
    await watcher.getData('/w', true);
    await watcher.exists('/w-new', true);
    await writer.setData('/w', 'b');
    await writer.setData('/w', 'c');
    await writer.create('/w-new', '', PERSISTENT);
    const events = await watcher.takeEvents(2);
    expect(events.map(e => [e.type, e.path])).toEqual([
      [3, '/w'],
      [1, '/w-new'],
    ]);
  });

  it('keeps persistent recursive watches until removed', async () => {
    const watcher = await open();
    const writer = await open();
    await writer.create('/r', '', PERSISTENT);
    expect(await watcher.addWatch('/r', 1)).toMatchObject({err: 0});
    await writer.create('/r/x', '', PERSISTENT);
    await writer.setData('/r/x', 'd');
    await writer.delete('/r/x');
    const events = await watcher.takeEvents(3);
    expect(events.map(e => [e.type, e.path])).toEqual([
      [1, '/r/x'],
      [3, '/r/x'],
      [2, '/r/x'],
    ]);
    expect(await watcher.removeWatches('/r', 3)).toMatchObject({err: 0});
    expect(await watcher.removeWatches('/r', 3)).toMatchObject({err: -121});
  });

  it('resumes a session on a new connection with its password, and refuses a wrong one', async () => {
    const first = await open({sessionTimeoutMs: 10_000});
    await first.create('/resume', '', EPHEMERAL);
    first.disconnect();
    const again = await open({
      sessionId: first.session.sessionId,
      password: first.session.password,
    });
    expect(again.session.sessionId).toBe(first.session.sessionId);
    expect(again.session.timeOutMs).toBe(10_000);
    expect(await again.exists('/resume')).toMatchObject({err: 0});
    const wrong = await open({sessionId: first.session.sessionId, password: Buffer.alloc(16, 1)});
    expect(wrong.session.timeOutMs).toBe(0);
    expect(await wrong.closedWithin(2000)).toBe(true);
  });

  it('closes the older connection of a session that reconnects, as ZooKeeper does', async () => {
    const first = await open();
    const second = await open({
      sessionId: first.session.sessionId,
      password: first.session.password,
    });
    expect(await first.closedWithin(2000)).toBe(true);
    expect(await second.exists('/')).toMatchObject({err: 0});
  });

  it('answers an unknown opcode with Unimplemented, then closes the connection as ZooKeeper does', async () => {
    const zk = await open();
    const reply = await zk.sendRaw(Buffer.from([0, 0, 0, 8, 0, 0, 0, 77, 0, 0, 0, 99]), 77);
    expect(reply).toMatchObject({err: UNIMPLEMENTED, zxid: -1n});
    expect(await zk.closedWithin(2000)).toBe(true);
    const next = await open();
    expect(await next.exists('/')).toMatchObject({err: 0});
  });

  it('answers four-letter words', async () => {
    expect(await fourLetterWord(port, 'ruok')).toBe('imok');
    expect(await fourLetterWord(port, 'isro')).toBe('rw');
    expect(await fourLetterWord(port, 'srvr')).toMatch(
      /^Zookeeper version: 3\.8\.\d.*\nMode: standalone\n/s,
    );
    expect(await fourLetterWord(port, 'envi')).toMatch(/\nzookeeper\.version=3\.8\./);
    expect(await fourLetterWord(port, 'mntr')).toMatch(/^zk_version\t/);
  });
});
