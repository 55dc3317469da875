import {mkdtempSync, rmSync} from 'node:fs';
import {connect} from 'node:net';
import type {Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {JuteWriter, ZooKeeperClient} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {startSoloMember} from './support/in-process-cluster.js';

/**
 * A flood of connections to a member's ZooKeeper port (issue #20's bad input): 1300, more than
 * the 1024 one address may hold, some handshaking, some silent, some sending garbage. The ones over
 * the limit are closed at once, a session opened before the flood keeps reading and writing
 * through it, and once the flood is gone new clients connect and find the data intact.
 */
describe('a flood of ZooKeeper connections from one address', () => {
  let dir: string;
  let member: Member;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-flood-'));
    member = await startSoloMember(join(dir, 'solo.synod'), {listenZkUrls: 'http://127.0.0.1:0'});
    const address = member.zkAddresses[0] ?? '';
    port = Number(address.slice(address.lastIndexOf(':') + 1));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  const handshake = (): Buffer =>
    new JuteWriter()
      .int(0)
      .long(0n)
      .int(30_000)
      .long(0n)
      .buffer(Buffer.alloc(16))
      .bool(false)
      .frame();

  /** Opens a raw connection that reports whether the server closed it. */
  function raw(first: Buffer | undefined): Promise<{socket: Socket; closed: () => boolean}> {
    return new Promise((resolve, reject) => {
      let closed = false;
      const socket = connect(port, '127.0.0.1', () => {
        if (first !== undefined) socket.write(first);
        resolve({socket, closed: () => closed});
      });
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        closed = true;
      });
      socket.once('error', reject);
      sockets.push(socket);
    });
  }

  it('closes what is over the limit, keeps serving the sessions it has, and recovers', async () => {
    const before = await ZooKeeperClient.connect({host: '127.0.0.1', port});
    expect(await before.create('/flood', 'kept')).toMatchObject({err: 0});

    const garbage = Buffer.from([0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
    const flood = [];
    for (let i = 0; i < 1300; i++) {
      const first = i % 10 === 9 ? garbage : i % 2 === 0 ? handshake() : undefined;
      flood.push(await raw(first));
    }
    await new Promise(r => setTimeout(r, 1000));
    const open = flood.filter(f => !f.closed()).length;
    // The session opened before counts against the limit too; the garbage ones are closed.
    expect(open).toBeLessThanOrEqual(1023);
    expect(open).toBeGreaterThanOrEqual(1000);

    // The session from before is served through the flood.
    const during = await before.getData('/flood');
    expect(during.kind === 'reply' && during.value?.data?.toString()).toBe('kept');
    expect(await before.setData('/flood', 'still kept')).toMatchObject({err: 0});

    for (const f of flood) f.socket.destroy();
    await new Promise(r => setTimeout(r, 300));
    const after = await ZooKeeperClient.connect({host: '127.0.0.1', port});
    const read = await after.getData('/flood');
    expect(read).toMatchObject({err: 0, value: {stat: {version: 1}}});
    expect(read.kind === 'reply' && read.value?.data?.toString()).toBe('still kept');
    expect(await after.close()).toMatchObject({err: 0});
    expect(await before.close()).toMatchObject({err: 0});
  }, 30_000);
});
