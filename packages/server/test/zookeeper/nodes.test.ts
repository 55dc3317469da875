import {CreateMode, TEST_CONTAINER_CHECK_INTERVAL_MS, zookeeperSkipReason} from '@synod/testing';
import {describe, expect} from 'vitest';

import {scenario, useServers} from './harness.js';

describe.skipIf(zookeeperSkipReason !== undefined)(
  'ZooKeeper nodes: Synod against ZooKeeper 3.8',
  () => {
    const servers = useServers();

    scenario(
      servers,
      'create in every persistent and ephemeral mode, with create and create2',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), 'root');
        await a.create(s.path('/p'), 'persistent', CreateMode.persistent);
        await a.create2(s.path('/p2'), 'persistent with stat', CreateMode.persistent);
        await a.create2(s.path('/e'), 'ephemeral', CreateMode.ephemeral);
        await a.create2(s.path('/s-'), 'sequential', CreateMode.persistentSequential);
        await a.create2(s.path('/es-'), null, CreateMode.ephemeralSequential);
        await a.create(s.path('/s-'), 'again', CreateMode.persistentSequential);
        await a.getChildren2(s.path());
        await a.getData(s.path('/e'));
        await a.getData(s.path('/es-0000000003'));
        await a.create(s.path('/p'), 'twice');
        await a.create(s.path('/missing/child'), 'no parent');
      },
    );

    scenario(
      servers,
      // ZooKeeper 3.8.0 names a sequential child after the number of creates of children
      // before it: deletes raise the parent's shown cversion (stored creates * 2 -
      // numChildren) but not the next suffix.
      'sequential names after deletes: the suffix counts creates, cversion creates and deletes',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        const first = await a.create(s.path('/n-'), '', CreateMode.persistentSequential);
        await a.create(s.path('/plain'), '');
        await a.delete(s.path('/plain'));
        await a.delete(s.path('/n-0000000000'));
        await a.exists(s.path());
        const next = await a.create(s.path('/n-'), '', CreateMode.persistentSequential);
        await a.create(s.path('/'), '', CreateMode.persistentSequential);
        await a.create2(s.path('/e-'), '', CreateMode.ephemeralSequential);
        await a.exists(s.path());
        expect(first.kind === 'reply' && first.value?.path).toBe(s.path('/n-0000000000'));
        expect(next.kind === 'reply' && next.value?.path).toBe(s.path('/n-0000000002'));
      },
    );

    scenario(
      servers,
      'getData and setData with versions: BadVersion leaves the node as it was',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), 'v0');
        await a.setData(s.path(), 'v1', 0);
        await a.setData(s.path(), 'v2', 0);
        await a.setData(s.path(), 'v2', 1);
        await a.setData(s.path(), 'any', -1);
        await a.getData(s.path());
        await a.setData(s.path(), Buffer.from([0, 1, 2, 255]), 3);
        await a.getData(s.path());
        await a.setData(s.path(), null);
        await a.getData(s.path());
        await a.setData(s.path('/missing'), 'x');
        await a.getData(s.path('/missing'));
      },
    );

    scenario(
      servers,
      // Synod proposes the writes its connections send in one event-loop turn as one entry:
      // each must still apply in its session's order, with its own result and zxid.
      'pipelined writes of two sessions: order, sequential names and errors each their own',
      async s => {
        const a = await s.connect('a');
        const b = await s.connectQuietly('b');
        await a.create(s.path(), '');
        await a.create(s.path('/b'), '');
        await a.create(s.path('/n'), 'first');
        // Later writes to /n must show an mtime after its ctime, on either server.
        await new Promise(resolve => setTimeout(resolve, 5));
        // b's writes go out with a's, under their own parent, and are looked at afterwards.
        const theirs = Promise.all([
          b.create(s.path('/b/x'), '1'),
          b.create(s.path('/b/x'), 'again'),
          b.setData(s.path('/b/x'), '2', 0),
          b.create(s.path('/b/q-'), '', CreateMode.persistentSequential),
          b.delete(s.path('/b/none')),
          b.create(s.path('/b/q-'), '', CreateMode.persistentSequential),
        ]);
        await Promise.all([
          a.create(s.path('/n/s-'), '', CreateMode.persistentSequential),
          a.create(s.path('/n'), 'exists'),
          a.setData(s.path('/n'), 'second', 0),
          a.setData(s.path('/n'), 'stale', 0),
          a.create(s.path('/n/s-'), '', CreateMode.ephemeralSequential),
          a.delete(s.path('/n/s-0000000000'), 0),
          a.delete(s.path('/n/s-0000000000')),
          a.setData(s.path('/n'), 'third', 1),
        ]);
        // Only b's outcomes are noted: its zxids fall between a's differently on each server.
        s.note(
          'b: error codes',
          (await theirs).map(r => (r.kind === 'reply' ? r.err : r.kind)),
        );
        const x = await b.getData(s.path('/b/x'));
        s.note(
          'b: /b/x',
          x.kind === 'reply' ? [x.value?.data?.toString(), x.value?.stat.version] : x,
        );
        await a.getData(s.path('/n'));
        await a.getChildren2(s.path('/n'));
        await a.getChildren(s.path('/b'));
      },
    );

    scenario(servers, 'delete: NoNode, NotEmpty, BadVersion, then the right version', async s => {
      const a = await s.connect('a');
      await a.create(s.path(), '');
      await a.create(s.path('/child'), '');
      await a.delete(s.path('/nothing'));
      await a.delete(s.path());
      await a.delete(s.path('/child'), 5);
      await a.delete(s.path('/child'), 0);
      await a.delete(s.path('/child'));
      await a.getChildren2(s.path());
      await a.delete(s.path(), 0);
      await a.exists(s.path());
    });

    scenario(
      servers,
      'exists, getChildren, getChildren2, getAllChildrenNumber and getEphemerals',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        for (const name of ['c', 'a', 'b']) await a.create(s.path(`/${name}`), name);
        await a.create(s.path('/a/x'), '');
        await a.create(s.path('/a/x/y'), '');
        await a.create(s.path('/e1'), '', CreateMode.ephemeral);
        await b.create(s.path('/e2'), '', CreateMode.ephemeral);
        await a.create(s.path('/a/e3'), '', CreateMode.ephemeral);
        await a.exists(s.path('/a'));
        await a.exists(s.path('/none'));
        await a.getChildren(s.path());
        await a.getChildren2(s.path());
        await a.getChildren(s.path('/none'));
        await a.getChildren2(s.path('/a/x/y'));
        await a.getAllChildrenNumber(s.path());
        await a.getAllChildrenNumber(s.path('/none'));
        await a.getEphemerals(s.path());
        await a.getEphemerals(s.path('/a'));
        await b.getEphemerals('/');
        await a.sync(s.path());
      },
    );

    scenario(
      servers,
      'ephemerals vanish when their session closes, and their parent records it',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await b.create2(s.path('/mine'), 'b', CreateMode.ephemeral);
        await b.create2(s.path('/seq-'), 'b', CreateMode.ephemeralSequential);
        await a.getChildren2(s.path());
        await b.close();
        await a.getChildren2(s.path());
        await a.exists(s.path('/mine'));
        await a.getEphemerals(s.path());
      },
    );

    scenario(servers, 'no children under an ephemeral node', async s => {
      const a = await s.connect('a');
      await a.create(s.path(), '');
      await a.create(s.path('/e'), '', CreateMode.ephemeral);
      await a.create(s.path('/e/child'), '');
      await a.create2(s.path('/e/child'), '', CreateMode.ephemeral);
      await a.create(s.path('/e/seq-'), '', CreateMode.persistentSequential);
      await a.getChildren2(s.path('/e'));
    });

    scenario(
      servers,
      'a container goes once its last child is deleted, never before it had one',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.createContainer(s.path('/box'), 'container');
        await a.create(s.path('/box/item'), '');
        await a.create2(s.path('/box2'), '', CreateMode.container);
        await a.exists(s.path('/box'));
        await a.delete(s.path('/box/item'));
        await s.until(
          'the emptied container is gone',
          a,
          quiet => quiet.exists(s.path('/box')),
          r => r.kind === 'reply' && r.err !== 0,
        );
        await new Promise(resolve => setTimeout(resolve, 500));
        await a.exists(s.path('/box2'));
        await a.getChildren2(s.path());
      },
    );

    scenario(
      servers,
      'TTL nodes: created with createTTL, removed when unmodified past their TTL',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.createTTL(s.path('/short'), 'ttl', CreateMode.persistentWithTtl, 300n);
        await a.createTTL(s.path('/seq-'), 'ttl', CreateMode.persistentSequentialWithTtl, 300n);
        await a.createTTL(s.path('/long'), 'ttl', CreateMode.persistentWithTtl, 600_000n);
        await a.createTTL(s.path('/zero'), 'ttl', CreateMode.persistentWithTtl, 0n);
        await a.createTTL(s.path('/not-ttl'), 'ttl', CreateMode.persistent, 300n);
        await a.create(s.path('/via-create'), '', CreateMode.persistentWithTtl);
        await a.exists(s.path('/short'));
        await s.until(
          'the short TTL node is gone',
          a,
          quiet => quiet.exists(s.path('/short')),
          r => r.kind === 'reply' && r.err !== 0,
        );
        // The sequential one expires a moment after: past two more sweeps, both have gone.
        await new Promise(resolve => setTimeout(resolve, 3 * TEST_CONTAINER_CHECK_INTERVAL_MS));
        await a.getChildren(s.path());
      },
    );

    scenario(servers, 'the /zookeeper, /zookeeper/config and /zookeeper/quota nodes', async s => {
      const a = await s.connect('a');
      await a.getChildren('/zookeeper');
      await a.exists('/zookeeper');
      await a.getData('/zookeeper/quota');
      await a.getACL('/zookeeper/config');
      await a.create('/zookeeper/mine', '');
      await a.delete('/zookeeper');
      await a.delete('/zookeeper/mine');
    });

    scenario(
      servers,
      'ACLs: InvalidACL, NoAuth, auth with digest, getACL and setACL versions',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await a.create(s.path('/no-acl'), '', CreateMode.persistent, []);
        await a.create(s.path('/bad-scheme'), '', CreateMode.persistent, [
          {perms: 31, scheme: 'nonsense', id: 'x'},
        ]);
        await a.auth('digest', 'alice:secret');
        await a.whoAmI();
        await a.create(s.path('/alice'), 'hers', CreateMode.persistent, [
          {perms: 31, scheme: 'auth', id: ''},
        ]);
        await a.getACL(s.path('/alice'));
        await b.getData(s.path('/alice'));
        await b.exists(s.path('/alice'));
        await b.setData(s.path('/alice'), 'mine');
        await b.auth('digest', 'alice:secret');
        await b.getData(s.path('/alice'));
        await a.setACL(s.path('/alice'), [{perms: 1, scheme: 'world', id: 'anyone'}], 5);
        await a.setACL(s.path('/alice'), [{perms: 1, scheme: 'world', id: 'anyone'}], 0);
        await a.getACL(s.path('/alice'));
        await a.setData(s.path('/alice'), 'read-only now');
      },
    );

    scenario(servers, 'multi that succeeds: one zxid for all ops, a result per op', async s => {
      const a = await s.connect('a');
      await a.create(s.path(), '');
      await a.create(s.path('/old'), 'old');
      await a.multi([
        {op: 'create', path: s.path('/x'), data: 'x'},
        {op: 'create', path: s.path('/seq-'), mode: CreateMode.persistentSequential},
        {op: 'create2', path: s.path('/y'), data: 'y', mode: CreateMode.ephemeral},
        {op: 'createContainer', path: s.path('/box')},
        {op: 'setData', path: s.path('/x'), data: 'x2', version: 0},
        {op: 'check', path: s.path('/old'), version: 0},
        {op: 'delete', path: s.path('/old'), version: 0},
      ]);
      await a.getChildren2(s.path());
      await a.getData(s.path('/x'));
      await a.multi([]);
    });

    scenario(
      servers,
      'multi that fails: nothing applied, the failing op named, the others rolled back',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.create(s.path('/x'), 'x');
        await a.multi([
          {op: 'create', path: s.path('/new'), data: 'n'},
          {op: 'setData', path: s.path('/x'), data: 'x2'},
          {op: 'check', path: s.path('/x'), version: 7},
          {op: 'delete', path: s.path('/x')},
        ]);
        await a.multi([
          {op: 'create', path: s.path('/new'), data: 'n'},
          {op: 'create', path: s.path('/new'), data: 'again'},
        ]);
        await a.multi([
          {op: 'delete', path: s.path('/missing')},
          {op: 'create', path: s.path('/x/e'), mode: CreateMode.ephemeral},
        ]);
        await a.multi([
          {op: 'create', path: s.path('/e'), mode: CreateMode.ephemeral},
          {op: 'create', path: s.path('/e/child')},
        ]);
        await a.multi([
          {op: 'create', path: s.path('/mixed')},
          {op: 'getData', path: s.path('/x')},
        ]);
        await a.getChildren2(s.path());
        await a.getData(s.path('/x'));
        // A standalone check (opcode 13) that holds gets no reply at all from ZooKeeper 3.8.0:
        // only a failing one is compared.
        await a.check(s.path('/x'), 3);
      },
    );

    scenario(
      servers,
      'multiRead: getData and getChildren results, errors per op, writes refused',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), 'root');
        await a.create(s.path('/a'), 'a');
        await a.create(s.path('/b'), '');
        await a.multiRead([
          {op: 'getData', path: s.path('/a')},
          {op: 'getChildren', path: s.path()},
          {op: 'getData', path: s.path('/missing')},
          {op: 'getChildren', path: s.path('/missing')},
          {op: 'getData', path: s.path()},
        ]);
        await a.multiRead([{op: 'create', path: s.path('/c')}]);
        await a.multiRead([]);
        await a.exists(s.path('/c'));
      },
    );
  },
);
