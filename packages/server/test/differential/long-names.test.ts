import {Permission_Type} from '@synod/proto';
import {etcdSkipReason, startSynod} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdctlSkipReason, runCtl} from './etcdctl.js';
import type {Pair, Side} from './harness.js';
import {same, startPair} from './harness.js';

/**
 * Every place where a client's bytes become a backend key or a bounded record: user and
 * role names, permission keys and range ends, passwords. A 4,000-byte role name used to be
 * acknowledged and then stop every member for good (LMDB keys hold at most 1,978 bytes),
 * and again at every restart. Each field is tried at 0, 1, 1,978 and 1,979 bytes against
 * etcd and Synod side by side, and at 64 KiB and near the request size limit against Synod
 * alone: etcd itself crashes on names over bbolt's 32 KiB key limit.
 */
const comparedSizes = [0, 1, 1978, 1979] as const;
/** etcd's default --max-request-bytes is 1.5 MiB; a name this long still fits a request. */
const nearLimitBytes = 1.5 * 1024 * 1024 - 1024;

const roleName = (n: number): string => 'r'.repeat(n);
const userName = (n: number): string => 'u'.repeat(n);

/** The lengths of the fields one run of {@link authSteps} uses, and a tag keeping names apart. */
interface Sizes {
  readonly user: number;
  readonly role: number;
  readonly key: number;
  readonly tag?: string;
}

const uniform = (n: number): Sizes => ({user: n, role: n, key: n});

/** The auth calls one set of sizes is put through, in order; each returns what it answered. */
function authSteps(sizes: Sizes): [string, (s: Side) => Promise<unknown>][] {
  const tag = sizes.tag ?? '';
  const role = tag + roleName(sizes.role);
  const user = tag + userName(sizes.user);
  const key = Buffer.alloc(sizes.key, 0x6b);
  const rangeEnd = Buffer.concat([key, Buffer.from('z')]);
  const n = `${sizes.user}/${sizes.role}/${sizes.key}`;
  return [
    [`role add (${n})`, s => s.auth.roleAdd({name: role})],
    [`user add (${n})`, s => s.auth.userAdd({name: user, password: 'pw'})],
    [`grant role (${n})`, s => s.auth.userGrantRole({user, role})],
    [
      `grant permission (${n})`,
      s =>
        s.auth.roleGrantPermission({
          name: role,
          perm: {permType: Permission_Type.READWRITE, key, rangeEnd},
        }),
    ],
    [`role get (${n})`, s => s.auth.roleGet({role})],
    [`user get (${n})`, s => s.auth.userGet({name: user})],
    [
      `change password (${n})`,
      s => s.auth.userChangePassword({name: user, password: 'p'.repeat(sizes.key)}),
    ],
    [`revoke permission (${n})`, s => s.auth.roleRevokePermission({role, key, rangeEnd})],
    [`revoke role (${n})`, s => s.auth.userRevokeRole({name: user, role})],
    [`user delete (${n})`, s => s.auth.userDelete({name: user})],
    [`role delete (${n})`, s => s.auth.roleDelete({role})],
  ];
}

/**
 * Synod alone: each field at 64 KiB, then each alone near the request size limit (a
 * request holding two such fields would pass it). The deletes run after a restart.
 */
const synodOnly: readonly Sizes[] = [
  uniform(64 * 1024),
  {user: nearLimitBytes, role: 1, key: 1, tag: 'a'},
  {user: 1, role: nearLimitBytes, key: 1, tag: 'b'},
  {user: 1, role: 1, key: nearLimitBytes / 2 - 64, tag: 'c'},
];

