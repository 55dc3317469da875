import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {etcdSkipReason, startEtcd, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdClusterOptions} from '@synod/testing';
import {afterAll, beforeAll} from 'vitest';

import {Session} from '../src/index.js';

/** A server implementation the integration suites run against. */
export type ServerCase = readonly [
  name: 'etcd' | 'synod',
  start: (options?: EtcdClusterOptions) => Promise<EtcdCluster>,
];

/**
 * Both servers, for `describe.each`: the recipes must behave the same on etcd (the
 * reference) and on Synod. etcd is left out when it is not installed (skipped with the
 * reason), except on CI where `@synod/testing` fails instead.
 */
export const servers: readonly ServerCase[] = [
  ...(etcdSkipReason === undefined ? [['etcd', startEtcd] as const] : []),
  ['synod', startSynod],
];

let unique = 0;

/** A key prefix no other test of this process uses. */
export function uniqueName(what: string): string {
  unique++;
  return `${what}-${process.pid}-${unique}`;
}

/**
 * The cluster a suite runs against and a client on it, from {@link clusterForSuite}. Read
 * its fields in tests and hooks, not where the suite is declared: the cluster starts in the
 * suite's `beforeAll`.
 */
export interface SuiteCluster {
  readonly cluster: EtcdCluster;
  readonly client: Etcd;
  /**
   * Another client on the cluster, as another process (or an operator) would use: to act
   * behind the recipes' backs (a lease revoked through the client that keeps it alive only
   * stops its keep-alive). Closed after the suite.
   */
  openClient(): Etcd;
}

/**
 * Starts a cluster with `start` before the suite's tests, with a client on it, and stops
 * both (and every client from `openClient`) after them. Call it inside `describe`.
 */
export function clusterForSuite(start: ServerCase[1]): SuiteCluster {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd[] = [];
  const started = (): EtcdCluster => {
    if (cluster === undefined) throw new Error('the cluster is read before the suite started it');
    return cluster;
  };
  const openClient = (): Etcd => {
    const client = createClient({endpoints: started().endpoints});
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    cluster = await start();
    openClient();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.stop();
  });
  return {
    get cluster() {
      return started();
    },
    get client() {
      const [client] = clients;
      if (client === undefined) throw new Error('the client is read before the suite started it');
      return client;
    },
    openClient,
  };
}

/** Two sessions on `client`, as two processes contending for a lock or an election hold. */
export async function twoSessions(client: Etcd, ttlSec: number): Promise<[Session, Session]> {
  return Promise.all([Session.create(client, {ttlSec}), Session.create(client, {ttlSec})]);
}
