import type {Znode} from './zk-tree-reader.js';
import {statOf} from './znode-record.js';

/** A member as `/zookeeper/config` lists it. */
export interface ZkEnsembleMember {
  /** The member id, which is also the ZooKeeper server id (`server.<id>`, `conf`'s `serverId`). */
  readonly id: number;
  /** The member's first peer URL: the quorum address of its server line. */
  readonly peerUrl: string;
  /** A learner is listed as ZooKeeper lists a non-voting server: `observer`. */
  readonly isLearner: boolean;
  /** `host:port` of the member's plain ZooKeeper listener, if it has one. */
  readonly zkClientAddress?: string;
}

/** The cluster's membership as the ZooKeeper front end sees it. */
export interface ZkEnsemble {
  readonly members: readonly ZkEnsembleMember[];
  /** Grows with every membership change: the config's `version`, written in hex. */
  readonly version: number;
}

/**
 * The data of `/zookeeper/config` for a cluster of more than one member, as ZooKeeper 3.8's
 * `QuorumVerifier.toString()` writes it: one line per server,
 * `server.<id>=<host>:<quorumPort>:<electionPort>:<participant|observer>[;<clientHost>:<clientPort>]`,
 * then `version=<hex>` with no newline after it. The quorum port is the member's peer port;
 * Synod's members elect over that same port and have no election port of their own, so it is
 * written 0 (Java's parser, which Curator's ensemble tracker uses, refuses a server line whose
 * election port equals its quorum port, and takes 0). The servers come in the order of the
 * `HashMap` that ZooKeeper keeps them in: by hash bucket of the id.
 *
 * Example, members 1 and 2 with ZooKeeper ports 2181 and 2182, version 0x1c:
 *
 * ```
 * server.1=127.0.0.1:2380:0:participant;127.0.0.1:2181
 * server.2=127.0.0.1:2381:0:participant;127.0.0.1:2182
 * version=1c
 * ```
 */
export function formatEnsembleConfig(ensemble: ZkEnsemble): string {
  const lines = inJavaHashMapOrder(ensemble.members).map(m => {
    const peer = hostAndPort(m.peerUrl);
    const type = m.isLearner ? 'observer' : 'participant';
    const client = m.zkClientAddress === undefined ? '' : `;${m.zkClientAddress}`;
    return `server.${m.id}=${peer.host}:${peer.port}:0:${type}${client}\n`;
  });
  return `${lines.join('')}version=${ensemble.version.toString(16)}`;
}

/** `host:port` of a listener, the host bracketed when it is an IPv6 address, as Java writes it. */
export function zkClientAddressOf(address: {host: string; port: number}): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

function hostAndPort(url: string): {host: string; port: string} {
  try {
    const u = new URL(url);
    return {host: u.hostname, port: u.port || (u.protocol === 'https:' ? '443' : '80')};
  } catch {
    return {host: url, port: '0'};
  }
}

/**
 * Java's `HashMap<Long, ...>` iteration order: by bucket (`Long.hashCode` spread by
 * `h ^ (h >>> 16)`, masked by a table of 16 buckets doubled while more than 3/4 full), then by
 * id within a bucket. Below 2^16 ids come in ascending order.
 */
function inJavaHashMapOrder(members: readonly ZkEnsembleMember[]): ZkEnsembleMember[] {
  let buckets = 16;
  while (members.length > buckets * 0.75) buckets *= 2;
  const bucket = (id: number): number => {
    const v = BigInt.asUintN(64, BigInt(id));
    const h = Number(BigInt.asIntN(32, v ^ (v >> 32n)));
    return (h ^ (h >>> 16)) & (buckets - 1);
  };
  return members
    .map(m => ({m, b: bucket(m.id)}))
    .sort((p, q) => p.b - q.b || p.m.id - q.m.id)
    .map(p => p.m);
}

/**
 * `/zookeeper/config` as a member serves it. The stored node stays as the first write made it
 * (empty, readable by all, written by none); reads see the membership instead, formatted by
 * {@link formatEnsembleConfig}, once the cluster has more than one member. A single member
 * serves it empty, as a standalone ZooKeeper does. The stat is the one ZooKeeper's
 * `ZKDatabase.initConfigInZKDatabase` gives the node when a server takes a configuration on:
 * version -1, mtime the time this member took it on, czxid and ctime 0, and mzxid the
 * configuration's version, the number its `version=` line gives in hex (on ZooKeeper the zxid
 * of the last reconfig, 0 for a static ensemble; here the raft index of the last membership
 * change).
 */
export class ZkConfigNode {
  private served:
    | {readonly data: Buffer; readonly sinceMs: number; readonly version: number}
    | undefined;

  constructor(
    private readonly ensemble: () => ZkEnsemble,
    private readonly nowMs: () => number,
  ) {}

  /** Takes the membership on afresh; true when what the node serves changed. */
  refresh(): boolean {
    const e = this.ensemble();
    const text = e.members.length > 1 ? formatEnsembleConfig(e) : '';
    if (this.served !== undefined && this.served.data.toString('utf8') === text) return false;
    const changed = this.served !== undefined;
    this.served = {data: Buffer.from(text, 'utf8'), sinceMs: this.nowMs(), version: e.version};
    return changed;
  }

  /** The node to answer reads with, given the stored one. */
  serve(stored: Znode): Znode {
    if (this.served === undefined) this.refresh();
    const served = this.served;
    if (served === undefined || served.data.length === 0) return stored;
    const record = {
      ...stored.record,
      data: served.data,
      nullData: false,
      version: -1,
      mzxid: served.version,
      mtimeMs: served.sinceMs,
    };
    return {...stored, record, stat: statOf(stored.czxid, record, stored.counters)};
  }
}
