import {createHash} from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {
  CreateMode,
  openAcl,
  runSynodCommand,
  startZooKeeper,
  ZooKeeperClient,
  zkListing,
  zookeeperSkipReason,
} from '@synod/testing';
import type {Acl, EtcdMember, SynodCommandResult, ZooKeeperEnsemble} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {importZooKeeper} from '../src/zk-import/import-zookeeper.js';
import {planImportedMember, startImportedMember} from './support/imported-member.js';

/**
 * `synod zk import` against the real ZooKeeper 3.8: ZooKeeper runs a scripted workload with a
 * snapCount so low that it writes several (fuzzy) snapshots and logs, is killed while a session
 * still holds ephemerals, and its data dir is copied and imported. The listing of every node
 * (path, data, ACL, version, cversion, aversion, children, times, zxid order) that Synod then
 * serves must equal what ZooKeeper serves when restarted on its own files, once the dead
 * session has expired there too. The steps are those of the migration procedure in
 * docs/zookeeper.md. Corrupt copies of the same files must be refused with file and offset.
 */

const digest = (userColonPassword: string): string =>
  `${userColonPassword.split(':')[0] ?? ''}:${createHash('sha1').update(userColonPassword).digest('base64')}`;
const SUPER = 'super:secret';
const ALICE: Acl = {perms: 31, scheme: 'digest', id: digest('alice:pw')};
const READ_ONLY: Acl = {perms: 1, scheme: 'world', id: 'anyone'};
const LOCAL_ONLY: Acl = {perms: 31, scheme: 'ip', id: '127.0.0.1'};

/** ZooKeeper file names, newest first: `snapshot.<zxid in hex>`. */
function byZxidDescending(a: string, b: string): number {
  return Number.parseInt(b.split('.')[1] ?? '', 16) - Number.parseInt(a.split('.')[1] ?? '', 16);
}

function ok<T>(reply: {kind: string; err?: number; value?: T}, what: string): T | undefined {
  if (reply.kind !== 'reply' || reply.err !== 0) {
    throw new Error(`${what}: ${reply.kind} ${reply.err ?? ''}`);
  }
  return reply.value;
}

/**
 * Every kind of transaction ZooKeeper logs: creates of all modes (sequential numbering with
 * deletes in between), setData (null data too), setACL with digest/world/ip ACLs, deletes,
 * multis that succeed and fail, error txns (a setACL refused), sessions closed and one left
 * open with ephemerals. Returns the client whose session must die with the server.
 */
