import {mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {
  etcdSkipReason,
  freePorts,
  runSynodCommand,
  startEtcd,
  startRestoredMember,
} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {CtlResult} from './differential/etcdctl.js';
import {etcdctlSkipReason, runCtl} from './differential/etcdctl.js';

/*
 * etcd -> snapshot -> Synod -> snapshot -> etcd, with the real etcd 3.4 at both ends.
 *
 * A real etcd gets history (overwrites, deletions, a compaction), leases with and without
 * keys, users and roles with permissions, and auth turned on; `etcdctl snapshot save` takes
 * its snapshot; `synod snapshot restore` makes a Synod data dir of it, and the Synod started
 * there must serve exactly what etcd served. Then `etcdctl snapshot save` against that
 * Synod, `etcdctl snapshot status` and `snapshot restore` on the file, and a real etcd
 * started on the restored dir must serve it all again.
 */

/** How a state is read: as root when auth is on, and which revisions to look at. */
interface ReadOptions {
  readonly auth: boolean;
  /** A revision of `k/a` that the compaction keeps. */
  readonly historyRevision: number;
  readonly compactRevision: number;
}

const asRoot = (auth: boolean): string[] => (auth ? ['--user=root:rootpw'] : []);

/** What a member serves, read through etcdctl, without the parts a new cluster changes. */
interface State {
  readonly revision: number;
  readonly kvs: unknown[];
  readonly history: unknown[];
  readonly compactedError: string;
  readonly leases: {id: string; grantedTtl: number; keys: string[]}[];
  readonly users: {name: string; roles: string[]}[];
  readonly roles: {name: string; perm: unknown[]}[];
  /** What a request without a user gets: an error while auth is on. */
  readonly anonymous: string;
}

function ok(result: CtlResult, what: string): string {
  if (result.code !== 0) throw new Error(`etcdctl ${what} failed: ${result.stderr}`);
  return result.stdout;
}

/** etcdctl's one `Error: ...` line, without the client's JSON log lines around it. */
const errorLine = (result: CtlResult): string =>
  result.stderr.split('\n').find(l => l.startsWith('Error:')) ?? result.stderr;

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map(l => l.trim())
    .filter(l => l !== '')
    .sort();

async function readState(
  at: string,
  {auth, historyRevision, compactRevision}: ReadOptions,
): Promise<State> {
  const root = asRoot(auth);
  const ctl = async (args: string[]): Promise<string> =>
    ok(await runCtl(at, [...root, ...args]), args.join(' '));
  const all = JSON.parse(await ctl(['get', '', '--from-key', '-w', 'json'])) as {
    header: {revision: number};
    kvs: unknown[];
  };
  const history = JSON.parse(
    await ctl(['get', 'k/a', `--rev=${historyRevision}`, '-w', 'json']),
  ) as {kvs: unknown[]};
  const compacted = await runCtl(at, [...root, 'get', 'k/a', `--rev=${compactRevision - 1}`]);
  const leaseIds =
    (JSON.parse(await ctl(['lease', 'list', '-w', 'json'])) as {leases?: {id: number}[]}).leases ??
    [];
  const leases = [];
  for (const hex of lines(await ctl(['lease', 'list'])).filter(l => /^[0-9a-f]+$/.test(l))) {
    const ttl = JSON.parse(await ctl(['lease', 'timetolive', hex, '--keys', '-w', 'json'])) as {
      'granted-ttl': number;
      keys?: string[];
    };
    leases.push({id: hex, grantedTtl: ttl['granted-ttl'], keys: [...(ttl.keys ?? [])].sort()});
  }
  expect(leases).toHaveLength(leaseIds.length);
  const users = [];
  for (const name of lines(await ctl(['user', 'list']))) {
    const got = JSON.parse(await ctl(['user', 'get', name, '-w', 'json'])) as {roles?: string[]};
    users.push({name, roles: [...(got.roles ?? [])].sort()});
  }
  const roles = [];
  for (const name of lines(await ctl(['role', 'list']))) {
    const got = JSON.parse(await ctl(['role', 'get', name, '-w', 'json'])) as {perm?: unknown[]};
    roles.push({name, perm: got.perm ?? []});
  }
  const anonymous = await runCtl(at, ['get', 'k/a']);
  return {
    revision: all.header.revision,
    kvs: all.kvs,
    history: history.kvs,
    compactedError: errorLine(compacted),
    leases,
    users,
    roles,
    anonymous: anonymous.code === 0 ? 'served' : errorLine(anonymous),
  };
}

async function newSpec(
  dir: string,
  name: string,
): Promise<{name: string; clientUrl: string; peerUrl: string; dataDir: string}> {
  const [client, peer] = await freePorts(2);
  return {
    name,
    clientUrl: `http://127.0.0.1:${client ?? 0}`,
    peerUrl: `http://127.0.0.1:${peer ?? 0}`,
    dataDir: join(dir, name),
  };
}

interface StatusJson {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

describe
  .skipIf(etcdSkipReason !== undefined || etcdctlSkipReason !== undefined)
  .each([{auth: true}, {auth: false}])(
  'etcd snapshots both ways: etcd -> Synod -> etcd (auth on: $auth)',
  ({auth}) => {
    let dir: string;
    let source: EtcdCluster | undefined;
    const started: EtcdMember[] = [];
    let fromEtcd: string;
    let etcdState: State;
    let read: ReadOptions;
    const root = asRoot(auth);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'synod-etcd-roundtrip-'));
      source = await startEtcd();
      const at = source.members[0]?.clientAddress ?? '';
      const ctl = async (...args: string[]): Promise<string> =>
        ok(await runCtl(at, args), args.join(' '));
      await ctl('put', 'k/a', 'first');
      const second = JSON.parse(await ctl('put', 'k/a', 'second', '-w', 'json')) as {
        header: {revision: number};
      };
      const historyRevision = second.header.revision;
      await ctl('put', 'k/b', 'b');
      await ctl('put', 'k/c', 'c');
      await ctl('del', 'k/c');
      const compactRevision = historyRevision;
      await ctl('compaction', String(compactRevision));
      read = {auth, historyRevision, compactRevision};
      await ctl('put', 'k/a', 'third');
      await ctl('put', 'k/big', 'x'.repeat(9000));
      await ctl('put', 'k/c', 'back');
      const lease = /lease ([0-9a-f]+) granted/.exec(await ctl('lease', 'grant', '600'))?.[1] ?? '';
      await ctl('put', 'session/1', 'alive', `--lease=${lease}`);
      await ctl('put', 'session/2', 'alive', `--lease=${lease}`);
      await ctl('lease', 'grant', '900');
      await ctl('role', 'add', 'root');
      await ctl('role', 'add', 'reader');
      await ctl('role', 'grant-permission', 'reader', 'read', 'k/', '--prefix');
      await ctl('role', 'add', 'writer');
      await ctl('role', 'grant-permission', 'writer', 'readwrite', 'session/', '--prefix');
      await ctl('role', 'grant-permission', 'writer', 'write', 'k/b');
      await ctl('user', 'add', 'root:rootpw');
      await ctl('user', 'grant-role', 'root', 'root');
      await ctl('user', 'add', 'alice:alicepw');
      await ctl('user', 'grant-role', 'alice', 'reader');
      await ctl('user', 'grant-role', 'alice', 'writer');
      if (auth) await ctl('auth', 'enable');
      etcdState = await readState(at, read);
      fromEtcd = join(dir, 'from-etcd.db');
      ok(
        await runCtl(at, [...root, 'snapshot', 'save', fromEtcd], {timeoutMs: 20_000}),
        'snapshot save',
      );
      await source.stop();
      source = undefined;
    }, 90_000);

    afterAll(async () => {
      for (const m of started) await m.kill('SIGKILL');
      await source?.stop();
      rmSync(dir, {recursive: true, force: true});
    });

    it('keeps history, compaction, leases and auth in what etcd served (the test reads them all)', () => {
      expect(etcdState.kvs).toHaveLength(6);
      expect(etcdState.history).toHaveLength(1);
      expect(etcdState.compactedError).toContain('required revision has been compacted');
      expect(etcdState.leases.map(l => l.keys.length).sort()).toEqual([0, 2]);
      expect(etcdState.users.map(u => u.name)).toEqual(['alice', 'root']);
      expect(etcdState.roles.map(r => r.name)).toEqual(['reader', 'root', 'writer']);
      expect(etcdState.anonymous).toMatch(auth ? /user name is empty/ : /^served$/);
    });

    let synod: EtcdMember | undefined;
    it('synod snapshot status reads the etcd file as etcdctl does, and restore serves the same data', async () => {
      const etcdStatus = JSON.parse(
        ok(
          await runCtl('127.0.0.1:1', ['snapshot', 'status', fromEtcd, '-w', 'json']),
          'snapshot status',
        ),
      ) as StatusJson;
      const synodStatus = await runSynodCommand(['snapshot', 'status', fromEtcd, '-w', 'json']);
      expect(synodStatus.code, synodStatus.stderr).toBe(0);
      expect(JSON.parse(synodStatus.stdout)).toEqual(etcdStatus);

      const spec = await newSpec(dir, 'synod0');
      const initial = {cluster: `${spec.name}=${spec.peerUrl}`, token: 'from-etcd'};
      const restore = await runSynodCommand([
        'snapshot',
        'restore',
        fromEtcd,
        `--name=${spec.name}`,
        `--data-dir=${spec.dataDir}`,
        `--initial-cluster=${initial.cluster}`,
        `--initial-cluster-token=${initial.token}`,
        `--initial-advertise-peer-urls=${spec.peerUrl}`,
      ]);
      expect(restore.code, restore.stderr).toBe(0);
      synod = await startRestoredMember('synod', spec, initial);
      started.push(synod);
      expect(await readState(synod.clientAddress, read)).toEqual(etcdState);
    }, 90_000);

    it('etcdctl snapshot save from Synod gives a file etcdctl status and restore accept, and etcd serves it', async () => {
      if (synod === undefined) throw new Error('the Synod member did not start');
      const fromSynod = join(dir, 'from-synod.db');
      ok(
        await runCtl(synod.clientAddress, [...root, 'snapshot', 'save', fromSynod], {
          timeoutMs: 20_000,
        }),
        'snapshot save from Synod',
      );
      const status = JSON.parse(
        ok(
          await runCtl('127.0.0.1:1', ['snapshot', 'status', fromSynod, '-w', 'json']),
          'snapshot status',
        ),
      ) as StatusJson;
      expect(status.revision).toBe(etcdState.revision);
      expect(status.totalSize).toBe(statSync(fromSynod).size - 32);
      const synodStatus = await runSynodCommand(['snapshot', 'status', fromSynod, '-w', 'json']);
      expect(JSON.parse(synodStatus.stdout)).toEqual(status);

      const spec = await newSpec(dir, 'etcd1');
      const initial = {cluster: `${spec.name}=${spec.peerUrl}`, token: 'from-synod'};
      ok(
        await runCtl('127.0.0.1:1', [
          'snapshot',
          'restore',
          fromSynod,
          `--name=${spec.name}`,
          `--data-dir=${spec.dataDir}`,
          `--initial-cluster=${initial.cluster}`,
          `--initial-cluster-token=${initial.token}`,
          `--initial-advertise-peer-urls=${spec.peerUrl}`,
        ]),
        'snapshot restore',
      );
      const etcd = await startRestoredMember('etcd', spec, initial);
      started.push(etcd);
      expect(await readState(etcd.clientAddress, read)).toEqual(etcdState);
    }, 90_000);
  },
);
