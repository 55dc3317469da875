import {curatorSkipReason, runCurator, startZkCluster, zookeeperSkipReason} from '@synod/testing';
import type {CuratorResult, ZkCluster} from '@synod/testing';
import {afterAll, describe, expect, it} from 'vitest';

/**
 * Apache Curator, unchanged (Debian's 5.4 jars), against a 3-server ZooKeeper 3.8 ensemble
 * and a 3-member Synod cluster: `tools/testing/curator/CuratorChecks.java` runs the recipes
 * and checks their guarantees, and both servers must pass every check. What each server
 * answered about containers and `/zookeeper/config` (the `FACT` lines) must be the same.
 *
 * Three scenario groups per server, one JVM each (plus the killed holder):
 * - recipes: InterProcessMutex, InterProcessSemaphoreV2, LeaderLatch, LeaderSelector,
 *   DistributedAtomicLong, CuratorCache, PersistentNode, container parents, /zookeeper/config;
 * - a client killed by pid while it holds a mutex and leads a LeaderLatch: another client gets
 *   both, only after the kill, once the dead client's session has timed out (4 s);
 * - the leader server killed by pid while clients contend for a mutex, a counter and a latch:
 *   the clients fail over to the other servers and the guarantees hold.
 */

const servers = ['zookeeper', 'synod'] as const;

function failed(result: CuratorResult): string {
  const bad = result.checks.filter(c => !c.ok).map(c => `${c.name}: ${c.detail}`);
  return `${bad.join('\n')}\nexit ${String(result.code)}\n${result.lines.join('\n')}\n${result.stderr}`;
}

function expectAllPassed(result: CuratorResult, atLeast: number): void {
  expect(
    result.checks.filter(c => !c.ok),
    failed(result),
  ).toEqual([]);
  expect(result.checks.length, failed(result)).toBeGreaterThanOrEqual(atLeast);
  expect(result.code, failed(result)).toBe(0);
}

describe.skipIf(zookeeperSkipReason !== undefined || curatorSkipReason !== undefined)(
  'Curator recipes, unchanged, on ZooKeeper 3.8 and on Synod',
  () => {
    const clusters = new Map<string, Promise<ZkCluster>>();
    const facts = new Map<string, ReadonlyMap<string, string>>();
    afterAll(async () => {
      for (const cluster of clusters.values()) await (await cluster.catch(() => undefined))?.stop();
    });
    const cluster = (name: (typeof servers)[number]): Promise<ZkCluster> => {
      let started = clusters.get(name);
      if (started === undefined) {
        started = startZkCluster(name, 3);
        clusters.set(name, started);
      }
      return started;
    };

    describe.each(servers)('%s', name => {
      it('recipes keep their guarantees, and a killed client hands over its mutex and leadership', async () => {
        const {connectString} = await cluster(name);
        // The holder, then the recipes alongside while the takeover waits out the session.
        const holder = await runCurator('hold', connectString, '/takeover');
        await holder.waitForLine(/^STATE held/);
        const taker = await runCurator('takeover', connectString, '/takeover');
        await taker.waitForLine(/^STATE waiting/);
        const recipes = await runCurator('recipes', connectString, '/curator');
        await holder.kill();
        taker.tell('killed');
        const handedOver = await taker.result(60_000);
        expectAllPassed(handedOver, 3);
        // The session timeout is 4 s: nothing may come before it, and it must come soon after.
        for (const time of ['takeover-mutex', 'takeover-latch']) {
          expect(handedOver.times.get(time), failed(handedOver)).toBeGreaterThanOrEqual(3000);
          expect(handedOver.times.get(time), failed(handedOver)).toBeLessThan(20_000);
        }
        const result = await recipes.result(90_000);
        expectAllPassed(result, 22);
        facts.set(name, result.facts);
        if (name === 'synod') {
          // A ZooKeeper ensemble's /zookeeper/config lists its servers (without client
          // addresses here); Synod's is empty, as a standalone ZooKeeper's. Curator's
          // ensemble tracker takes neither (no client address): its view and its connect
          // string stay the same on both (docs/zookeeper.md).
          const zookeeper = new Map(facts.get('zookeeper'));
          expect(zookeeper.get('config-data')).toMatch(/^'server\.1=.*version=0'$/);
          expect(result.facts.get('config-data')).toBe("''");
          expect(result.facts.get('config-stat')).toBe(
            'version=0 aversion=-1 cversion=0 numChildren=0 ephemeralOwner=0 dataLength=0',
          );
          const synod = new Map(result.facts);
          for (const differs of ['config-data', 'config-stat']) {
            zookeeper.delete(differs);
            synod.delete(differs);
          }
          expect(Object.fromEntries(synod)).toEqual(Object.fromEntries(zookeeper));
        }
      }, 120_000);

      it('clients fail over when the leader server is killed, and the guarantees hold', async () => {
        const started = await cluster(name);
        const run = await runCurator('faults', started.connectString, '/faults', {args: ['2000']});
        await run.waitForLine(/^STATE running/);
        await started.kill(await started.leaderIndex());
        run.tell('killed');
        const result = await run.result(90_000);
        expectAllPassed(result, 5);
      }, 120_000);
    });
  },
);