async function runWorkload(host: string, port: number): Promise<ZooKeeperClient> {
  const c1 = await ZooKeeperClient.connect({host, port});
  ok(await c1.auth('digest', 'alice:pw'), 'addauth');
  ok(await c1.create('/app', 'app-data'), 'create /app');
  ok(await c1.create('/app/config', 'cfg', CreateMode.persistent, [ALICE]), 'create config');
  ok(await c1.create('/app/config/child', 'c'), 'create config child');
  ok(await c1.create('/public', 'p', CreateMode.persistent, [READ_ONLY]), 'create /public');
  ok(await c1.create('/local', '', CreateMode.persistent, [LOCAL_ONLY]), 'create /local');
  ok(await c1.create('/mixed', 'm', CreateMode.persistent, [ALICE, READ_ONLY]), 'create /mixed');
  for (let i = 0; i < 6; i++) {
    ok(await c1.create('/app/seq-', `s${i}`, CreateMode.persistentSequential), 'seq');
  }
  ok(await c1.delete('/app/seq-0000000001'), 'delete seq 1');
  ok(await c1.delete('/app/seq-0000000003'), 'delete seq 3');
  ok(await c1.create('/app/seq-', 'after', CreateMode.persistentSequential), 'seq');
  for (const v of ['v1', 'v2', 'v3']) ok(await c1.setData('/app', v), 'setData /app');
  ok(await c1.setData('/app/config', null), 'setData null');
  ok(await c1.setACL('/app', openAcl, 0), 'setACL /app');
  // Refused (no ADMIN on a read-only node): ZooKeeper logs an error transaction.
  expect((await c1.setACL('/public', openAcl)).kind).toBe('reply');
  ok(await c1.setACL('/mixed', [ALICE], 0), 'setACL /mixed');
  ok(await c1.setACL('/mixed', [ALICE, LOCAL_ONLY], 1), 'setACL /mixed again');
  ok(await c1.createContainer('/box'), 'container /box');
  ok(await c1.create('/box/item', 'i'), 'create /box/item');
  ok(await c1.createContainer('/box2'), 'container /box2');
  ok(await c1.createTTL('/ttl', 't', CreateMode.persistentWithTtl, 3_600_000n), 'ttl');
  ok(
    await c1.createTTL('/ttlseq-', 't', CreateMode.persistentSequentialWithTtl, 7_200_000n),
    'ttlseq',
  );
  ok(await c1.create('/m', ''), 'create /m');
  ok(
    await c1.multi([
      {op: 'create', path: '/m/a', data: 'a'},
      {op: 'create', path: '/m/b', data: 'b'},
      {op: 'setData', path: '/m', data: 'x'},
      {op: 'delete', path: '/m/b'},
      {op: 'create', path: '/m/s-', data: 's', mode: CreateMode.persistentSequential},
    ]),
    'multi',
  );
  const failed = await c1.multi([
    {op: 'create', path: '/m/c', data: 'c'},
    {op: 'delete', path: '/m/missing'},
  ]);
  expect(failed.kind === 'reply' && failed.value?.map(r => r.err)).toEqual([0, -101]);
  // Enough transactions for several snapshots, taken while writes go on.
  ok(await c1.create('/bulk', ''), 'create /bulk');
  for (let i = 0; i < 150; i++) {
    const path = `/bulk/n${String(i).padStart(4, '0')}`;
    ok(await c1.create(path, `bulk-data-${String(i).padStart(4, '0')}`), path);
    if (i % 3 === 0) ok(await c1.delete(path), `delete ${path}`);
    else if (i % 5 === 0) ok(await c1.setData(path, `changed-${i}`), `set ${path}`);
  }
  const closed = await ZooKeeperClient.connect({host, port});
  ok(await closed.create('/gone', 'g', CreateMode.ephemeral), 'ephemeral /gone');
  ok(await closed.create('/app/gone-', 'g', CreateMode.ephemeralSequential), 'eph seq');
  await closed.close();
  const dying = await ZooKeeperClient.connect({host, port, sessionTimeoutMs: 4000});
  ok(await dying.create('/eph', 'e', CreateMode.ephemeral), 'ephemeral /eph');
  ok(await dying.create('/app/eph-', 'e', CreateMode.ephemeralSequential), 'eph seq');
  ok(await dying.create('/box2/e', 'e', CreateMode.ephemeral), 'ephemeral in container');
  ok(await c1.create('/app/seq-', 'last', CreateMode.persistentSequential), 'seq last');
  await c1.close();
  return dying;
}

