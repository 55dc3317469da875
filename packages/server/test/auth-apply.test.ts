import {AuthDefinition, EtcdErrors, KVDefinition, Permission_Type, PutRequest} from '@synod/proto';
import type {Channel} from 'nice-grpc';
import {ClientError, createChannel, createClient, Metadata, Status} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {InProcessCluster} from './support/in-process-cluster.js';
import {loggedMessages, startInProcessCluster} from './support/in-process-cluster.js';

const b = (s: string) => Buffer.from(s);
const as = (token: string) => ({metadata: Metadata({token})});

async function grpcError(call: Promise<unknown>): Promise<{code: Status; details: string}> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ClientError) return {code: error.code, details: error.details};
    throw error;
  }
  throw new Error('the call succeeded');
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(r => setTimeout(r, 20));
  }
}

/**
 * The auth store on the apply path of an in-process cluster: a write is checked
 * when it is applied, against the auth revision its token was checked at, and a
 * member that catches up from a snapshot enforces the users and roles it holds.
 */
describe('auth checked at apply time, across snapshots', () => {
  let cluster: InProcessCluster;
  const channels: Channel[] = [];
  const clientsOf = (i: number) => {
    const channel = createChannel(cluster.endpoints[i] ?? '');
    channels.push(channel);
    return {auth: createClient(AuthDefinition, channel), kv: createClient(KVDefinition, channel)};
  };

  beforeAll(async () => {
    cluster = await startInProcessCluster(3, {
      snapshotCount: 20,
      snapshotCatchUpEntries: 5,
      bcryptCost: 4,
    });
    await cluster.leader();
    // The third member misses everything below and must catch up from a snapshot.
    await cluster.stop(2);
    const {auth} = clientsOf(0);
    await auth.userAdd({name: 'root', password: 'root-pw'});
    await auth.roleAdd({name: 'root'});
    await auth.userGrantRole({user: 'root', role: 'root'});
    await auth.userAdd({name: 'alice', password: 'alice-pw'});
    await auth.roleAdd({name: 'app'});
    await auth.roleGrantPermission({
      name: 'app',
      perm: {permType: Permission_Type.READWRITE, key: b('app/'), rangeEnd: b('app0')},
    });
    await auth.userGrantRole({user: 'alice', role: 'app'});
    await auth.authEnable({});
  }, 30_000);

  afterAll(async () => {
    for (const c of channels) c.close();
    await cluster.close();
  });

  it('refuses a write checked at an auth revision older than the store at apply', async () => {
    const member = cluster.members[0];
    if (member === undefined) throw new Error('member 0 is down');
    const {auth} = clientsOf(0);
    const checkedAt = member.core.auth.revision;
    const {token: rootToken} = await auth.authenticate({name: 'root', password: 'root-pw'});
    await auth.roleAdd({name: 'later'}, as(rootToken));
    expect(member.core.auth.revision).toBe(checkedAt + 1n);

    const put = PutRequest.fromPartial({key: b('app/stale'), value: b('1')});
    const stale = await member.core.propose(
      {$case: 'put', value: put},
      {username: 'alice', authRevision: checkedAt},
    );
    expect(stale).toEqual({ok: false, error: EtcdErrors.authOldRevision});
    const fresh = await member.core.propose(
      {$case: 'put', value: put},
      {username: 'alice', authRevision: member.core.auth.revision},
    );
    expect(fresh.ok).toBe(true);
    const anonymous = await member.core.propose({$case: 'put', value: put});
    expect(anonymous).toEqual({ok: false, error: EtcdErrors.userEmpty});
  });

  it('enforces the auth store a lagging member receives in a snapshot', async () => {
    const {kv, auth} = clientsOf(0);
    const {token} = await auth.authenticate({name: 'root', password: 'root-pw'});
    // Enough entries for a snapshot and a log compaction past what member 2 has.
    for (let i = 0; i < 40; i++) {
      await kv.put({key: b(`app/fill-${i}`), value: b('x')}, as(token));
    }
    const installsBefore = loggedMessages.filter(m => m === 'installed a snapshot from the leader');
    await cluster.restart(2);
    const leader = await cluster.leader();
    const lagging = cluster.members[2];
    if (lagging === undefined) throw new Error('member 2 did not restart');
    await waitUntil(() => lagging.core.appliedIndex >= leader.core.appliedIndex, 10_000);
    const installs = loggedMessages.filter(m => m === 'installed a snapshot from the leader');
    expect(installs.length).toBeGreaterThan(installsBefore.length);
    expect(lagging.core.auth.isEnabled).toBe(true);

    const there = clientsOf(2);
    const {token: aliceToken} = await there.auth.authenticate({
      name: 'alice',
      password: 'alice-pw',
    });
    await there.kv.put({key: b('app/after-snapshot'), value: b('1')}, as(aliceToken));
    expect(
      await grpcError(
        there.kv.put({key: b('other/after-snapshot'), value: b('1')}, as(aliceToken)),
      ),
    ).toEqual({code: Status.PERMISSION_DENIED, details: 'etcdserver: permission denied'});
    expect(await grpcError(there.kv.range({key: b('app/after-snapshot')}))).toEqual({
      code: Status.INVALID_ARGUMENT,
      details: 'etcdserver: user name is empty',
    });
  }, 30_000);
});
