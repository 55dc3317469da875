import type {TxnWrite} from '@synod/storage';

import {ZkKeys} from './zk-keys.js';
import type {ZkTreeReader} from './zk-tree-reader.js';
import type {ZkTreeFigures} from './zk-tree-figures.js';
import type {ChildCounters, ZkStat, ZnodeRecord} from './znode-record.js';
import {encodeCounters, encodeZnode, statOf} from './znode-record.js';

/** A znode as the transaction sees it: the store's, or one this transaction made. */
export interface PendingNode {
  readonly czxid: number;
  readonly record: ZnodeRecord;
  readonly created: boolean;
}

/**
 * ZooKeeper's change records (`PrepRequestProcessor`) over one write transaction:
 * operations read and change this overlay first, so a multi's later operations
 * see its earlier ones, and only a request that wholly succeeds is written, at
 * one revision.
 */
export class TxnOverlay {
  readonly nodes = new Map<string, PendingNode | null>();
  readonly counters = new Map<string, ChildCounters>();
  readonly existedBefore = new Map<string, boolean>();
  readonly countersBefore = new Map<string, boolean>();
  /** What each node read from the store held before this transaction. */
  private readonly recordsBefore = new Map<string, ZnodeRecord>();

  constructor(
    private readonly reader: ZkTreeReader,
    readonly zxid: number,
  ) {}

  node(path: string): PendingNode | undefined {
    const pending = this.nodes.get(path);
    if (pending !== undefined) return pending ?? undefined;
    const n = this.reader.entry(path);
    if (!this.existedBefore.has(path)) this.existedBefore.set(path, n !== undefined);
    if (n === undefined) return undefined;
    const found = {czxid: n.czxid, record: n.record, created: false};
    this.nodes.set(path, found);
    this.recordsBefore.set(path, n.record);
    if (!this.counters.has(path)) {
      this.counters.set(path, n.counters);
      this.countersBefore.set(path, n.counters.pzxid !== n.czxid || n.counters.cversion !== 0);
    }
    return found;
  }

  childCounters(path: string, czxid: number): ChildCounters {
    return this.counters.get(path) ?? {cversion: 0, pzxid: czxid, numChildren: 0};
  }

  setNode(path: string, node: PendingNode | null): void {
    if (!this.existedBefore.has(path)) this.node(path);
    this.nodes.set(path, node);
  }

  setCounters(path: string, c: ChildCounters): void {
    this.counters.set(path, c);
  }

  stat(path: string): ZkStat {
    const n = this.node(path);
    if (n === undefined) throw new Error(`stat of missing ${path}`);
    return statOf(n.czxid, n.record, this.childCounters(path, n.czxid));
  }

  /**
   * Writes the final state of every touched node and counter key into `tw`, and moves the
   * tree's figures by what it writes.
   */
  flush(tw: TxnWrite, figures: ZkTreeFigures): void {
    for (const [path, node] of this.nodes) {
      const before = this.existedBefore.get(path) === true;
      const key = ZkKeys.node(path);
      if (node === null) {
        if (before) tw.deleteRange(key, undefined);
        figures.changed(path, this.recordsBefore.get(path), undefined);
        continue;
      }
      if (node.created && before) {
        tw.deleteRange(key, undefined);
        if (this.countersBefore.get(path) === true) tw.deleteRange(ZkKeys.meta(path), undefined);
      }
      if (node.created || this.changed.has(path)) {
        tw.put(key, encodeZnode(node.record), node.record.ephemeralOwner);
        figures.changed(path, this.recordsBefore.get(path), node.record);
      }
    }
    for (const [path, c] of this.counters) {
      if (!this.countersChanged.has(path)) continue;
      const node = this.nodes.get(path);
      if (node === null || node === undefined) {
        if (this.countersBefore.get(path) === true) tw.deleteRange(ZkKeys.meta(path), undefined);
        continue;
      }
      tw.put(ZkKeys.meta(path), encodeCounters(c), 0n);
    }
  }

  readonly changed = new Set<string>();
  readonly countersChanged = new Set<string>();
}
