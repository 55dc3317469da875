import {AddWatchMode, CreateMode, WatcherType, zookeeperSkipReason} from '@synod/testing';
import type {Reply} from '@synod/testing';
import {describe} from 'vitest';

import {scenario, useServers} from './harness.js';

/** The reply-header zxid of a reply, as a client tracks its last seen zxid. */
function zxidOf(reply: Reply<unknown>): bigint {
  return reply.kind === 'reply' ? reply.zxid : 0n;
}

describe.skipIf(zookeeperSkipReason !== undefined)(
  'ZooKeeper watches: Synod against ZooKeeper 3.8',
  () => {
    const servers = useServers();

    scenario(
      servers,
      'a data watch fires once: the second change after it fired is not reported',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), 'v0');
        await b.getData(s.path(), true);
        await a.setData(s.path(), 'v1');
        await s.events('b', b, 1);
        await a.setData(s.path(), 'v2');
        await s.events('b', b, 0);
        await b.getData(s.path(), true);
        await a.delete(s.path());
        await s.events('b', b, 1);
      },
    );

    scenario(
      servers,
      'exists watches: NodeCreated for a missing node, NodeDeleted for an existing one',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await b.exists(s.path('/later'), true);
        await b.exists(s.path(), true);
        await a.create(s.path('/later'), 'here');
        await s.events('b', b, 1);
        await b.exists(s.path('/later'), true);
        await a.delete(s.path('/later'));
        await s.events('b', b, 1);
        await a.setData(s.path(), 'changed');
        await s.events('b', b, 1);
      },
    );

    scenario(
      servers,
      'child watches: NodeChildrenChanged on create and delete, one NodeDeleted per node',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await b.getChildren(s.path(), true);
        await a.create(s.path('/c1'), '');
        await s.events('b', b, 1);
        await a.setData(s.path(), 'data changes do not touch child watches');
        await s.events('b', b, 0);
        await b.getChildren2(s.path(), true);
        await b.getData(s.path(), true);
        await b.getChildren(s.path('/c1'), true);
        await b.exists(s.path('/c1'), true);
        await a.delete(s.path('/c1'));
        await s.events('b', b, 3);
        await b.getChildren(s.path(), true);
        await b.exists(s.path(), true);
        await a.delete(s.path());
        await s.events('b', b, 1);
      },
    );

    scenario(
      servers,
      'events of one multi come in the order ZooKeeper applies its ops',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await a.create(s.path('/x'), '');
        await a.create(s.path('/y'), '');
        await b.getData(s.path('/y'), true);
        await b.getData(s.path('/x'), true);
        await b.exists(s.path('/z'), true);
        await b.getChildren(s.path(), true);
        await a.multi([
          {op: 'create', path: s.path('/z'), data: 'z'},
          {op: 'setData', path: s.path('/y'), data: 'y'},
          {op: 'delete', path: s.path('/x')},
        ]);
        await s.events('b', b, 4);
      },
    );

    scenario(
      servers,
      'a client sees the event of its own change before the reply to it',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.getData(s.path(), true);
        await a.getChildren(s.path(), true);
        s.inbound('a', a);
        await a.setData(s.path(), 'mine');
        await a.create(s.path('/child'), '');
        await s.events('a', a, 2);
        s.inbound('a', a);
      },
    );

    scenario(servers, 'a watcher reads the new data after its event, never the old', async s => {
      const a = await s.connect('a');
      const b = await s.connect('b');
      await a.create(s.path(), 'old');
      await b.getData(s.path(), true);
      await a.setData(s.path(), 'new');
      await s.events('b', b, 1);
      await b.getData(s.path());
      s.inbound('b', b);
    });

    scenario(
      servers,
      'a persistent watch reports every change of its node until removed',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await b.addWatch(s.path(), AddWatchMode.persistent);
        await a.setData(s.path(), '1');
        await a.setData(s.path(), '2');
        await a.create(s.path('/child'), '');
        await a.create(s.path('/child/grandchild'), '');
        await a.delete(s.path('/child/grandchild'));
        await a.delete(s.path('/child'));
        await s.events('b', b, 4);
        await b.removeWatches(s.path(), WatcherType.any);
        await a.setData(s.path(), '3');
        await s.events('b', b, 0);
        await b.removeWatches(s.path(), WatcherType.any);
        await b.addWatch(s.path('/not-yet'), AddWatchMode.persistent);
        await a.create(s.path('/not-yet'), '');
        await a.delete(s.path('/not-yet'));
        await a.create(s.path('/not-yet'), '');
        await s.events('b', b, 3);
      },
    );

    scenario(
      servers,
      'a persistent recursive watch reports its subtree, without NodeChildrenChanged',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await b.addWatch(s.path(), AddWatchMode.persistentRecursive);
        await a.create(s.path('/c'), '');
        await a.create(s.path('/c/d'), '');
        await a.setData(s.path('/c/d'), 'deep');
        await a.create(s.path('/e'), '', CreateMode.ephemeral);
        await a.delete(s.path('/c/d'));
        await a.setData(s.path(), 'top');
        await s.events('b', b, 6);
        await b.getData(s.path('/c'), true);
        await a.setData(s.path('/c'), 'both kinds');
        await s.events('b', b, 2);
        await a.close();
        await s.events('b', b, 1);
      },
    );

    scenario(
      servers,
      'removeWatches and checkWatches: NoWatcher when there is none, by kind',
      async s => {
        const a = await s.connect('a');
        await a.create(s.path(), '');
        await a.checkWatches(s.path(), WatcherType.data);
        await a.removeWatches(s.path(), WatcherType.data);
        await a.getData(s.path(), true);
        await a.checkWatches(s.path(), WatcherType.data);
        await a.checkWatches(s.path(), WatcherType.children);
        await a.removeWatches(s.path(), WatcherType.children);
        await a.removeWatches(s.path(), WatcherType.data);
        await a.checkWatches(s.path(), WatcherType.data);
        await a.getChildren(s.path(), true);
        await a.removeWatches(s.path(), WatcherType.any);
        await a.create(s.path('/c'), '');
        await s.events('a', a, 0);
      },
    );

    scenario(
      servers,
      'watches across a reconnect: setWatches reports what changed while away',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await a.create(s.path('/data'), '');
        await a.create(s.path('/deleted'), '');
        await b.getData(s.path('/data'), true);
        await b.getData(s.path('/deleted'), true);
        await b.exists(s.path('/created'), true);
        await b.getChildren(s.path(), true);
        const seen = zxidOf(await b.getData(s.path('/unchanged'), true));
        b.disconnect();
        await a.setData(s.path('/data'), 'while away');
        await a.delete(s.path('/deleted'));
        await a.create(s.path('/created'), '');
        const again = await s.connect('b', {
          sessionId: b.session.sessionId,
          password: b.session.password,
          lastZxidSeen: seen,
        });
        await again.setWatches(seen, {
          data: [s.path('/data'), s.path('/deleted'), s.path('/unchanged')],
          exist: [s.path('/created')],
          child: [s.path()],
        });
        // '/unchanged' never existed: its data watch is reported deleted at once.
        await s.events('b', again, 5);
        await a.setData(s.path('/unchanged'), 'x');
        await s.events('b', again, 0);
      },
    );

    scenario(
      servers,
      'persistent watches across a reconnect: setWatches2 carries them',
      async s => {
        const a = await s.connect('a');
        const b = await s.connect('b');
        await a.create(s.path(), '');
        await a.create(s.path('/p'), '');
        await b.addWatch(s.path('/p'), AddWatchMode.persistent);
        const seen = zxidOf(await b.addWatch(s.path(), AddWatchMode.persistentRecursive));
        b.disconnect();
        await a.setData(s.path('/p'), 'while away');
        const again = await s.connect('b', {
          sessionId: b.session.sessionId,
          password: b.session.password,
          lastZxidSeen: seen,
        });
        await again.setWatches2(seen, {
          persistent: [s.path('/p')],
          persistentRecursive: [s.path()],
        });
        // Persistent watches are re-registered; changes made while away are not replayed.
        await s.events('b', again, 0);
        await a.setData(s.path('/p'), 'back');
        await a.create(s.path('/q'), '');
        await s.events('b', again, 2);
      },
    );
  },
);
