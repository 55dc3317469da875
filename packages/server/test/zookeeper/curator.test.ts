import {curatorSkipReason, runCurator, startZkCluster, zookeeperSkipReason} from '@synod/testing';
import type {CuratorResult, ZkCluster} from '@synod/testing';
import {afterAll, describe, expect, it} from 'vitest';

import {normalisedConfig, electionPortZero} from './config-normalisation.js';

/**
 * Apache Curator, unchanged (Debian's 5.4 jars), against a 3-server ZooKeeper 3.8 ensemble
 * and a 3-member Synod cluster: `tools/testing/curator/CuratorChecks.java` runs the recipes
 * and checks their guarantees, and both servers must pass every check. What each server
 * answered about containers and `/zookeeper/config` (the `FACT` lines) must be the same, the
 * config's ids, ports and version normalised (config-normalisation.ts). The ensemble names its
 * servers' client addresses in its config, as Synod does, so Curator's ensemble tracker takes
 * the connect string from the config on both, and the server kill runs on that connect string.
 *
 * The two servers are tested side by side; on each, three scenario groups, one JVM each (plus
 * the killed holder):
 * - recipes: InterProcessMutex, InterProcessSemaphoreV2, LeaderLatch, LeaderSelector,
 *   DistributedAtomicLong, CuratorCache, PersistentNode, container parents, /zookeeper/config;
 * - a client killed by pid while it holds a mutex and leads a LeaderLatch: another client gets
 *   both, only after the kill, once the dead client's session has timed out (4 s);
 * - the leader server killed by pid while clients contend for a mutex, a counter and a latch:
 *   the clients fail over to the other servers and the guarantees hold.
 */

const servers = ['zookeeper', 'synod'] as const;
type Server = (typeof servers)[number];

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
    afterAll(async () => {
      for (const cluster of clusters.values()) await (await cluster.catch(() => undefined))?.stop();
    });
    const cluster = (name: Server): Promise<ZkCluster> => {
      let started = clusters.get(name);
      if (started === undefined) {
        started = startZkCluster(name, 3);
        clusters.set(name, started);
      }
      return started;
    };
    // The two servers run side by side (most of the time goes in waiting: sessions time out,
    // clusters elect), each server's groups one after the other: the server kill comes last.
    const recipesDone = new Map(
      servers.map(name => [name, deferred<ReadonlyMap<string, string>>()]),
    );

    for (const name of servers) {
      it.concurrent(
        `${name}: recipes keep their guarantees, and a killed client hands over its mutex and leadership`,
        async () => {
          const done = recipesDone.get(name);
          try {
            const facts = await recipesAndClientKill(await cluster(name));
            done?.resolve(facts);
          } catch (error) {
            done?.reject(error);
            throw error;
          }
          if (name === 'synod') {
            const zookeeper = new Map(await recipesDone.get('zookeeper')?.promise);
            const synod = new Map(await done?.promise);
            // Both list their servers with client addresses in /zookeeper/config; ids, ports
            // and the version differ by design (config-normalisation.ts), the rest must not.
            const config = async (server: Server, facts: Map<string, string>) => {
              const raw = facts.get('config-data') ?? '';
              facts.delete('config-data');
              const data = raw.replace(/^'|'$/g, '').replaceAll('\\n', '\n');
              return normalisedConfig(data, (await cluster(server)).addresses);
            };
            expect(synod.get('config-data')).toMatch(/^'server\.\d+=.*version=[0-9a-f]+'$/);
            expect(electionPortZero((synod.get('config-data') ?? '').replaceAll('\\n', '\n'))).toBe(
              true,
            );
            expect(await config('synod', synod)).toBe(await config('zookeeper', zookeeper));
            expect(Object.fromEntries(synod)).toEqual(Object.fromEntries(zookeeper));
          }
        },
        150_000,
      );

      it.concurrent(
        `${name}: clients fail over when the leader server is killed, and the guarantees hold`,
        async () => {
          await recipesDone.get(name)?.promise.catch(() => undefined);
          const started = await cluster(name);
          const run = await runCurator('faults', started.connectString, '/faults', {
            args: ['2000'],
          });
          await run.waitForLine(/^STATE running/);
          await started.kill(await started.leaderIndex());
          run.tell('killed');
          const result = await run.result(90_000);
          expectAllPassed(result, 5);
        },
        240_000,
      );
    }
  },
);

/** Runs the recipes beside a client killed while it holds a mutex and leads; returns the facts. */
async function recipesAndClientKill(started: ZkCluster): Promise<ReadonlyMap<string, string>> {
  const {connectString} = started;
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
  // The session timeout is 4 s and the dead client last pinged up to a third of it before the
  // kill: the hand-over comes no sooner than 2/3 of the timeout, and soon after the timeout.
  for (const time of ['takeover-mutex', 'takeover-latch']) {
    expect(handedOver.times.get(time), failed(handedOver)).toBeGreaterThanOrEqual(2500);
    expect(handedOver.times.get(time), failed(handedOver)).toBeLessThan(20_000);
  }
  const result = await recipes.result(90_000);
  expectAllPassed(result, 22);
  return result.facts;
}

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // A failure is reported by the test that met it; the others only wait on it.
  promise.catch(() => undefined);
  return {promise, resolve, reject};
}
