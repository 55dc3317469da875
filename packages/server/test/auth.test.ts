import {execFile} from 'node:child_process';

import {
  AuthDefinition,
  KVDefinition,
  LeaseDefinition,
  MaintenanceDefinition,
  WatchDefinition,
} from '@synod/proto';
import type {EtcdCluster} from '@synod/testing';
import {etcdSkipReason, sleep, startSynod, waitFor} from '@synod/testing';
import {Etcd3, EtcdPermissionDeniedError} from 'etcd3';
import type {Channel} from 'nice-grpc';
import {ClientError, createChannel, createClient, Metadata, Status} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

interface CtlResult {
  readonly ok: boolean;
  readonly out: string;
}

/** Runs `etcdctl` (API v3) against one endpoint, optionally as `user:password`. */
function etcdctl(endpoint: string, args: readonly string[], user?: string): Promise<CtlResult> {
  const all = [
    `--endpoints=${endpoint}`,
    ...(user === undefined ? [] : [`--user=${user}`]),
    ...args,
  ];
  return new Promise(resolve => {
    execFile(
      'etcdctl',
      all,
      {env: {...process.env, ETCDCTL_API: '3'}, timeout: 15_000},
      (error, stdout, stderr) => {
        resolve({ok: error === null, out: `${stdout}${stderr}`});
      },
    );
  });
}

const b = (s: string) => Buffer.from(s);
const tokenMeta = (token: string) => ({metadata: Metadata({token})});

/** Raw etcd gRPC clients on one endpoint, to send a chosen token with each call. */
function rawClients(channel: Channel) {
  return {
    auth: createClient(AuthDefinition, channel),
    kv: createClient(KVDefinition, channel),
    lease: createClient(LeaseDefinition, channel),
    maintenance: createClient(MaintenanceDefinition, channel),
    watch: createClient(WatchDefinition, channel),
  };
}

async function grpcError(call: Promise<unknown>): Promise<{code: Status; details: string}> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ClientError) return {code: error.code, details: error.details};
    throw error;
  }
  throw new Error('the call succeeded');
}

/**
 * Authentication and RBAC on real `synod` processes, driven by `etcdctl` and the
 * etcd3 npm package as an operator and an application would drive etcd: users and
 * roles set up with etcdctl, prefix permissions enforced on reads, writes, txns,
 * watches, leases and admin calls, simple tokens that expire when idle and work on
 * every member, and an auth store that survives a restart of the whole cluster.
 */
