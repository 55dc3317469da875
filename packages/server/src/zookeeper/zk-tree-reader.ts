import type {ReadView} from '@synod/storage';

import type {CachedSession} from './zk-applied-cache.js';
import {ZkKeys} from './zk-keys.js';
import type {ChildCounters, ZkStat, ZnodeRecord} from './znode-record.js';
import {decodeCounters, decodeZnode, statOf} from './znode-record.js';

/** The nodes every ZooKeeper server has from the start. */
export const SYSTEM_PATHS: ReadonlySet<string> = new Set([
  '/',
  '/zookeeper',
  '/zookeeper/config',
  '/zookeeper/quota',
]);

/** A znode's key and counters as read from the store, without its Stat. */
export interface ZnodeEntry {
  readonly czxid: number;
  readonly record: ZnodeRecord;
  readonly counters: ChildCounters;
}

/** A znode as read from the store. */
export interface Znode {
  readonly path: string;
  readonly czxid: number;
  readonly record: ZnodeRecord;
  readonly counters: ChildCounters;
  readonly stat: ZkStat;
}

/**
 * Reads ZooKeeper's tree from a view of the store: from the member's applied
 * state for client reads, and from the apply transaction itself (which sees its
 * own writes) for the state machine.
 */
export class ZkTreeReader {
  constructor(private readonly view: ReadView) {}

  node(path: string): Znode | undefined {
    const n = this.entry(path);
    if (n === undefined) return undefined;
    const {czxid, record, counters} = n;
    return {path, czxid, record, counters, stat: statOf(czxid, record, counters)};
  }

  /** A node without its Stat: what the state machine's writes start from. */
  entry(path: string): ZnodeEntry | undefined {
    const kv = this.view.range(ZkKeys.node(path), undefined).kvs[0];
    if (kv === undefined) return undefined;
    const record = decodeZnode(kv.value);
    // ZooKeeper's own nodes exist before any transaction: czxid 0, as in ZooKeeper.
    const czxid = SYSTEM_PATHS.has(path) ? 0 : kv.createRevision;
    return {czxid, record, counters: this.counters(path, czxid)};
  }

  /** The child counters of a node created at `czxid`. */
  counters(path: string, czxid: number): ChildCounters {
    const kv = this.view.range(ZkKeys.meta(path), undefined).kvs[0];
    if (kv === undefined) return {cversion: 0, pzxid: czxid, numChildren: 0};
    return decodeCounters(kv.value);
  }

  /** The names of `path`'s children, in byte order. */
  children(path: string): string[] {
    const {start, end} = ZkKeys.children(path);
    const prefixBytes = start.length;
    return this.view
      .range(start, end)
      .kvs.map(kv => Buffer.from(kv.key).subarray(prefixBytes).toString('utf8'));
  }

  /** Every node below `path`, counted depth by depth. */
  countDescendants(path: string): number {
    let total = 0;
    for (let depth = ZkKeys.depth(path) + 1; ; depth++) {
      const {start, end} = ZkKeys.atDepth(path, depth);
      const n = this.view.range(start, end, {countOnly: true}).count;
      if (n === 0) return total;
      total += n;
    }
  }

  /** Whether a session is live: its key's presence, read from the key index alone. */
  sessionExists(id: bigint): boolean {
    return this.view.range(ZkKeys.session(id), undefined, {countOnly: true}).count > 0;
  }

  /** The negotiated timeout of a live session, or undefined. */
  sessionTimeoutMs(id: bigint): number | undefined {
    const kv = this.view.range(ZkKeys.session(id), undefined).kvs[0];
    if (kv === undefined) return undefined;
    return Buffer.from(kv.value).readInt32BE(0);
  }

  /**
   * A live session's timeout and owner (as {@link sessionOwner}), or undefined when it is not
   * live: a write's two session checks in one read of the key.
   */
  session(id: bigint): CachedSession | undefined {
    const kv = this.view.range(ZkKeys.session(id), undefined).kvs[0];
    if (kv === undefined) return undefined;
    const value = Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.length);
    return {
      timeoutMs: value.readInt32BE(0),
      owner: value.length < 12 ? 0n : value.readBigUInt64BE(4),
    };
  }

  /** The member a live session belongs to (its client's last connection), 0 when unknown. */
  sessionOwner(id: bigint): bigint {
    const kv = this.view.range(ZkKeys.session(id), undefined).kvs[0];
    if (kv === undefined || kv.value.length < 12) return 0n;
    return Buffer.from(kv.value).readBigUInt64BE(4);
  }
}
