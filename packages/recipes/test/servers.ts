import {etcdSkipReason, startEtcd, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdClusterOptions} from '@synod/testing';

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