describe.skipIf(zookeeperSkipReason !== undefined)(
  'synod zk import of a real ZooKeeper 3.8 data dir',
  () => {
    let zk: ZooKeeperEnsemble;
    let synod: EtcdMember | undefined;
    let work: string;
    let copied: string;
    let synodZkPort: number;
    let refused: SynodCommandResult;
    let cliRefusedDir: string;
    const superDigest = digest(SUPER);

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'synod-zk-import-'));
      cliRefusedDir = join(work, 'cli-out', 'x.synod');
      zk = await startZooKeeper({
        superDigest,
        // A snapshot every 10 to 20 transactions; small preallocated logs.
        extraConfig: ['snapCount=20', 'preAllocSize=64'],
      });
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      const dying = await runWorkload(server.host, server.clientPort);
      // The migration: stop ZooKeeper (here with a session still open), copy its data dir.
      await zk.halt();
      dying.disconnect();
      copied = join(work, 'zookeeper-copy');
      cpSync(join(server.dir, 'data'), copied, {recursive: true});

      const plan = await planImportedMember(work, 'imported', 'zk-import');
      const {spec, cluster} = plan;
      synodZkPort = plan.zkPort;
      // A copy with a cut snapshot, imported on the command line alongside the good one.
      const cut = join(work, 'cli-bad');
      cpSync(copied, cut, {recursive: true});
      const snapshots = readdirSync(join(cut, 'version-2')).filter(f => f.startsWith('snapshot.'));
      const newestSnapshot = join(cut, 'version-2', snapshots.sort(byZxidDescending)[0] ?? '');
      writeFileSync(newestSnapshot, readFileSync(newestSnapshot).subarray(0, 40));
      const refusedRun = runSynodCommand(['zk', 'import', cut, '--data-dir', cliRefusedDir]);
      const imported = await runSynodCommand([
        'zk',
        'import',
        copied,
        '--data-dir',
        spec.dataDir,
        '--name',
        spec.name,
        '--initial-cluster',
        cluster.cluster,
        '--initial-cluster-token',
        cluster.token,
        '--initial-advertise-peer-urls',
        spec.peerUrl,
      ]);
      expect(imported.stderr).toBe('');
      expect(imported.code).toBe(0);
      expect(imported.stdout).toMatch(/^imported \d+ znodes into /);
      expect(imported.stdout).toMatch(
        /1 session\(s\) ended: 3 ephemeral\(s\) and 1 empty container/,
      );
      refused = await refusedRun;
      const synodStarted = startImportedMember(plan, superDigest);
      await zk.resume();
      synod = await synodStarted;
    }, 120_000);

    afterAll(async () => {
      await synod?.kill('SIGKILL');
      await zk.stop();
      rmSync(work, {recursive: true, force: true});
    });

    it('serves the same tree as ZooKeeper restarted on its files, once the dead session expired', async () => {
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      const auth = [`digest:${SUPER}`];
      const fromSynod = await zkListing({host: '127.0.0.1', port: synodZkPort, auth});
      // ZooKeeper expires the session 4 s after its restart, then removes the emptied container.
      let fromZooKeeper: string[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        fromZooKeeper = await zkListing({host: server.host, port: server.clientPort, auth});
        if (fromZooKeeper.join('\n') === fromSynod.join('\n')) break;
        await new Promise(resolve => setTimeout(resolve, 250));
      }
      expect(fromSynod.join('\n')).toBe(fromZooKeeper.join('\n'));
      // The workload's shapes are all there.
      expect(fromSynod.length).toBeGreaterThan(100);
      expect(fromSynod.some(l => l.startsWith('/app/seq-0000000007 '))).toBe(true);
      expect(fromSynod.some(l => l.startsWith('/eph ') || l.startsWith('/box2 '))).toBe(false);
    });

    it('names the next sequential child as ZooKeeper does, after every zxid imported', async () => {
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      const names: string[] = [];
      for (const [host, port] of [
        [server.host, server.clientPort],
        ['127.0.0.1', synodZkPort],
      ] as const) {
        const c = await ZooKeeperClient.connect({host, port});
        const made = ok(
          await c.create2('/app/seq-', 'next', CreateMode.persistentSequential),
          'seq',
        );
        const root = ok(await c.exists('/app'), 'exists /app');
        await c.close();
        names.push(made?.path ?? '');
        // Its czxid is the newest zxid the server shows.
        expect(made?.stat.czxid).toBe(root?.stat.pzxid);
      }
      expect(names[1]).toBe(names[0]);
    });

    it('enforces the imported ACLs and container rules as ZooKeeper does on its own tree', async () => {
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      const outcomes: string[][] = [];
      for (const [host, port] of [
        [server.host, server.clientPort],
        ['127.0.0.1', synodZkPort],
      ] as const) {
        const c = await ZooKeeperClient.connect({host, port});
        const code = (r: {kind: string; err?: number}): string =>
          r.kind === 'reply' ? String(r.err) : r.kind;
        const steps = [
          // The digest ACL keeps an anonymous client out and lets alice in.
          code(await c.setData('/app/config', 'anonymous')),
          code(await c.getData('/app/config')),
          code(await c.create('/public/child', 'x')),
          code(await c.auth('digest', 'alice:pw')),
          code(await c.setData('/app/config', 'by-alice', 1)),
          code(await c.setACL('/mixed', [ALICE], 2)),
          // The container loses its last child and goes.
          code(await c.delete('/box/item')),
          code(await c.setData('/ttl', 'still-here', 0)),
        ];
        await c.close();
        outcomes.push(steps);
      }
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(outcomes[0]).toEqual(['-102', '-102', '-102', '0', '0', '0', '0', '0']);
      // Writes made after the import carry each server's own clock, and each server's
      // container sweep removes the emptied container on its own schedule, so times and
      // zxids are left out here; everything else must match.
      const auth = [`digest:${SUPER}`];
      const timeless = (lines: string[]): string =>
        lines.map(l => l.replace(/ ctime=.*$/, '')).join('\n');
      let fromSynod = await zkListing({host: '127.0.0.1', port: synodZkPort, auth});
      const swept = Date.now() + 10_000;
      while (fromSynod.some(l => l.startsWith('/box ')) && Date.now() < swept) {
        await new Promise(resolve => setTimeout(resolve, 100));
        fromSynod = await zkListing({host: '127.0.0.1', port: synodZkPort, auth});
      }
      expect(fromSynod.some(l => l.startsWith('/box '))).toBe(false);
      let fromZooKeeper: string[] = [];
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        fromZooKeeper = await zkListing({host: server.host, port: server.clientPort, auth});
        if (timeless(fromZooKeeper) === timeless(fromSynod)) break;
        await new Promise(resolve => setTimeout(resolve, 250));
      }
      expect(timeless(fromSynod)).toBe(timeless(fromZooKeeper));
    });

    describe('refuses bad files with the file and offset, creating nothing', () => {
      const cluster = (): {
        name: string;
        initialCluster: Map<string, URL[]>;
        initialClusterToken: string;
      } => ({
        name: 'm',
        initialCluster: new Map([['m', [new URL('http://127.0.0.1:2380')]]]),
        initialClusterToken: 't',
      });
      const variant = (name: string, change: (versionDir: string) => void): string => {
        const dir = join(work, name);
        cpSync(copied, dir, {recursive: true});
        change(join(dir, 'version-2'));
        return dir;
      };
      const newest = (dir: string, prefix: string): string =>
        join(
          dir,
          readdirSync(dir)
            .filter(f => f.startsWith(`${prefix}.`))
            .sort(byZxidDescending)[0] ?? '',
        );
      const refuse = async (zkDataDir: string, message: RegExp): Promise<void> => {
        const dataDir = join(work, `out-${Math.random().toString(36).slice(2)}`, 'member.synod');
        await expect(importZooKeeper({...cluster(), zkDataDir, dataDir})).rejects.toThrow(message);
        expect(existsSync(dataDir)).toBe(false);
        const parent = join(dataDir, '..');
        if (existsSync(parent)) expect(readdirSync(parent)).toEqual([]);
      };

      it('a truncated snapshot', async () => {
        let file = '';
        const dir = variant('truncated', v => {
          file = newest(v, 'snapshot');
          const bytes = readFileSync(file);
          writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
        });
        await refuse(dir, new RegExp(`^${file.replace(/[.]/g, '\\.')}: offset \\d+: .*cut short`));
      });

      it('a snapshot whose Adler-32 does not match', async () => {
        const dir = variant('bad-snapshot-checksum', v => {
          const file = newest(v, 'snapshot');
          const bytes = readFileSync(file);
          const at = bytes.indexOf('bulk-data-0002');
          expect(at).toBeGreaterThan(0);
          bytes[at] = 'B'.charCodeAt(0);
          writeFileSync(file, bytes);
        });
        await refuse(dir, /snapshot\.[0-9a-f]+: offset \d+: Adler-32 checksum mismatch/);
      });

      it('a log record whose checksum does not match', async () => {
        const dir = variant('bad-log-checksum', v => {
          const file = newest(v, 'log');
          const bytes = readFileSync(file);
          // The last record's 'B' is the last byte before the zero preallocation.
          let end = bytes.length - 1;
          while (end > 0 && bytes[end] === 0) end--;
          bytes[end - 3] = (bytes[end - 3] ?? 0) ^ 0x01;
          writeFileSync(file, bytes);
        });
        await refuse(dir, /log\.[0-9a-f]+: offset \d+: record checksum mismatch/);
      });

      it('garbage after the last log record', async () => {
        let file = '';
        let at = 0;
        const dir = variant('garbage-tail', v => {
          file = newest(v, 'log');
          const bytes = readFileSync(file);
          at = bytes.length - 1;
          while (at > 0 && bytes[at] === 0) at--;
          at++;
          bytes.write('this is not a ZooKeeper record', at);
          writeFileSync(file, bytes);
        });
        await refuse(dir, new RegExp(`^${file.replace(/[.]/g, '\\.')}: offset ${at}: `));
      });

      it('an empty directory, and one with an empty version-2', async () => {
        const empty = join(work, 'empty');
        mkdirSync(empty);
        await refuse(empty, /not a ZooKeeper data directory/);
        mkdirSync(join(empty, 'version-2'));
        await refuse(empty, /nothing to import/);
      });

      it('on the command line: one line on stderr, exit code 1', () => {
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^Error: \S+snapshot\.[0-9a-f]+: offset \d+: [^\n]+\n$/);
        expect(existsSync(cliRefusedDir)).toBe(false);
      });
    });
  },
);
