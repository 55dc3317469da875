import {freePorts, startSynod} from '../etcd-process.js';
import type {EtcdCluster} from '../etcd-process.js';
import {ZooKeeperClient} from '../zookeeper-client.js';
import {
  fourLetterWord,
  startZooKeeper,
  TEST_CONTAINER_CHECK_INTERVAL_MS,
} from '../zookeeper-process.js';
import type {ZooKeeperEnsemble} from '../zookeeper-process.js';

/**
 * The same ZooKeeper service from either server, for suites and benchmarks that run one
 * workload on both: the real ZooKeeper 3.8 (standalone or a 3-server ensemble) or Synod (one
 * member or three, each member with its own `--listen-zk-urls` port). Every process is
 * tracked by pid through the helpers underneath.
 */
export interface ZkCluster {
  readonly name: 'zookeeper' | 'synod';
  /** `host:port,...` of every server's ZooKeeper port, as clients take it. */
  readonly connectString: string;
  /** `host:port` of each server, in server order. */
  readonly addresses: readonly string[];
  /** Synod's etcd client URLs (for `member add` and the like); none for ZooKeeper. */
  readonly etcdEndpoints: readonly string[];
  /** Pid of each server, undefined once it was killed. */
  pids(): readonly (number | undefined)[];
  /** The index of the server whose `srvr` says `Mode: leader` (or the only one). */
  leaderIndex(): Promise<number>;
  /** SIGKILLs server `index` by its pid and waits for it to exit. */
  kill(index: number): Promise<void>;
  /** Stops every server and removes the data dirs. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `members` servers of `name` and waits until each serves ZooKeeper clients. A ZooKeeper
 * ensemble writes each server's client address in its `server.N` lines (so its
 * `/zookeeper/config` names them, as Synod's does) unless `clientAddressesInConfig` is false.
 */
export async function startZkCluster(
  name: 'zookeeper' | 'synod',
  members: 1 | 3,
  {clientAddressesInConfig = true}: {readonly clientAddressesInConfig?: boolean} = {},
): Promise<ZkCluster> {
  // Free ports are found by binding port 0 and letting go: a server started at the same time
  // (another cluster of this file, another test file) may take one first. Start again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return name === 'zookeeper'
        ? fromEnsemble(await startZooKeeper({servers: members, clientAddressesInConfig}))
        : await synod(members);
    } catch (error) {
      if (attempt === 3 || !/EADDRINUSE|Address already in use/.test(String(error))) throw error;
    }
  }
}

function fromEnsemble(ensemble: ZooKeeperEnsemble): ZkCluster {
  const addresses = ensemble.servers.map(s => s.address);
  return {
    name: 'zookeeper',
    connectString: ensemble.connectString,
    addresses,
    etcdEndpoints: [],
    pids: () => ensemble.servers.map(s => s.pid),
    leaderIndex: () => leaderOf(addresses),
    async kill(index) {
      const pid = ensemble.servers[index]?.pid;
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      await untilGone(pid);
    },
    stop: () => ensemble.stop(),
  };
}

async function synod(members: 1 | 3): Promise<ZkCluster> {
  const ports = await freePorts(members);
  const addresses = ports.map(port => `127.0.0.1:${port}`);
  const cluster: EtcdCluster = await startSynod({
    members,
    // Three members and a JVM start together on a loaded 2-core machine: give them time.
    startTimeoutMs: 60_000,
    memberArgs: memberName => [
      `--listen-zk-urls=http://${addresses[Number(memberName.slice(1))] ?? ''}`,
      // Empty containers go on the ZooKeeper ensemble's clock.
      `--zk-container-check-interval-ms=${TEST_CONTAINER_CHECK_INTERVAL_MS}`,
    ],
  });
  try {
    // The etcd health check passed; the ZooKeeper listeners may open a moment later.
    await Promise.all(addresses.map(address => untilHandshake(address)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    name: 'synod',
    connectString: addresses.join(','),
    addresses,
    etcdEndpoints: cluster.endpoints,
    pids: () => cluster.members.map(m => m.pid),
    leaderIndex: () => leaderOf(addresses),
    async kill(index) {
      await cluster.members[index]?.kill('SIGKILL');
    },
    stop: () => cluster.stop(),
  };
}

async function untilHandshake(address: string): Promise<void> {
  const [host = '', port = ''] = address.split(':');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const probe = await ZooKeeperClient.connect({host, port: Number(port), keepAlive: false});
      await probe.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`the ZooKeeper port ${address} never answered a handshake`, {
          cause: error,
        });
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
}

async function leaderOf(addresses: readonly string[]): Promise<number> {
  if (addresses.length === 1) return 0;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const [index, address] of addresses.entries()) {
      const [host = '', port = ''] = address.split(':');
      const srvr = await fourLetterWord(host, Number(port), 'srvr', 1000);
      if (/^Mode: leader$/m.test(srvr)) return index;
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error(`no server of ${addresses.join(',')} says "Mode: leader"`);
}

async function untilGone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}
