import {ZkProtocol as P} from '@synod/proto';

import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import type {
  SnapshotContents,
  SnapshotNode,
  StatPersisted,
  TxnBody,
  TxnHeader,
} from './zk-data-files.js';
import {CONTAINER_OWNER, ZkDataFileError, ownerKind} from './zk-data-files.js';

/** A znode of the tree being rebuilt, with ZooKeeper's persisted Stat. */
export interface ImportedNode {
  data: Buffer | null;
  acl: readonly ZkAclEntry[];
  readonly stat: StatPersisted;
  numChildren: number;
}

const NODE_EXISTS = -110;
const NO_NODE = -101;

class KeeperError extends Error {
  constructor(readonly code: number) {
    super(String(code));
  }
}

/**
 * ZooKeeper's `DataTree` as a server restores it: loaded from a snapshot, then every logged
 * transaction past it applied with the same effects as `DataTree.processTxn` (and
 * `FileTxnSnapLog.processTransaction`), failures included. Because the snapshot is fuzzy, a
 * replayed transaction may already be in it: a create of an existing node fails and only
 * raises the parent's cversion to the transaction's, a delete of a missing node only moves
 * the parent's pzxid, exactly as ZooKeeper does on restart.
 *
 * Stats are ZooKeeper's persisted ones: `cversion` counts child creates only; a Stat shows
 * `cversion * 2 - numChildren` (see {@link shownCversion}).
 *
 * Worked example: a snapshot taken at zxid 0x10 holds `/a` (cversion 3, one child `/a/x`),
 * and the log from 0x11 has `create /a/y` (parentCVersion 4) at 0x11 and `delete /a/x` at
 * 0x12. After the replay `/a` has cversion 4, pzxid 0x12, children `y`: its Stat shows
 * cversion 4 * 2 - 1 = 7.
 */
export class ZkImportTree {
  /** Keyed by ZooKeeper path, the root as `/`. */
  readonly nodes = new Map<string, ImportedNode>();
  readonly sessions = new Map<bigint, number>();
  /** Container paths, as `DataTree.containers`. */
  private readonly containers = new Set<string>();
  /** The ephemerals of each session, as `DataTree.ephemerals`. */
  private readonly ephemerals = new Map<bigint, Set<string>>();
  /** The highest zxid in the tree: the snapshot's, then each replayed transaction's. */
  lastZxid = 0;

  /** Takes the sessions a snapshot lists (their ephemerals come with its nodes). */
  loadSnapshotSessions(contents: Pick<SnapshotContents, 'sessions'>): void {
    for (const [id, timeoutMs] of contents.sessions) this.sessions.set(id, timeoutMs);
  }

  /** Adds a node read from a snapshot; its parent must have come before it. */
  loadSnapshotNode(file: string, node: SnapshotNode, offset: number): void {
    const path = node.path === '' ? '/' : node.path;
    if (node.path !== '') {
      const parent = this.nodes.get(parentOf(path));
      if (parent === undefined) {
        throw new ZkDataFileError(
          file,
          offset,
          `node ${path} comes without its parent ${parentOf(path)}: not a ZooKeeper data tree`,
        );
      }
      parent.numChildren++;
    } else if (this.nodes.size > 0) {
      throw new ZkDataFileError(file, offset, 'a second root node');
    }
    if (this.nodes.has(path)) throw new ZkDataFileError(file, offset, `node ${path} twice`);
    this.nodes.set(path, {data: node.data, acl: node.acl, stat: node.stat, numChildren: 0});
    this.trackEphemeral(path, node.stat.ephemeralOwner);
  }

  /** Applies one logged transaction as `FileTxnSnapLog.processTransaction` does. */
  apply(header: TxnHeader, body: TxnBody): void {
    if (body.kind === 'createSession') {
      this.sessions.set(header.clientId, body.timeoutMs);
    } else if (body.kind === 'closeSession') {
      this.sessions.delete(header.clientId);
    }
    this.process(header, header.type, body);
    if (header.zxid > this.lastZxid) this.lastZxid = header.zxid;
  }

  private process(header: TxnHeader, type: number, body: TxnBody): number {
    let err = 0;
    try {
      this.processOne(header, body);
    } catch (error) {
      if (!(error instanceof KeeperError)) throw error;
      err = error.code;
    }
    // A create replayed over a node the fuzzy snapshot already has still moves the parent's
    // cversion and pzxid (ZooKeeper does this for OpCode.create only, as here).
    if (type === P.op.create && body.kind === 'create' && err === NODE_EXISTS) {
      try {
        this.setCversionPzxid(parentOf(body.path), body.parentCVersion, header.zxid);
      } catch (error) {
        if (!(error instanceof KeeperError)) throw error;
        err = error.code;
      }
    }
    return err;
  }

