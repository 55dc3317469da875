import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Permission_Type, Role, User} from '@synod/proto';
import type {Backend, Bucket} from '@synod/storage';
import {BboltReader, KvStore, Lessor, writeBboltFile} from '@synod/storage';
import {afterEach, describe, expect, it} from 'vitest';

import {Membership} from '../member/membership.js';
import {
  decodeEtcdLease,
  decodeSynodLease,
  encodeEtcdLease,
  encodeEtcdMember,
  encodeSynodLease,
  etcdRevisionKey,
  parseEtcdRevisionKey,
  SYNOD_META_FINISHED_COMPACT,
  SYNOD_META_SCHEDULED_COMPACT,
} from './etcd-schema.js';
import {readEtcdSnapshot} from './read-etcd-snapshot.js';
import {snapshotStatus} from './snapshot-status.js';
import {writeEtcdSnapshot} from './write-etcd-snapshot.js';

const b = (s: string): Buffer => Buffer.from(s);
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'synod-etcd-snapshot-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true});
});

const etcdctlMissing = spawnSync('etcdctl', ['version'], {encoding: 'utf8'}).status !== 0;

/** A store with history: overwrites, a delete, leased keys, a compaction, auth, members. */
async function sampleStore(dir: string): Promise<{kv: KvStore; lessor: Lessor}> {
  const lessor = new Lessor({nowMs: () => 0, minTtlSeconds: 1});
  const kv = KvStore.open(dir, {leaseHooks: lessor, schedule: step => setImmediate(step)});
  lessor.restore(kv.backend);
  const put = (key: string, value: string, lease = 0n): void => {
    const txn = kv.write();
    txn.put(b(key), b(value), lease);
    txn.end();
  };
  put('a', '1');
  put('a', '2');
  put('b', '3');
  const del = kv.write();
  del.deleteRange(b('b'), undefined);
  del.end();
  lessor.grant(0x694d7d2b8f2c6a05n, 600);
  lessor.checkpoint(0x694d7d2b8f2c6a05n, 420);
  put('leased/x', 'x', 0x694d7d2b8f2c6a05n);
  put('a', '3');
  await kv.compact(3).done;
  kv.setConsistentIndex(42);
  const backend = kv.backend;
  backend.put('auth', b('authEnabled'), Buffer.from([1]));
  backend.put('auth', b('authRevision'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 7]));
  backend.put(
    'authUsers',
    b('root'),
    User.encode(
      User.fromPartial({name: b('root'), password: b('$2a$10$x'), roles: ['root']}),
    ).finish(),
  );
  backend.put(
    'authRoles',
    b('reader'),
    Role.encode(
      Role.fromPartial({
        name: b('reader'),
        keyPermission: [{permType: Permission_Type.READ, key: b('a'), rangeEnd: b('b')}],
      }),
    ).finish(),
  );
  const members = new Membership(backend);
  members.set({
    id: 0x1234,
    name: 'one',
    peerUrls: ['http://127.0.0.1:2380'],
    clientUrls: [],
    isLearner: false,
  });
  members.set({
    id: 0x99,
    name: 'gone',
    peerUrls: ['http://127.0.0.1:2381'],
    clientUrls: [],
    isLearner: false,
  });
  members.remove(0x99);
  await kv.commit();
  return {kv, lessor};
}

function bucket(backend: Backend, name: Bucket): [string, string][] {
  return [...backend.range(name, new Uint8Array(0))].map(e => [
    Buffer.from(e.key).toString('hex'),
    Buffer.from(e.value).toString('hex'),
  ]);
}

describe('etcd schema', () => {
  it('encodes revision keys as etcd does, tombstones with a trailing t', () => {
    expect(etcdRevisionKey(2, 0, false).toString('hex')).toBe('00000000000000025f0000000000000000');
    expect(etcdRevisionKey(5, 1, true).toString('hex')).toBe(
      '00000000000000055f000000000000000174',
    );
    expect(parseEtcdRevisionKey(etcdRevisionKey(5, 1, true))).toEqual({
      main: 5,
      sub: 1,
      tombstone: true,
    });
    expect(parseEtcdRevisionKey(b('consistent_index'))).toMatch(/^not a revision key/);
  });

  it("encodes a lease as gogo's leasepb.Lease (bytes of a lease etcd 3.4 saved)", () => {
    // ID 0x390da24a9d0bc609, TTL 600, no remaining TTL: from a snapshot of etcd 3.4.23.
    const saved = Buffer.from('0889' + '8caf' + 'e8a9c9e88639' + '10d804', 'hex');
    const lease = {id: 0x390da24a9d0bc609n, ttlSeconds: 600n, remainingTtlSeconds: 0n};
    expect(encodeEtcdLease(lease)).toEqual(saved);
    expect(decodeEtcdLease(saved)).toEqual(lease);
    expect(decodeEtcdLease(Buffer.from('08', 'hex'))).toBe('truncated varint in field 1');
  });

  it("writes a member as etcd's JSON", () => {
    expect(
      encodeEtcdMember({
        id: 0x1234,
        peerUrls: ['http://a:2380'],
        isLearner: false,
        name: 'n1',
        clientUrls: ['http://a:2379'],
      }).toString(),
    ).toBe('{"id":4660,"peerURLs":["http://a:2380"],"name":"n1","clientURLs":["http://a:2379"]}');
  });

  it("matches the store's compaction keys and the lessor's lease record", async () => {
    const dir = tmp();
    const {kv} = await sampleStore(dir);
    try {
      const scheduled = kv.backend.get('meta', b(SYNOD_META_SCHEDULED_COMPACT));
      const finished = kv.backend.get('meta', b(SYNOD_META_FINISHED_COMPACT));
      expect(Buffer.from(scheduled ?? []).readBigUInt64BE()).toBe(3n);
      expect(Buffer.from(finished ?? []).readBigUInt64BE()).toBe(3n);
      const [lease] = [...kv.backend.range('lease', new Uint8Array(0))];
      expect(decodeSynodLease(lease?.value ?? new Uint8Array(16))).toEqual({
        ttlSeconds: 600n,
        remainingTtlSeconds: 420n,
      });
      expect(Buffer.from(lease?.value ?? [])).toEqual(encodeSynodLease(600, 420));
    } finally {
      await kv.close();
    }
  });
});

