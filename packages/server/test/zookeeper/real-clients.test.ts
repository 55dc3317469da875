import {zookeeperSkipReason} from '@synod/testing';
import {afterAll, describe, expect, it} from 'vitest';

import {sameTranscript, useServers} from './harness.js';
import type {ZkTarget} from './harness.js';
import {kazooPython, killClients, runKazoo, runZkCli} from './support/real-clients.js';

/** What a user types into zkCli: every command of issue #20's list, on two subtrees. */
const zkCliSession = [
  'create /cli hello',
  'create -e /cli/e',
  'create -s /cli/s-',
  'create -c /cli/c',
  'create /cli/c/item',
  'ls /cli',
  'ls -R /cli',
  'get -s /cli',
  'set /cli world',
  'get /cli',
  'stat /cli',
  'delete /cli/c/item',
  'addWatch /cli/w',
  'create /cli/w',
  'set /cli/w changed',
  'delete /cli/w',
  'create /tree',
  'create /tree/a',
  'create /tree/a/b',
  'deleteall /tree',
  'stat /tree',
  'delete /cli',
];

describe.skipIf(zookeeperSkipReason !== undefined)(
  'real ZooKeeper clients: zkCli and kazoo against ZooKeeper 3.8 and Synod',
  () => {
    const servers = useServers();
    const outputs = new Map<string, unknown>();
    afterAll(() => {
      killClients();
    });

    function twice(
      name: string,
      tell: (target: ZkTarget) => Promise<unknown>,
      synodFails?: string,
    ): void {
      it(`${name} (ZooKeeper)`, async () => {
        const output = await tell(servers.zookeeper());
        if (process.env.SYNOD_DIFF_TRACE !== undefined) console.log(output);
        outputs.set(name, output);
      }, 60_000);
      (synodFails === undefined ? it : it.fails)(
        `${name} (Synod = ZooKeeper)${synodFails === undefined ? '' : `: fails, ${synodFails}`}`,
        async () => {
          const expected = outputs.get(name);
          expect(expected, 'the ZooKeeper run did not finish').toBeDefined();
          sameTranscript(name, expected, await tell(await servers.synod()));
        },
        60_000,
      );
    }

    twice('zkCli: create -e -s -c, ls -R, get -s, set, stat, addWatch, delete, deleteall', target =>
      runZkCli(target, zkCliSession),
    );

    describe.skipIf(kazooPython === undefined)('kazoo', () => {
      twice('kazoo: Lock, Election, Barrier, Counter, Queue and Partitioner recipes', target =>
        runKazoo(target, '/kazoo'),
      );
    });
  },
);