describe.skipIf(etcdSkipReason !== undefined).each([1, 3])(
  'auth on a %i-member Synod cluster',
  size => {
    let cluster: EtcdCluster;
    let first: string;
    let last: string;
    const channels: Channel[] = [];
    const raw = (endpoint: string) => {
      const channel = createChannel(endpoint);
      channels.push(channel);
      return rawClients(channel);
    };

    beforeAll(async () => {
      cluster = await startSynod({
        members: size,
        extraArgs: ['--auth-token-ttl=2', '--bcrypt-cost=4'],
      });
      first = cluster.endpoints[0] ?? '';
      last = cluster.endpoints.at(-1) ?? '';
    }, 60_000);

    afterAll(async () => {
      for (const c of channels) c.close();
      await cluster.stop();
    });

    it('is set up with etcdctl and then holds each user to its roles', async () => {
      const setup: string[][] = [
        ['user', 'add', 'root:root-pw', '--interactive=false'],
        ['role', 'add', 'root'],
        ['user', 'grant-role', 'root', 'root'],
        ['user', 'add', 'alice:alice-pw', '--interactive=false'],
        ['role', 'add', 'app'],
        ['role', 'grant-permission', 'app', '--prefix=true', 'readwrite', 'app/'],
        ['role', 'add', 'config-reader'],
        ['role', 'grant-permission', 'config-reader', '--prefix=true', 'read', 'config/'],
        ['user', 'grant-role', 'alice', 'app'],
        ['user', 'grant-role', 'alice', 'config-reader'],
      ];
      for (const args of setup) expect(await etcdctl(first, args)).toMatchObject({ok: true});
      // Enabling needs root with the root role; the write before it is still anonymous.
      expect((await etcdctl(first, ['put', 'config/x', 'v1'])).ok).toBe(true);
      expect((await etcdctl(first, ['auth', 'enable'])).out).toContain('Authentication Enabled');

      const anonymous = await etcdctl(last, ['put', 'app/x', '1']);
      expect(anonymous.out).toContain('etcdserver: user name is empty');
      const alice = 'alice:alice-pw';
      expect((await etcdctl(last, ['put', 'app/x', '1'], alice)).ok).toBe(true);
      expect((await etcdctl(first, ['get', 'app/x', '--print-value-only'], alice)).out).toBe('1\n');
      expect((await etcdctl(first, ['get', 'config/x', '--print-value-only'], alice)).out).toBe(
        'v1\n',
      );
      expect((await etcdctl(first, ['put', 'config/x', 'v2'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      expect((await etcdctl(first, ['get', 'other'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      // A prefix read that leaves the granted prefix is refused as a whole.
      expect((await etcdctl(first, ['get', 'app', '--prefix'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      expect((await etcdctl(first, ['get', 'app/', '--prefix', '--keys-only'], alice)).out).toBe(
        'app/x\n\n',
      );
      expect((await etcdctl(first, ['get', 'app/x'], 'alice:wrong')).out).toContain(
        'etcdserver: authentication failed, invalid user ID or password',
      );
      expect((await etcdctl(first, ['user', 'list'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      // A user reads its own record and its own roles, not others'.
      expect((await etcdctl(first, ['user', 'get', 'alice'], alice)).out).toContain('Roles: app');
      expect((await etcdctl(first, ['role', 'get', 'root'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      expect((await etcdctl(first, ['user', 'list'], 'root:root-pw')).out).toBe('alice\nroot\n');
      expect((await etcdctl(first, ['user', 'delete', 'root'], 'root:root-pw')).out).toContain(
        'etcdserver: invalid auth management',
      );
      expect(
        (await etcdctl(first, ['user', 'revoke-role', 'alice', 'root'], 'root:root-pw')).out,
      ).toContain('etcdserver: role is not granted to the user');
      expect((await etcdctl(first, ['user', 'get', 'bob'], 'root:root-pw')).out).toContain(
        'etcdserver: user name not found',
      );
      expect((await etcdctl(first, ['role', 'get', 'nope'], 'root:root-pw')).out).toContain(
        'etcdserver: role name not found',
      );
      // As in etcd, compaction needs no permission at all.
      expect((await etcdctl(first, ['compaction', '1'], alice)).out).toContain(
        'compacted revision 1',
      );
      const watch = await etcdctl(first, ['watch', 'other'], alice);
      expect(watch.out).toContain('etcdserver: permission denied');
    }, 60_000);

    it('serves the etcd3 package: prefix RBAC on puts, gets, txns and watches', async () => {
      const alice = new Etcd3({
        hosts: [...cluster.endpoints],
        auth: {username: 'alice', password: 'alice-pw'},
      });
      try {
        await alice.put('app/etcd3').value('yes');
        expect(await alice.get('app/etcd3').string()).toBe('yes');
        await expect(alice.put('other/etcd3').value('no')).rejects.toBeInstanceOf(
          EtcdPermissionDeniedError,
        );
        // Every key of a txn counts, the compares included.
        const inside = await alice
          .if('app/etcd3', 'Value', '==', 'yes')
          .then(alice.put('app/txn').value('1'))
          .commit();
        expect(inside.succeeded).toBe(true);
        await expect(
          alice
            .if('other/etcd3', 'Version', '==', 0)
            .then(alice.put('app/txn').value('2'))
            .commit(),
        ).rejects.toBeInstanceOf(EtcdPermissionDeniedError);
        await expect(
          alice
            .if('app/etcd3', 'Value', '==', 'yes')
            .then(alice.delete().key('other/etcd3'))
            .commit(),
        ).rejects.toBeInstanceOf(EtcdPermissionDeniedError);
        const watcher = await alice.watch().prefix('app/').create();
        const seen = new Promise<string>(resolve => {
          watcher.on('put', kv => {
            resolve(kv.value.toString());
          });
        });
        await alice.put('app/watched').value('event');
        expect(await seen).toBe('event');
        await watcher.cancel();
      } finally {
        alice.close();
      }
    }, 30_000);

    it('checks leases and admin calls: revoke needs write on the keys, HashKV needs root', async () => {
      const here = raw(first);
      const {token: aliceToken} = await here.auth.authenticate({
        name: 'alice',
        password: 'alice-pw',
      });
      const {token: rootToken} = await here.auth.authenticate({name: 'root', password: 'root-pw'});
      const {ID} = await here.lease.leaseGrant({TTL: 60n}, tokenMeta(rootToken));
      await here.kv.put({key: b('other/leased'), value: b('v'), lease: ID}, tokenMeta(rootToken));
      expect(await grpcError(here.lease.leaseRevoke({ID}, tokenMeta(aliceToken)))).toEqual({
        code: Status.PERMISSION_DENIED,
        details: 'etcdserver: permission denied',
      });
      expect(
        await grpcError(here.lease.leaseTimeToLive({ID, keys: true}, tokenMeta(aliceToken))),
      ).toMatchObject({code: Status.PERMISSION_DENIED});
      // Attaching a key to a lease that holds keys one may not write is refused too.
      expect(
        await grpcError(
          here.kv.put({key: b('app/leased'), value: b('v'), lease: ID}, tokenMeta(aliceToken)),
        ),
      ).toMatchObject({code: Status.PERMISSION_DENIED});
      // etcd 3.4 returns maintenance refusals unconverted: Unknown, with the auth package's text.
      expect(
        await grpcError(here.maintenance.hashKV({revision: 0n}, tokenMeta(aliceToken))),
      ).toEqual({code: Status.UNKNOWN, details: 'auth: permission denied'});
      await here.maintenance.hashKV({revision: 0n}, tokenMeta(rootToken));
      await here.lease.leaseRevoke({ID}, tokenMeta(rootToken));
      expect(await grpcError(here.kv.range({key: b('app/x')}))).toEqual({
        code: Status.INVALID_ARGUMENT,
        details: 'etcdserver: user name is empty',
      });
    });

    it('accepts a token on another member than the one that issued it', async () => {
      const issuer = raw(first);
      const other = raw(last);
      const {token} = await issuer.auth.authenticate({name: 'alice', password: 'alice-pw'});
      expect(token).toMatch(/^[a-zA-Z]{16}\.\d+$/);
      await other.kv.put({key: b('app/elsewhere'), value: b('1')}, tokenMeta(token));
      const got = await other.kv.range({key: b('app/elsewhere')}, tokenMeta(token));
      expect(got.kvs[0]?.value.toString()).toBe('1');
      expect(await grpcError(other.kv.range({key: b('app/x')}, tokenMeta('forged.1')))).toEqual({
        code: Status.UNAUTHENTICATED,
        details: 'etcdserver: invalid auth token',
      });
    });

    it('ends every token of a user whose password changes, on every member', async () => {
      const issuer = raw(first);
      const other = raw(last);
      const {token} = await issuer.auth.authenticate({name: 'alice', password: 'alice-pw'});
      const {token: rootToken} = await issuer.auth.authenticate({
        name: 'root',
        password: 'root-pw',
      });
      await other.kv.range({key: b('app/x')}, tokenMeta(token));
      await issuer.auth.userChangePassword(
        {name: 'alice', password: 'new-pw'},
        tokenMeta(rootToken),
      );
      // `other` may still be applying the change: a request racing it gets etcd's "revision of
      // auth store is old", which clients retry. Once applied, the old token is gone.
      await waitFor(
        async () =>
          (await grpcError(other.kv.range({key: b('app/x')}, tokenMeta(token)))).details !==
          'etcdserver: revision of auth store is old',
        5_000,
        'the password change applied on the other member',
      );
      expect(await grpcError(other.kv.range({key: b('app/x')}, tokenMeta(token)))).toEqual({
        code: Status.UNAUTHENTICATED,
        details: 'etcdserver: invalid auth token',
      });
      expect(
        await grpcError(other.auth.authenticate({name: 'alice', password: 'alice-pw'})),
      ).toEqual({
        code: Status.INVALID_ARGUMENT,
        details: 'etcdserver: authentication failed, invalid user ID or password',
      });
      const {token: fresh} = await other.auth.authenticate({name: 'alice', password: 'new-pw'});
      await other.kv.range({key: b('app/x')}, tokenMeta(fresh));
      await issuer.auth.userChangePassword(
        {name: 'alice', password: 'alice-pw'},
        tokenMeta(rootToken),
      );
    });

    it('expires a token left idle for --auth-token-ttl, and keeps one in use', async () => {
      const member = raw(last);
      const {token} = await member.auth.authenticate({name: 'alice', password: 'alice-pw'});
      // Each use restarts the 2 s TTL.
      for (let i = 0; i < 3; i++) {
        await sleep(1200);
        await member.kv.range({key: b('app/x')}, tokenMeta(token));
      }
      await sleep(3000);
      expect(await grpcError(member.kv.range({key: b('app/x')}, tokenMeta(token)))).toEqual({
        code: Status.UNAUTHENTICATED,
        details: 'etcdserver: invalid auth token',
      });
    }, 20_000);

    it('keeps users, roles, permissions and the enabled flag over a restart', async () => {
      await Promise.all(cluster.members.map(m => m.kill('SIGKILL')));
      await Promise.all(cluster.members.map(m => m.restart()));
      const alice = 'alice:alice-pw';
      expect((await etcdctl(last, ['get', 'app/x', '--print-value-only'], alice)).out).toBe('1\n');
      expect((await etcdctl(last, ['put', 'other/x', '1'], alice)).out).toContain(
        'etcdserver: permission denied',
      );
      expect((await etcdctl(last, ['put', 'app/x', '1'])).out).toContain(
        'etcdserver: user name is empty',
      );
      expect((await etcdctl(first, ['role', 'get', 'app'], 'root:root-pw')).out).toContain(
        '[app/, app0) (prefix app/)',
      );
      expect((await etcdctl(first, ['auth', 'disable'], 'root:root-pw')).out).toContain(
        'Authentication Disabled',
      );
      expect((await etcdctl(last, ['get', 'other/x'])).ok).toBe(true);
    }, 60_000);
  },
);
