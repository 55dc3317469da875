import {mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Etcd3} from 'etcd3';
import {expect, it} from 'vitest';

import {startMember} from '../src/index.js';
import {silentLogger} from './support/in-process-cluster.js';

it('takes raft snapshots every --snapshot-count entries and restarts from them with all data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-snap-'));
  const config = {
    name: 'solo',
    dataDir: join(dir, 'solo'),
    listenClientUrls: 'http://127.0.0.1:0',
    listenPeerUrls: 'http://127.0.0.1:0',
    heartbeatIntervalMs: 20,
    electionTimeoutMs: 200,
    snapshotCount: 25,
  };
  try {
    let member = await startMember(config, {logger: silentLogger});
    let client = new Etcd3({hosts: `http://${member.clientAddresses[0] ?? ''}`});
    while (member.core.leader === 0) await new Promise(r => setTimeout(r, 20));
    for (let i = 0; i < 120; i++) await client.put(`k/${i}`).value(`v${i}`);
    client.close();
    await member.close();
    const snaps = readdirSync(join(config.dataDir, 'member', 'snap')).filter(f =>
      f.endsWith('.snap'),
    );
    expect(snaps.length).toBeGreaterThan(0);

    member = await startMember(config, {logger: silentLogger});
    client = new Etcd3({hosts: `http://${member.clientAddresses[0] ?? ''}`});
    try {
      while (member.core.leader === 0) await new Promise(r => setTimeout(r, 20));
      const all = await client.getAll().prefix('k/').strings();
      expect(Object.keys(all)).toHaveLength(120);
      expect(all['k/119']).toBe('v119');
      await client.put('after').value('restart');
      expect(await client.get('after').string()).toBe('restart');
    } finally {
      client.close();
      await member.close();
    }
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
});
