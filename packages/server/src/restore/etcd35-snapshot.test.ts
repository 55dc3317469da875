import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {KeyValue} from '@synod/proto';
import type {BboltItem} from '@synod/storage';
import {KvStore, writeBboltFile} from '@synod/storage';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {encodeEtcdLease, encodeEtcdMember, etcdRevisionKey, u64be} from './etcd-schema.js';
import {restoreSnapshot} from './restore-snapshot.js';
import {snapshotStatus} from './snapshot-status.js';

/*
 * etcd 3.5 writes what 3.4 writes plus three records: `meta/term` (the raft term of the
 * consistent index, u64 BE), `meta/confState` (Go's JSON of raftpb.ConfState) and
 * `cluster/downgrade` (JSON), with clusterVersion "3.5.0". Debian has no etcd 3.5, so the
 * file is written here with those records, the layout etcd 3.5's bbolt keeps, and real etcd
 * 3.4's `etcdctl snapshot status` is the reference for what status reads.
 */

const b = (s: string): Buffer => Buffer.from(s);
const etcdctlMissing = spawnSync('etcdctl', ['version'], {encoding: 'utf8'}).status !== 0;

const LEASE = 0x3e8a5c2d7b1f9061n;
const MEMBER = 0x8e9e05c52164694dn;

function keyValue(
  key: string,
  value: string,
  create: number,
  mod: number,
  version: number,
  lease = 0n,
): Buffer {
  return Buffer.from(
    KeyValue.encode(
      KeyValue.fromPartial({
        key: b(key),
        value: b(value),
        createRevision: BigInt(create),
        modRevision: BigInt(mod),
        version: BigInt(version),
        lease,
      }),
    ).finish(),
  );
}

/** The buckets of an etcd 3.5 member at revision 6, `meta` and `cluster` as 3.5 writes them. */
function etcd35Buckets(meta: BboltItem[], cluster: BboltItem[]): BboltItem[] {
  return [
    {key: b('alarm'), bucket: []},
    {
      key: b('auth'),
      bucket: [
        {key: b('authEnabled'), value: Buffer.from([0])},
        {key: b('authRevision'), value: u64be(1)},
      ],
    },
    {key: b('authRoles'), bucket: []},
    {key: b('authUsers'), bucket: []},
    {key: b('cluster'), bucket: cluster},
    {
      key: b('key'),
      bucket: [
        {key: etcdRevisionKey(2, 0, false), value: keyValue('a', '1', 2, 2, 1)},
        {key: etcdRevisionKey(3, 0, false), value: keyValue('a', '2', 2, 3, 2)},
        {key: etcdRevisionKey(4, 0, false), value: keyValue('gone', 'x', 4, 4, 1)},
        {key: etcdRevisionKey(5, 0, true), value: keyValue('gone', '', 0, 0, 0)},
        {key: etcdRevisionKey(6, 0, false), value: keyValue('leased', 'l', 6, 6, 1, LEASE)},
      ],
    },
    {
      key: b('lease'),
      bucket: [
        {
          key: u64be(LEASE),
          value: encodeEtcdLease({id: LEASE, ttlSeconds: 900n, remainingTtlSeconds: 0n}),
        },
      ],
    },
    {
      key: b('members'),
      bucket: [
        {
          key: b(MEMBER.toString(16)),
          value: encodeEtcdMember({
            id: Number(MEMBER),
            peerUrls: ['http://127.0.0.1:2380'],
            isLearner: false,
            name: 'default',
            clientUrls: ['http://127.0.0.1:2379'],
          }),
        },
      ],
    },
    {key: b('members_removed'), bucket: []},
    {key: b('meta'), bucket: meta},
  ];
}

const goodMeta: BboltItem[] = [
  {key: b('confState'), value: b(`{"voters":[${MEMBER.toString()}],"auto_leave":false}`)},
  {key: b('consistent_index'), value: u64be(9)},
  {key: b('term'), value: u64be(2)},
];
const goodCluster: BboltItem[] = [
  {key: b('clusterVersion'), value: b('3.5.0')},
  {key: b('downgrade'), value: b('{"target-version":"","enabled":false}')},
];

/** The bbolt file, then its SHA-256, as `etcdctl snapshot save` leaves it. */
async function snapshotFile(path: string, buckets: BboltItem[]): Promise<void> {
  await writeBboltFile(path, buckets);
  const db = readFileSync(path);
  writeFileSync(path, Buffer.concat([db, createHash('sha256').update(db).digest()]));
}

