import {execFile} from 'node:child_process';

import {
  freePorts,
  startZkCluster,
  ZooKeeperClient,
  zookeeperSkipReason,
  zkCliPath,
} from '@synod/testing';
import type {ZkCluster} from '@synod/testing';
import {ZkProtocol} from '@synod/proto';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {normalisedConfig, electionPortZero} from './config-normalisation.js';
import {kazooPython, killClients, runZkCli} from './support/real-clients.js';

/**
 * `/zookeeper/config` on a 3-server ZooKeeper 3.8 ensemble (its `server.N` lines naming each
 * server's client address) and on a 3-member Synod cluster: what the raw client, zkCli's
 * `config` and kazoo read must be the same once server ids, ports and the version are
 * normalised (config-normalisation.ts). On Synod a membership change (a learner added, then
 * removed) must change the listing and the version and fire the data watch on the node.
 */

const servers = ['zookeeper', 'synod'] as const;
type Server = (typeof servers)[number];

function etcdctl(endpoints: readonly string[], args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'etcdctl',
      [`--endpoints=${endpoints.join(',')}`, ...args],
      {env: {...process.env, ETCDCTL_API: '3'}, timeout: 15_000},
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`etcdctl ${args.join(' ')}: ${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

async function connect(cluster: ZkCluster, index = 0): Promise<ZooKeeperClient> {
  const [host = '', port = ''] = (cluster.addresses[index] ?? '').split(':');
  return ZooKeeperClient.connect({host, port: Number(port)});
}

async function readConfig(client: ZooKeeperClient, watch = false) {
  const reply = await client.getData('/zookeeper/config', watch);
  if (reply.kind !== 'reply' || reply.value === undefined) {
    throw new Error(`getData /zookeeper/config: ${JSON.stringify(reply)}`);
  }
  return {data: reply.value.data?.toString('utf8') ?? '', stat: reply.value.stat};
}

/** The number the config's `version=<hex>` line gives. */
function versionOf(data: string): bigint {
  return BigInt(`0x${/version=([0-9a-f]+)$/.exec(data)?.[1] ?? 'x'}`);
}

describe.skipIf(zookeeperSkipReason !== undefined)('/zookeeper/config on three servers', () => {
  const clusters = new Map<Server, ZkCluster>();
  const cluster = (name: Server): ZkCluster => {
    const c = clusters.get(name);
    if (c === undefined) throw new Error(`${name} did not start`);
    return c;
  };
  beforeAll(async () => {
    const started = await Promise.allSettled(servers.map(name => startZkCluster(name, 3)));
    for (const [i, result] of started.entries()) {
      if (result.status === 'fulfilled') clusters.set(servers[i] ?? 'synod', result.value);
    }
    for (const result of started) if (result.status === 'rejected') throw result.reason;
  }, 120_000);
  afterAll(async () => {
    killClients();
    for (const c of clusters.values()) await c.stop();
  });

  it('getData, exists and getACL answer as an ensemble does, the same on every member', async () => {
    const seen = new Map<Server, unknown>();
    for (const name of servers) {
      const c = cluster(name);
      const client = await connect(c);
      try {
        const {data, stat} = await readConfig(client);
        const exists = await client.exists('/zookeeper/config');
        const acl = await client.getACL('/zookeeper/config');
        if (name === 'synod') expect(electionPortZero(data)).toBe(true);
        expect(stat.dataLength).toBe(Buffer.byteLength(data));
        expect(stat.mtime).toBeGreaterThan(0n);
        // mzxid is the configuration's version, as its last line gives it: 0 on a static
        // ensemble, the raft index of the last membership change on Synod.
        expect(stat.mzxid).toBe(versionOf(data));
        // The stat's time and those numbers aside, every field is the same on both.
        const shown = (s: typeof stat) => ({
          ...s,
          mtime: '<time>',
          dataLength: '<length>',
          mzxid: '<version>',
        });
        seen.set(name, {
          config: normalisedConfig(data, c.addresses),
          stat: shown(stat),
          exists: exists.kind === 'reply' ? shown(exists.value?.stat ?? stat) : exists.kind,
          acl: acl.kind === 'reply' ? acl.value?.acl : acl.kind,
        });
        // Every server lists the same members.
        for (let i = 1; i < c.addresses.length; i++) {
          const other = await connect(c, i);
          try {
            expect((await readConfig(other)).data).toBe(data);
          } finally {
            await other.close();
          }
        }
      } finally {
        await client.close();
      }
    }
    expect(seen.get('zookeeper')).toMatchObject({
      config: [0, 1, 2]
        .map(i => `server.<id>=127.0.0.1:<port>:<election port>:participant;<client #${i}>`)
        .concat('version=<hex>')
        .join('\n'),
    });
    expect(seen.get('synod')).toEqual(seen.get('zookeeper'));
  });

  it.skipIf(zkCliPath === undefined && kazooPython === undefined)(
    "zkCli's config and kazoo read the same listing",
    async () => {
      const seen = new Map<Server, unknown>();
      for (const name of servers) {
        const c = cluster(name);
        const [host = '', port = ''] = (c.addresses[0] ?? '').split(':');
        const target = {name, host, port: Number(port)};
        const cli = (await runZkCli(target, ['config'])).filter(line =>
          /^(server\.|version=)/.test(line),
        );
        const kazoo = await new Promise<string>((resolve, reject) => {
          execFile(
            kazooPython ?? 'python3',
            [
              '-c',
              [
                'import sys',
                'from kazoo.client import KazooClient',
                'zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=20)',
                "data, stat = zk.get('/zookeeper/config')",
                "sys.stdout.write(data.decode('utf-8')); zk.stop()",
              ].join('\n'),
              `${host}:${port}`,
            ],
            {timeout: 30_000},
            (error, stdout, stderr) => {
              if (error !== null) reject(new Error(`kazoo: ${stderr}`));
              else resolve(stdout);
            },
          );
        });
        seen.set(name, {
          cli: normalisedConfig(cli.join('\n'), c.addresses),
          kazoo: normalisedConfig(kazoo, c.addresses),
        });
      }
      expect((seen.get('zookeeper') as {cli: string}).cli).toMatch(/^server\.<id>=.*<client #0>/);
      expect(seen.get('synod')).toEqual(seen.get('zookeeper'));
    },
    90_000,
  );

  it('Synod: a learner added and removed changes the listing and its version, and fires the watch', async () => {
    const c = cluster('synod');
    const client = await connect(c, 1);
    try {
      const before = await readConfig(client, true);
      const [peerPort] = await freePorts(1);
      const added = await etcdctl(c.etcdEndpoints, [
        'member',
        'add',
        'config-learner',
        '--learner',
        `--peer-urls=http://127.0.0.1:${String(peerPort)}`,
      ]);
      const id = /Member\s+([0-9a-f]+)\s+added/.exec(added)?.[1];
      expect(id, added).toBeDefined();
      const changed = await client.takeEvents(1, 10_000);
      expect(changed).toMatchObject([
        {type: ZkProtocol.eventType.nodeDataChanged, path: '/zookeeper/config'},
      ]);
      const withLearner = await readConfig(client, true);
      // The learner has not started: it has no ZooKeeper port to name yet.
      expect(withLearner.data).toContain(
        `server.${BigInt(`0x${id ?? ''}`).toString()}=127.0.0.1:${String(peerPort)}:0:observer\n`,
      );
      expect(withLearner.data.split('\n')).toHaveLength(5);
      expect(versionOf(withLearner.data)).toBeGreaterThan(versionOf(before.data));
      expect(withLearner.stat).toMatchObject({mzxid: versionOf(withLearner.data), version: -1});

      await etcdctl(c.etcdEndpoints, ['member', 'remove', id ?? '']);
      expect(await client.takeEvents(1, 10_000)).toMatchObject([
        {type: ZkProtocol.eventType.nodeDataChanged, path: '/zookeeper/config'},
      ]);
      const after = await readConfig(client);
      expect(normalisedConfig(after.data, c.addresses)).toBe(
        normalisedConfig(before.data, c.addresses),
      );
      expect(versionOf(after.data)).toBeGreaterThan(versionOf(withLearner.data));
      expect(after.stat.mzxid).toBe(versionOf(after.data));
    } finally {
      await client.close();
    }
  });
});
