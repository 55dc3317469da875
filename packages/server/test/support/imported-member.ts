import {join} from 'node:path';

import {freePorts, startRestoredMember, TEST_CONTAINER_CHECK_INTERVAL_MS} from '@synod/testing';
import type {EtcdMember, RestoredCluster} from '@synod/testing';

/** A one-member Synod to be made by `synod zk import`: its flags and its ZooKeeper port. */
export interface ImportedMemberPlan {
  readonly spec: {
    readonly name: string;
    readonly clientUrl: string;
    readonly peerUrl: string;
    readonly dataDir: string;
  };
  readonly cluster: RestoredCluster;
  readonly zkPort: number;
}

/** Free ports, a data dir under `work` and a one-member cluster of `name` with `token`. */
export async function planImportedMember(
  work: string,
  name: string,
  token: string,
): Promise<ImportedMemberPlan> {
  const [clientPort, peerPort, zkPort] = await freePorts(3);
  const spec = {
    name,
    clientUrl: `http://127.0.0.1:${clientPort ?? 0}`,
    peerUrl: `http://127.0.0.1:${peerPort ?? 0}`,
    dataDir: join(work, `${name}.synod`),
  };
  return {spec, cluster: {cluster: `${name}=${spec.peerUrl}`, token}, zkPort: zkPort ?? 0};
}

/**
 * Starts the imported member with its ZooKeeper port, the oracle's container sweep clock and
 * the ZooKeeper super user the test reads every node as.
 */
export function startImportedMember(
  plan: ImportedMemberPlan,
  superDigest: string,
): Promise<EtcdMember> {
  return startRestoredMember('synod', plan.spec, plan.cluster, {
    extraArgs: [
      `--listen-zk-urls=http://127.0.0.1:${plan.zkPort}`,
      `--zk-container-check-interval-ms=${TEST_CONTAINER_CHECK_INTERVAL_MS}`,
      `--zk-super-digest=${superDigest}`,
    ],
  });
}