describe('writeEtcdSnapshot and readEtcdSnapshot', () => {
  it('carry every revision, the compaction, leases, auth and alarms across and back', async () => {
    const source = tmp();
    const {kv} = await sampleStore(source);
    const file = join(tmp(), 'etcd.db');
    try {
      await writeEtcdSnapshot(kv.backend, file);
      const reader = BboltReader.open(file);
      try {
        reader.check();
        const names = [...reader.root().entries()].map(e => e.key.toString());
        expect(names).toEqual([
          'alarm',
          'auth',
          'authRoles',
          'authUsers',
          'cluster',
          'key',
          'lease',
          'members',
          'members_removed',
          'meta',
        ]);
        const entries = (name: string): [string, string][] =>
          [...(reader.root().bucket(b(name))?.entries() ?? [])].map(e => [
            e.key.toString('latin1'),
            e.value?.toString('latin1') ?? '',
          ]);
        expect(entries('members')).toEqual([
          ['1234', '{"id":4660,"peerURLs":["http://127.0.0.1:2380"],"name":"one"}'],
        ]);
        expect(entries('members_removed')).toEqual([['99', 'removed']]);
        expect(entries('cluster')).toEqual([['clusterVersion', '3.4.0']]);
        expect(entries('meta').map(([k]) => k)).toEqual([
          'consistent_index',
          'finishedCompactRev',
          'scheduledCompactRev',
        ]);
        // The store starts at revision 1: a=1 at 2 (compacted away), a=2 at 3 (kept by the
        // compaction at 3), b=3 at 4, b deleted at 5, leased/x at 6, a=3 at 7.
        const keys = [...(reader.root().bucket(b('key'))?.entries() ?? [])].map(e =>
          parseEtcdRevisionKey(e.key),
        );
        expect(keys).toEqual([
          {main: 3, sub: 0, tombstone: false},
          {main: 4, sub: 0, tombstone: false},
          {main: 5, sub: 0, tombstone: true},
          {main: 6, sub: 0, tombstone: false},
          {main: 7, sub: 0, tombstone: false},
        ]);

        const target = tmp();
        const back = KvStore.open(target);
        try {
          const result = await readEtcdSnapshot(reader, back.backend);
          expect(result).toEqual({
            revision: 7,
            revisions: 5,
            compactRevision: 3,
            leases: 1,
            users: 1,
            roles: 1,
          });
          for (const name of ['key', 'lease', 'auth', 'authUsers', 'authRoles', 'alarm'] as const) {
            expect(bucket(back.backend, name)).toEqual(bucket(kv.backend, name));
          }
          expect(back.backend.get('meta', b(SYNOD_META_SCHEDULED_COMPACT))).toEqual(
            kv.backend.get('meta', b(SYNOD_META_SCHEDULED_COMPACT)),
          );
        } finally {
          await back.close();
        }
        const reopened = KvStore.open(target);
        try {
          expect(reopened.rev()).toBe(7);
          expect(reopened.firstRev()).toBe(3);
          const got = reopened.range(b('a'), undefined);
          expect(
            got.kvs.map(k => [
              Buffer.from(k.value).toString(),
              k.createRevision,
              k.modRevision,
              k.version,
            ]),
          ).toEqual([['3', 2, 7, 3]]);
          expect(reopened.range(b('leased/x'), undefined).kvs[0]?.lease).toBe(0x694d7d2b8f2c6a05n);
        } finally {
          await reopened.close();
        }
      } finally {
        reader.close();
      }
    } finally {
      await kv.close();
    }
  });

  it.skipIf(etcdctlMissing)(
    'gives a file whose etcdctl snapshot status matches synod snapshot status',
    async () => {
      const {kv} = await sampleStore(tmp());
      const file = join(tmp(), 'etcd.db');
      try {
        await writeEtcdSnapshot(kv.backend, file);
      } finally {
        await kv.close();
      }
      const out = spawnSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], {
        encoding: 'utf8',
        env: {...process.env, ETCDCTL_API: '3'},
      });
      expect(out.status, out.stderr).toBe(0);
      const etcd = JSON.parse(out.stdout) as {
        hash: number;
        revision: number;
        totalKey: number;
        totalSize: number;
      };
      expect(await snapshotStatus(file)).toEqual(etcd);
      expect(etcd.revision).toBe(7);
    },
  );

  it('refuses a bucket etcd does not have, naming the file and the bucket', async () => {
    const file = join(tmp(), 'odd.db');
    await writeBboltFile(file, [
      {key: b('key'), bucket: []},
      {key: b('zebra'), bucket: [{key: b('k'), value: b('v')}]},
    ]);
    const reader = BboltReader.open(file);
    const kv = KvStore.open(tmp());
    try {
      await expect(readEtcdSnapshot(reader, kv.backend)).rejects.toThrow(
        `${file}: unknown bucket "zebra": an etcd 3.4 or 3.5 backend holds only alarm, auth, authRoles, authUsers, cluster, key, lease, members, members_removed, meta`,
      );
    } finally {
      reader.close();
      await kv.close();
    }
  });
});
