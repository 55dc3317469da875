import {generateKeyPairSync} from 'node:crypto';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {AuthDefinition, KVDefinition} from '@synod/proto';
import {createChannel, createClient as createGrpcClient, Metadata} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readMetric} from '@synod/testing';
import {etcdSkipReason, testServers} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {sleep} from '@synod/testing';
import {createClient} from './etcd.js';
import type {Etcd} from './etcd.js';
import {
  AuthFailedError,
  EtcdError,
  InvalidAuthTokenError,
  PermissionDeniedError,
  toEtcdError,
} from './errors.js';

/** Creates root (with the root role) and alice (read-write on app/), then enables auth. */
async function enableAuth(admin: Etcd): Promise<void> {
  await admin.auth.userAdd('root', 'root-pw');
  await admin.auth.roleAdd('root');
  await admin.auth.userGrantRole('root', 'root');
  await admin.auth.userAdd('alice', 'alice-pw');
  await admin.auth.roleAdd('app');
  await admin.auth.roleGrantPermission('app', 'readwrite', {prefix: 'app/'});
  await admin.auth.userGrantRole('alice', 'app');
  await admin.auth.enable();
}

describe.skipIf(etcdSkipReason !== undefined).each(testServers)('Auth against $name', ({start}) => {
  let cluster: EtcdCluster;
  let admin: Etcd;

  beforeAll(async () => {
    // Simple tokens that expire after 2 s idle, to see the client authenticate again.
    cluster = await start({extraArgs: ['--auth-token-ttl=2']});
    admin = createClient({endpoints: cluster.endpoints});
    await enableAuth(admin);
  });
  afterAll(async () => {
    admin.close();
    await cluster.stop();
  });

  it('authenticates, sends its token, and is held to its role', async () => {
    const alice = createClient({
      endpoints: cluster.endpoints,
      auth: {username: 'alice', password: 'alice-pw'},
    });
    try {
      await alice.kv.put('app/x', '1');
      expect(await alice.kv.getString('app/x')).toBe('1');
      await expect(alice.kv.put('other/x', '1')).rejects.toBeInstanceOf(PermissionDeniedError);
      await expect(alice.kv.get('other/x')).rejects.toBeInstanceOf(PermissionDeniedError);
      const watched = alice.watch.watch('app/w');
      await alice.kv.put('app/w', 'seen');
      const first = await watched.next();
      expect(first.done ? undefined : first.value.events[0]?.kv.valueString).toBe('seen');
      await watched.return?.();
    } finally {
      alice.close();
    }
  });

  it('rejects a wrong password with a typed error', async () => {
    const mallory = createClient({
      endpoints: cluster.endpoints,
      auth: {username: 'alice', password: 'wrong'},
    });
    try {
      const error = await mallory.kv.get('app/x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthFailedError);
      expect(error).toMatchObject({etcdName: 'authFailed', code: 3});
    } finally {
      mallory.close();
    }
  });

  it('refuses anonymous calls once auth is on, and lets root manage users', async () => {
    const anonymous = await admin.kv.get('app/x').catch((e: unknown) => e);
    expect(anonymous).toBeInstanceOf(EtcdError);
    const root = createClient({
      endpoints: cluster.endpoints,
      auth: {username: 'root', password: 'root-pw'},
    });
    try {
      expect((await root.auth.userList()).sort()).toEqual(['alice', 'root']);
      expect(await root.auth.userGet('alice')).toEqual(['app']);
      expect(await root.auth.roleList()).toContain('app');
      const perms = await root.auth.roleGet('app');
      expect(perms).toHaveLength(1);
      expect(perms[0]?.type).toBe('readwrite');
      expect(perms[0]?.key.toString()).toBe('app/');
      expect(perms[0]?.rangeEnd.toString()).toBe('app0');
    } finally {
      root.close();
    }
  });

  it('authenticates again when its token expires', async () => {
    const channel = createChannel(cluster.endpoints[0]!);
    const raw = {
      auth: createGrpcClient(AuthDefinition, channel),
      kv: createGrpcClient(KVDefinition, channel),
    };
    const alice = createClient({
      endpoints: cluster.endpoints,
      auth: {username: 'alice', password: 'alice-pw'},
    });
    try {
      const {token} = await raw.auth.authenticate({name: 'alice', password: 'alice-pw'});
      await alice.kv.put('app/t', 'before');
      await sleep(3500);
      // A token idle for longer than the TTL is gone on the server...
      const stale = await raw.kv
        .range({key: Buffer.from('app/t')}, {metadata: Metadata({token})})
        .catch((e: unknown) => toEtcdError(e));
      expect(stale).toBeInstanceOf(InvalidAuthTokenError);
      // ...and the client, idle just as long, gets a new one and carries on.
      expect(await alice.kv.getString('app/t')).toBe('before');
      await alice.kv.put('app/t', 'after');
      expect(await alice.kv.getString('app/t')).toBe('after');
    } finally {
      alice.close();
      channel.close();
    }
  });
});

describe.skipIf(etcdSkipReason !== undefined).each(testServers)(
  'Auth with expiring JWT tokens against $name',
  ({start}) => {
    let cluster: EtcdCluster;
    let keyDir: string;

    beforeAll(async () => {
      keyDir = mkdtempSync(join(tmpdir(), 'etcd-jwt-'));
      const {publicKey, privateKey} = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: {type: 'spki', format: 'pem'},
        privateKeyEncoding: {type: 'pkcs8', format: 'pem'},
      });
      writeFileSync(join(keyDir, 'pub.pem'), publicKey);
      writeFileSync(join(keyDir, 'priv.pem'), privateKey);
      const keys = `pub-key=${join(keyDir, 'pub.pem')},priv-key=${join(keyDir, 'priv.pem')}`;
      cluster = await start({extraArgs: [`--auth-token=jwt,${keys},sign-method=RS256,ttl=4s`]});
      const admin = createClient({endpoints: cluster.endpoints});
      try {
        await enableAuth(admin);
      } finally {
        admin.close();
      }
    });
    afterAll(async () => {
      await cluster.stop();
      rmSync(keyDir, {recursive: true, force: true});
    });

    it('renews its token before it expires, so no call is refused', async () => {
      const url = cluster.endpoints[0]!;
      const authentications = (): Promise<number | undefined> =>
        readMetric(url, 'grpc_server_started_total', 'grpc_method="Authenticate"');
      const refused = (): Promise<number | undefined> =>
        readMetric(url, 'grpc_server_handled_total', 'grpc_code="Unauthenticated"');
      const alice = createClient({
        endpoints: cluster.endpoints,
        auth: {username: 'alice', password: 'alice-pw'},
      });
      try {
        await alice.kv.put('app/jwt', '1');
        const authenticatedOnce = await authentications();
        // The 4 s token is renewed once less than a quarter of its life is left.
        await sleep(3300);
        expect(await alice.kv.getString('app/jwt')).toBe('1');
        await sleep(1500); // the first token has expired by now
        await alice.kv.put('app/jwt', '2');
        expect(await authentications()).toBe((authenticatedOnce ?? 0) + 1);
        // etcd pre-creates the series at 0; Synod creates it with the first such call.
        expect((await refused()) ?? 0).toBe(0);
      } finally {
        alice.close();
      }
    });
  },
);
