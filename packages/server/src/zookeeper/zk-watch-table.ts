import {zkParent} from './zk-path.js';
import {ZkProtocol} from '@synod/proto';

/** A change to one znode, as ZooKeeper's watch manager is told of it. */
export interface ZkChange {
  readonly type: 'created' | 'deleted' | 'dataChanged';
  readonly path: string;
}

/** A notification to send: `WatcherEvent{type, state, path}`. */
export interface ZkNotification {
  readonly type: number;
  readonly path: string;
}

const E = ZkProtocol.eventType;

/**
 * One connection's watches, as ZooKeeper's server keeps them per connection:
 * one-shot data watches (getData, exists; an exists on a missing node watches
 * for its creation), one-shot child watches (getChildren), and persistent and
 * persistent-recursive watches (addWatch). A change fires each watch of the
 * connection at most once, the node's own event before its parent's
 * NodeChildrenChanged, as `DataTree.createNode`/`deleteNode` trigger them.
 */
export class ZkWatchTable {
  readonly data = new Set<string>();
  readonly child = new Set<string>();
  readonly persistent = new Set<string>();
  readonly recursive = new Set<string>();

  get size(): number {
    return this.data.size + this.child.size + this.persistent.size + this.recursive.size;
  }

  /**
   * The paths ZooKeeper keeps in its data-watch table for this connection (for `wchs`,
   * `wchc` and `wchp`): one-shot data watches and both kinds of persistent watch, which
   * addWatch puts in its data and child tables alike.
   */
  dataWatchPaths(): Set<string> {
    return new Set([...this.data, ...this.persistent, ...this.recursive]);
  }

  /** The notifications `change` fires, removing the one-shot watches it uses up. */
  trigger(change: ZkChange): ZkNotification[] {
    if (this.size === 0) return [];
    const out: ZkNotification[] = [];
    const {path} = change;
    const type =
      change.type === 'created'
        ? E.nodeCreated
        : change.type === 'deleted'
          ? E.nodeDeleted
          : E.nodeDataChanged;
    let fired = this.data.delete(path);
    if (change.type === 'deleted' && this.child.delete(path)) fired = true;
    if (this.persistent.has(path) || this.underRecursive(path)) fired = true;
    if (fired) out.push({type, path});
    if (change.type !== 'dataChanged' && path !== '/') {
      const parent = zkParent(path);
      const childFired = this.child.delete(parent);
      if (childFired || this.persistent.has(parent)) {
        out.push({type: E.nodeChildrenChanged, path: parent});
      }
    }
    return out;
  }

  private underRecursive(path: string): boolean {
    if (this.recursive.size === 0) return false;
    for (let p = path; ; p = zkParent(p)) {
      if (this.recursive.has(p)) return true;
      if (p === '/') return false;
    }
  }

  /**
   * removeWatches / checkWatches (`WatcherType` 1 children, 2 data, 3 any): whether
   * a watch of that kind is on `path`, removing it unless `checkOnly`. Persistent
   * watches count for any kind, as ZooKeeper's do.
   */
  remove(path: string, watcherType: number, checkOnly: boolean): boolean {
    const t = ZkProtocol.watcherType;
    const sets: Set<string>[] = [];
    if (watcherType === t.children || watcherType === t.any) sets.push(this.child);
    if (watcherType === t.data || watcherType === t.any) sets.push(this.data);
    if (watcherType === t.any) sets.push(this.persistent, this.recursive);
    let found = false;
    for (const s of sets) {
      if (!s.has(path)) continue;
      found = true;
      if (!checkOnly) s.delete(path);
    }
    if (
      !found &&
      watcherType !== t.any &&
      (this.persistent.has(path) || this.recursive.has(path))
    ) {
      found = true;
      if (!checkOnly) {
        this.persistent.delete(path);
        this.recursive.delete(path);
      }
    }
    return found;
  }

  clear(): void {
    this.data.clear();
    this.child.clear();
    this.persistent.clear();
    this.recursive.clear();
  }
}