describe('a snapshot in etcd 3.5’s layout (term, confState, downgrade)', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-etcd35-'));
    file = join(dir, 'etcd35.db');
    await snapshotFile(file, etcd35Buckets(goodMeta, goodCluster));
  });
  afterAll(() => {
    rmSync(dir, {recursive: true, force: true});
  });

  it.skipIf(etcdctlMissing)(
    'is read by synod snapshot status as etcd 3.4’s etcdctl reads it',
    async () => {
      const out = spawnSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], {
        encoding: 'utf8',
        env: {...process.env, ETCDCTL_API: '3'},
      });
      expect(out.status, out.stderr).toBe(0);
      const etcd: unknown = JSON.parse(out.stdout);
      expect(await snapshotStatus(file)).toEqual(etcd);
      // 2 alarm-less auth keys, 2 cluster, 5 revisions, 1 lease, 1 member, 3 meta.
      expect(etcd).toMatchObject({revision: 6, totalKey: 14});
    },
  );

  it('is restored with every revision, version and lease', async () => {
    const dataDir = join(dir, 'restored');
    const result = await restoreSnapshot({
      snapshotPath: file,
      name: 'solo',
      initialCluster: new Map([['solo', [new URL('http://127.0.0.1:2380')]]]),
      initialClusterToken: 'etcd-cluster',
      dataDir,
    });
    expect(result.revision).toBe(6);
    const kv = KvStore.open(join(dataDir, 'member', 'db'));
    try {
      expect(kv.rev()).toBe(6);
      expect(kv.consistentIndex()).toBe(1);
      const all = kv.range(b('\0'), b('\xff')).kvs.map(k => ({
        key: Buffer.from(k.key).toString(),
        value: Buffer.from(k.value).toString(),
        create: k.createRevision,
        mod: k.modRevision,
        version: k.version,
        lease: k.lease,
      }));
      expect(all).toEqual([
        {key: 'a', value: '2', create: 2, mod: 3, version: 2, lease: 0n},
        {key: 'leased', value: 'l', create: 6, mod: 6, version: 1, lease: LEASE},
      ]);
      expect(kv.range(b('gone'), undefined, {rev: 4}).kvs).toHaveLength(1);
      expect(kv.range(b('gone'), undefined, {rev: 5}).kvs).toHaveLength(0);
    } finally {
      await kv.close();
    }
  });

  it.skipIf(etcdctlMissing)(
    'with a meta key a newer etcd adds (3.6’s storageVersion) is restored, as etcd 3.4 restores it',
    async () => {
      const newer = join(dir, 'etcd36.db');
      // In key order: confState, consistent_index, storageVersion, term.
      const meta = [...goodMeta];
      meta.splice(2, 0, {key: b('storageVersion'), value: b('3.6.0')});
      await snapshotFile(newer, etcd35Buckets(meta, goodCluster));
      const etcd = spawnSync(
        'etcdctl',
        [
          'snapshot',
          'restore',
          newer,
          '--name=solo',
          `--data-dir=${join(dir, 'etcd-restored-36')}`,
          '--initial-cluster=solo=http://127.0.0.1:2380',
          '--initial-advertise-peer-urls=http://127.0.0.1:2380',
        ],
        {encoding: 'utf8', env: {...process.env, ETCDCTL_API: '3'}},
      );
      expect(etcd.status, etcd.stderr).toBe(0);
      const result = await restoreSnapshot({
        snapshotPath: newer,
        name: 'solo',
        initialCluster: new Map([['solo', [new URL('http://127.0.0.1:2380')]]]),
        initialClusterToken: 'etcd-cluster',
        dataDir: join(dir, 'restored-36'),
      });
      expect(result.revision).toBe(6);
      const kv = KvStore.open(join(dir, 'restored-36', 'member', 'db'));
      try {
        expect(kv.rev()).toBe(6);
        expect(kv.range(b('\0'), b('\xff')).kvs.map(k => Buffer.from(k.key).toString())).toEqual([
          'a',
          'leased',
        ]);
      } finally {
        await kv.close();
      }
      expect(await snapshotStatus(newer)).toMatchObject({revision: 6, totalKey: 15});
    },
  );

  it('is refused with one line naming the bucket and key when a 3.5 record is damaged', async () => {
    const cases: [string, BboltItem[], BboltItem[], RegExp][] = [
      [
        'term.db',
        [...goodMeta.slice(0, 2), {key: b('term'), value: Buffer.alloc(3)}],
        goodCluster,
        /bucket meta, key 0x7465726d: a raft term is 8 bytes, not 3$/,
      ],
      [
        'confstate.db',
        [{key: b('confState'), value: b('{"voters":')}, ...goodMeta.slice(1)],
        goodCluster,
        /bucket meta, key 0x636f6e665374617465: not a raftpb.ConfState in JSON: /,
      ],
      [
        'downgrade.db',
        goodMeta,
        [goodCluster[0] as BboltItem, {key: b('downgrade'), value: b('{"enabled":"yes"}')}],
        /bucket cluster, key 0x646f776e6772616465: not etcd's downgrade info in JSON: enabled is not true or false$/,
      ],
    ];
    for (const [name, meta, cluster, expected] of cases) {
      const bad = join(dir, name);
      await snapshotFile(bad, etcd35Buckets(meta, cluster));
      const dataDir = join(dir, `restored-${name}`);
      await expect(
        restoreSnapshot({
          snapshotPath: bad,
          name: 'solo',
          initialCluster: new Map([['solo', [new URL('http://127.0.0.1:2380')]]]),
          initialClusterToken: 'etcd-cluster',
          dataDir,
        }),
      ).rejects.toThrow(expected);
    }
  });
});