  private processOne(header: TxnHeader, body: TxnBody): void {
    switch (body.kind) {
      case 'create':
        this.createNode(
          body.path,
          body.data,
          body.acl,
          body.ownerOverride ?? (body.ephemeral ? header.clientId : 0n),
          body.parentCVersion,
          header.zxid,
          header.timeMs,
        );
        return;
      case 'delete':
        this.deleteNode(body.path, header.zxid);
        return;
      case 'setData': {
        const n = this.nodes.get(body.path);
        if (n === undefined) throw new KeeperError(NO_NODE);
        n.data = body.data;
        n.stat.mtime = header.timeMs;
        n.stat.mzxid = header.zxid;
        n.stat.version = body.version;
        return;
      }
      case 'setACL': {
        const n = this.nodes.get(body.path);
        if (n === undefined) throw new KeeperError(NO_NODE);
        n.stat.aversion = body.version;
        n.acl = body.acl;
        return;
      }
      case 'closeSession': {
        const local = this.ephemerals.get(header.clientId);
        this.ephemerals.delete(header.clientId);
        if (body.paths !== null) {
          this.deleteNodes(body.paths, header.zxid);
          for (const p of body.paths) local?.delete(p);
        }
        if (local !== undefined) this.deleteNodes([...local], header.zxid);
        return;
      }
      case 'multi': {
        const failed = body.ops.some(o => o.type === P.op.error);
        // A failed multi is logged with every op turned into an error: nothing changes.
        if (failed) return;
        for (const o of body.ops) {
          this.process({...header, type: o.type}, o.type, o.body);
        }
        return;
      }
      case 'error':
      case 'check':
      case 'createSession':
        return;
    }
  }

  /** `DataTree.createNode`. */
  private createNode(
    path: string,
    data: Buffer | null,
    acl: readonly ZkAclEntry[],
    owner: bigint,
    parentCVersion: number,
    zxid: number,
    timeMs: number,
  ): void {
    const parent = this.nodes.get(parentOf(path));
    if (parent === undefined) throw new KeeperError(NO_NODE);
    if (this.nodes.has(path)) throw new KeeperError(NODE_EXISTS);
    let cversion = parentCVersion;
    if (cversion === -1) cversion = parent.stat.cversion + 1;
    if (cversion > parent.stat.cversion) {
      parent.stat.cversion = cversion;
      parent.stat.pzxid = zxid;
    }
    parent.numChildren++;
    this.nodes.set(path, {
      data,
      acl,
      stat: {
        czxid: zxid,
        mzxid: zxid,
        ctime: timeMs,
        mtime: timeMs,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeralOwner: owner,
        pzxid: zxid,
      },
      numChildren: 0,
    });
    this.trackEphemeral(path, owner);
  }

  /** `DataTree.deleteNode`: the parent's pzxid moves even when the node is gone already. */
  private deleteNode(path: string, zxid: number): void {
    const parent = this.nodes.get(parentOf(path));
    if (parent === undefined) throw new KeeperError(NO_NODE);
    const node = this.nodes.get(path);
    if (node !== undefined) parent.numChildren--;
    if (zxid > parent.stat.pzxid) parent.stat.pzxid = zxid;
    if (node === undefined) throw new KeeperError(NO_NODE);
    this.nodes.delete(path);
    if (node.stat.ephemeralOwner === CONTAINER_OWNER) this.containers.delete(path);
    else if (ownerKind(node.stat.ephemeralOwner).kind === 'session') {
      this.ephemerals.get(node.stat.ephemeralOwner)?.delete(path);
    }
  }

  private deleteNodes(paths: Iterable<string>, zxid: number): void {
    for (const p of paths) {
      try {
        this.deleteNode(p, zxid);
      } catch (error) {
        if (!(error instanceof KeeperError)) throw error;
      }
    }
  }

  /** `DataTree.setCversionPzxid`. */
  private setCversionPzxid(path: string, newCversion: number, zxid: number): void {
    const node = this.nodes.get(path);
    if (node === undefined) throw new KeeperError(NO_NODE);
    const cversion = newCversion === -1 ? node.stat.cversion + 1 : newCversion;
    if (cversion > node.stat.cversion) {
      node.stat.cversion = cversion;
      node.stat.pzxid = zxid;
    }
  }

  private trackEphemeral(path: string, owner: bigint): void {
    if (owner === 0n) return;
    if (owner === CONTAINER_OWNER) {
      this.containers.add(path);
      return;
    }
    if (ownerKind(owner).kind !== 'session') return;
    let set = this.ephemerals.get(owner);
    if (set === undefined) {
      set = new Set();
      this.ephemerals.set(owner, set);
    }
    set.add(path);
  }

  /**
   * What a ZooKeeper restarted on these files ends up with once its clients are gone: every
   * session expires (each a closeSession at a zxid of its own, sessions in id order, deleting
   * its ephemerals), then the container manager deletes each container left empty after having
   * had children (each delete its own zxid, a parent container emptied by it next). Returns
   * how many ephemerals and containers went.
   */
  endSessions(): {ephemerals: number; containers: number; sessions: number} {
    let ephemerals = 0;
    const sessions = this.sessions.size;
    const owners = [...this.ephemerals.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const owner of owners) {
      const paths = [...(this.ephemerals.get(owner) ?? [])].sort();
      if (paths.length === 0) continue;
      const zxid = ++this.lastZxid;
      for (const p of paths) {
        if (!this.nodes.has(p)) continue;
        this.deleteNodes([p], zxid);
        ephemerals++;
      }
    }
    this.ephemerals.clear();
    this.sessions.clear();
    let containers = 0;
    const queue = [...this.containers].sort();
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const n = this.nodes.get(p);
      if (n === undefined || n.numChildren > 0 || n.stat.cversion <= 0) continue;
      if (n.stat.ephemeralOwner !== CONTAINER_OWNER) continue;
      this.deleteNodes([p], ++this.lastZxid);
      containers++;
      queue.push(parentOf(p));
    }
    return {ephemerals, containers, sessions};
  }
}

/** ZooKeeper's parent of a path (`path.substring(0, lastSlash)`), the root as `/`. */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** The cversion a ZooKeeper Stat shows: `DataNode.copyStat`'s `cversion * 2 - numChildren`. */
export function shownCversion(node: ImportedNode): number {
  return (Math.imul(node.stat.cversion, 2) - node.numChildren) | 0;
}