describe.skipIf(etcdSkipReason !== undefined)(
  'long user and role names, etcd and Synod side by side',
  () => {
    let pair: Pair;

    beforeAll(async () => {
      pair = await startPair();
    });

    afterAll(async () => {
      await pair.stop();
    });

    it.each(comparedSizes)('answers every auth call with %i-byte names as etcd does', async n => {
      for (const [label, step] of authSteps(uniform(n)).slice(0, -2)) {
        await same(pair, step, label);
      }
      await same(pair, s => s.auth.roleList({}), `role list after ${n}`);
      await same(pair, s => s.auth.userList({}), `user list after ${n}`);
    });

    it('keeps every name across a restart, and deletes them again', async () => {
      const member = pair.synod.cluster.members[0];
      if (member === undefined) throw new Error('no Synod member');
      await member.kill('SIGKILL');
      await member.restart();
      await same(pair, s => s.auth.roleList({}), 'role list after restart');
      await same(pair, s => s.auth.userList({}), 'user list after restart');
      for (const n of comparedSizes) {
        await same(pair, s => s.auth.userDelete({name: userName(n)}), `user delete (${n})`);
        await same(pair, s => s.auth.roleDelete({role: roleName(n)}), `role delete (${n})`);
      }
      await same(pair, s => s.auth.roleList({}), 'role list after deletes');
    });

    // One restart for every size: a restart is most of what such a case costs.
    it('stores names and keys of every size in synodOnly, which etcd cannot, across a restart', async () => {
      const synod = pair.synod;
      const cases = synodOnly.map(sizes => ({
        sizes,
        steps: authSteps(sizes),
        user: (sizes.tag ?? '') + userName(sizes.user),
        role: (sizes.tag ?? '') + roleName(sizes.role),
      }));
      for (const {sizes, steps, user, role} of cases) {
        for (const [label, step] of steps.slice(0, -2)) {
          await expect(step(synod), `${label} at ${JSON.stringify(sizes)}`).resolves.toBeDefined();
        }
        await synod.auth.userGrantRole({user, role});
      }
      const member = synod.cluster.members[0];
      if (member === undefined) throw new Error('no Synod member');
      await member.kill('SIGKILL');
      await member.restart();
      for (const {sizes, steps, user, role} of cases) {
        expect((await synod.auth.userGet({name: user})).roles, JSON.stringify(sizes)).toEqual([
          role,
        ]);
        for (const [label, step] of steps.slice(-2)) {
          await expect(step(synod), `${label} at ${JSON.stringify(sizes)}`).resolves.toBeDefined();
        }
      }
      expect((await synod.auth.roleList({})).roles).toEqual([]);
    }, 90_000);

    it("refuses a name past the request size limit with etcd's error, before proposing it", async () => {
      await same(
        pair,
        s => s.auth.roleAdd({name: roleName(1.5 * 1024 * 1024 + 1)}),
        'role add past the limit',
      );
      // etcd 3.4 sends auth reads through Raft too, under the same limit.
      const name = roleName(1.5 * 1024 * 1024 + 1);
      await same(pair, s => s.auth.roleGet({role: name}), 'role get past the limit');
      await same(pair, s => s.auth.userGet({name}), 'user get past the limit');
    });
  },
);

describe.skipIf(etcdctlSkipReason !== undefined)('a 4,000-byte role name on three members', () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = await startSynod({members: 3});
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('is stored by every member, survives a restart of all of them, and the cluster still writes', async () => {
    const endpoints = cluster.endpoints.join(',');
    const role = roleName(4000);
    const user = userName(2500);
    const ctl = async (...args: string[]) => {
      const r = await runCtl(endpoints, args, {timeoutMs: 15_000});
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout;
    };
    expect(await ctl('role', 'add', role)).toBe(`Role ${role} created\n`);
    expect(await ctl('user', 'add', `${user}:pw`)).toBe(`User ${user} created\n`);
    await ctl('user', 'grant-role', user, role);
    await ctl('put', 'after', 'long names');
    for (const m of cluster.members) await m.kill('SIGKILL');
    await Promise.all(cluster.members.map(m => m.restart()));
    for (const m of cluster.members) {
      const r = await runCtl(m.clientAddress, ['role', 'list'], {timeoutMs: 15_000});
      expect(r.stdout.split('\n')).toContain(role);
    }
    expect(await ctl('user', 'get', user)).toBe(`User: ${user}\nRoles: ${role}\n`);
    await ctl('put', 'after', 'restart');
    expect(await ctl('get', 'after', '--print-value-only')).toBe('restart\n');
    expect(cluster.pids).toHaveLength(3);
  }, 90_000);
});
