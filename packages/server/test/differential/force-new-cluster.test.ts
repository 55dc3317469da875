import {etcdSkipReason} from '@synod/testing';
import type {EtcdMember} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Pair, Side} from './harness.js';
import {b, okValue, same, startPair} from './harness.js';

/**
 * Recovering from a quorum lost for good, as an operator does it with etcd: of three members
 * two are gone (killed, their machines lost), the survivor refuses writes, and it is started
 * again with `--force-new-cluster`. etcd and Synod side by side: every committed key is kept,
 * the member list holds the survivor alone, writes work again, and the next ordinary restart
 * stays a cluster of one.
 */
describe.skipIf(etcdSkipReason !== undefined)('--force-new-cluster: etcd and Synod', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair({members: 3});
  });

  afterAll(async () => {
    await pair.stop();
  });

  function survivor(side: Side): EtcdMember {
    const member = side.cluster.members[0];
    if (member === undefined) throw new Error(`${side.name} has no member m0`);
    return member;
  }

  /** The member list as comparable data: names and peer ports left out, the count kept. */
  async function memberNames(side: Side): Promise<string[]> {
    const list = await side.clusterApi.memberList({});
    return list.members.map(m => m.name).sort();
  }

  const keys = (side: Side) =>
    side.kv.range({key: b('fnc/'), rangeEnd: b('fnc0')}).then(r => ({
      keys: r.kvs.map(kv => `${kv.key.toString()}=${kv.value.toString()}@v${kv.version}`),
      count: Number(r.count),
    }));

  it('keeps the data and makes the survivor a cluster of its own', async () => {
    for (const [i, key] of ['fnc/a', 'fnc/b', 'fnc/a', 'fnc/c'].entries()) {
      await same(pair, s => s.kv.put({key: b(key), value: b(`v${i}`)}), `put ${key}`);
    }
    await same(pair, s => s.kv.deleteRange({key: b('fnc/c')}), 'delete fnc/c');
    await same(pair, keys, 'keys before');

    for (const side of pair.sides) {
      const [, m1, m2] = side.cluster.members;
      await m1?.kill('SIGKILL');
      await m2?.kill('SIGKILL');
    }
    // No quorum: a write cannot commit (each server times it out or refuses it).
    const lost = await Promise.allSettled(
      pair.sides.map(s =>
        s.kv.put({key: b('fnc/lost'), value: b('x')}, {signal: AbortSignal.timeout(3000)}),
      ),
    );
    expect(lost.map(r => r.status)).toEqual(['rejected', 'rejected']);

    await Promise.all(pair.sides.map(side => survivor(side).restart(['--force-new-cluster'])));
    const [etcdNames, synodNames] = await Promise.all(pair.sides.map(memberNames));
    expect(synodNames).toEqual(etcdNames);
    expect(synodNames).toEqual(['m0']);
    await same(pair, keys, 'keys after --force-new-cluster');
    await same(pair, s => s.kv.put({key: b('fnc/after'), value: b('w')}), 'put after');

    // An ordinary restart keeps the cluster of one and every write.
    await Promise.all(pair.sides.map(side => survivor(side).restart()));
    const [etcdAgain, synodAgain] = await Promise.all(pair.sides.map(memberNames));
    expect(synodAgain).toEqual(etcdAgain);
    await same(pair, keys, 'keys after a restart');
    await same(pair, s => s.kv.put({key: b('fnc/again'), value: b('z')}), 'put after restart');
    const statuses = await Promise.all(
      pair.sides.map(async side => okValue({ok: await side.maintenance.status({})})),
    );
    expect(statuses.map(s => typeof s.leader === 'bigint' && s.leader !== 0n)).toEqual([
      true,
      true,
    ]);
  });
});
