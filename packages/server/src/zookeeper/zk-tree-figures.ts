import type {ReadView} from '@synod/storage';

import {ZkKeys, prefixEnd} from './zk-keys.js';
import {decodeZnode} from './znode-record.js';
import type {ZnodeRecord} from './znode-record.js';

/** The tree's figures that `mntr` reports and `/metrics` exports. */
export interface ZkTreeCounts {
  /**
   * Znodes in the tree, `/zookeeper` and its children included, and the root twice, as
   * ZooKeeper counts them (`zk_znode_count`).
   */
  readonly znodeCount: number;
  /** Ephemeral znodes, of every session (`zk_ephemerals_count`). */
  readonly ephemeralsCount: number;
  /** Sum of every znode's path length and data length, as ZooKeeper's `DataTree` counts it. */
  readonly approximateDataSizeBytes: number;
}

/**
 * The tree's figures, kept as ZooKeeper's `DataTree` keeps them: counted once, by one scan
 * of the znode keys the first time they are read, then moved by every change the state
 * machine writes ({@link changed}), so a scrape or an `mntr` costs nothing however large the
 * tree. A state machine is built anew when its member installs a snapshot, and so are its
 * figures.
 *
 * Example: 10 znodes counted, then `create /a "xy"`: changed('/a', undefined, {data 'xy'})
 * makes 11 znodes and adds 2 + 2 bytes; `delete /a` takes them off again.
 */
export class ZkTreeFigures {
  /** Undefined until first read: nothing is counted for a tree nobody asks about. */
  private counts: {znodeCount: number; ephemeralsCount: number; dataBytes: number} | undefined;

  constructor(private readonly store: ReadView) {}

  read(): ZkTreeCounts {
    this.counts ??= this.scan();
    const {znodeCount, ephemeralsCount, dataBytes} = this.counts;
    return {
      // ZooKeeper's DataTree holds the root twice, under "" and "/", and counts both.
      znodeCount: znodeCount === 0 ? 0 : znodeCount + 1,
      ephemeralsCount,
      approximateDataSizeBytes: dataBytes,
    };
  }

  /** A znode written: `before` is what its key held, `after` what it holds now (absent: none). */
  changed(path: string, before: ZnodeRecord | undefined, after: ZnodeRecord | undefined): void {
    const c = this.counts;
    if (c === undefined || before === after) return;
    if (before !== undefined) {
      c.znodeCount--;
      if (before.ephemeralOwner !== 0n) c.ephemeralsCount--;
      c.dataBytes -= path.length + before.data.length;
    }
    if (after !== undefined) {
      c.znodeCount++;
      if (after.ephemeralOwner !== 0n) c.ephemeralsCount++;
      c.dataBytes += path.length + after.data.length;
    }
  }

  private scan(): {znodeCount: number; ephemeralsCount: number; dataBytes: number} {
    const counts = {znodeCount: 0, ephemeralsCount: 0, dataBytes: 0};
    const start = Buffer.from(ZkKeys.nodePrefix);
    for (const kv of this.store.range(start, prefixEnd(start)).kvs) {
      const path = ZkKeys.pathOfNode(kv.key);
      if (path === undefined) continue;
      const record = decodeZnode(kv.value);
      counts.znodeCount++;
      if (record.ephemeralOwner !== 0n) counts.ephemeralsCount++;
      counts.dataBytes += path.length + record.data.length;
    }
    return counts;
  }
}
