import {readdir, readFile, rm, stat} from 'node:fs/promises';
import {basename, join} from 'node:path';
import {gunzipSync} from 'node:zlib';

import {Backend, BACKEND_FILE, encodeRecord, revisionKey} from '@synod/storage';

import type {NewClusterOptions, RestoreSnapshotResult} from '../restore/restore-snapshot.js';
import {createMemberDataDir} from '../restore/restore-snapshot.js';
import {ZkKeys} from '../zookeeper/zk-keys.js';
import {SYSTEM_PATHS} from '../zookeeper/zk-tree-reader.js';
import {encodeCounters, encodeZnode} from '../zookeeper/znode-record.js';
import {ZkDataFileError, ownerKind} from './zk-data-files.js';
import {readSnapshot} from './zk-snapshot-file.js';
import {readTxnLog} from './zk-txn-log-file.js';
import type {ImportedNode} from './zk-import-tree.js';
import {ZkImportTree, shownCversion} from './zk-import-tree.js';

/** What {@link importZooKeeper} needs: where ZooKeeper's files are, and the new member. */
export interface ZkImportOptions extends NewClusterOptions {
  /**
   * ZooKeeper's `dataDir` (holding `version-2/`), or its `version-2` directory itself: the
   * snapshots, and the transaction logs unless `zkLogDir` is given.
   */
  readonly zkDataDir: string;
  /** ZooKeeper's `dataLogDir`, when its logs are kept apart from the snapshots. */
  readonly zkLogDir?: string;
}

/** What an import read and wrote. */
export interface ZkImportResult extends RestoreSnapshotResult {
  /** The snapshot the tree started from. */
  readonly snapshot: string;
  /** The zxid in the snapshot's name, and the last zxid replayed from the logs. */
  readonly snapshotZxid: number;
  readonly lastZxid: number;
  readonly logs: readonly string[];
  /** Transactions replayed from the logs (past the snapshot). */
  readonly transactions: number;
  /** Znodes written, ZooKeeper's own four (/, /zookeeper, ...) included. */
  readonly znodes: number;
  /** Ephemerals dropped with their sessions, and containers then left empty. */
  readonly droppedEphemerals: number;
  readonly droppedContainers: number;
  readonly sessions: number;
}

/** Writes are committed in batches of this many records, to bound what the backend buffers. */
const COMMIT_EVERY = 20_000;

/**
 * Creates the data directory of one member of a new cluster from a ZooKeeper 3.x data
 * directory, as a ZooKeeper server would restore it: the newest snapshot, then every
 * transaction logged after it. Then every session ends, as when the clients are lost: their
 * ephemerals go, and containers left empty by that. Data, ACLs, version, cversion, aversion,
 * ctime, mtime, TTLs and containers are kept; zxids become revisions in the same order.
 *
 * Every file is checked before anything is created (magic, version, Adler-32 checksums, end
 * markers, record lengths, the tree's shape), and a fault is one line naming the file, the
 * byte offset and the problem. The member's directory is then built as by `restoreSnapshot`,
 * under a temporary name, and renamed into place only when complete.
 *
 * How zxids map to revisions: the distinct non-zero zxids the tree still shows (czxid, mzxid,
 * pzxid) are sorted; the n-th (from 1) becomes revision n + 2, zxid 0 stays 0 (ZooKeeper's
 * own nodes), and revision 2 holds the nodes whose last change is zxid 0. Each node's key is
 * written at its mzxid's revision with its czxid's revision as create revision; a node's
 * child counters at its pzxid's revision. Example: czxids 0x100000002, 0x100000005 and an
 * mzxid 0x100000009 become revisions 3, 4 and 5; the store is at revision 5.
 */
export async function importZooKeeper(options: ZkImportOptions): Promise<ZkImportResult> {
  const snapDir = await versionDir(options.zkDataDir);
  const logDir = options.zkLogDir === undefined ? snapDir : await versionDir(options.zkLogDir);
  const {tree, snapshot, snapshotZxid, logs, transactions} = await loadTree(snapDir, logDir);
  const replayedTo = tree.lastZxid;
  const dropped = tree.endSessions();
  let znodes = 0;
  const result = await createMemberDataDir(options, async dbDir => {
    znodes = await writeTree(tree, dbDir);
  });
  return {
    ...result,
    snapshot,
    snapshotZxid,
    lastZxid: replayedTo,
    logs,
    transactions,
    znodes,
    droppedEphemerals: dropped.ephemerals,
    droppedContainers: dropped.containers,
    sessions: dropped.sessions,
  };
}

/** The `version-2` directory of a ZooKeeper data dir (or the dir itself if it is one). */
async function versionDir(dir: string): Promise<string> {
  const inner = join(dir, 'version-2');
  if (await isDirectory(inner)) return inner;
  if (basename(dir) === 'version-2' && (await isDirectory(dir))) return dir;
  if (!(await isDirectory(dir))) throw new Error(`${dir}: no such directory`);
  throw new Error(`${dir}: not a ZooKeeper data directory (it has no version-2 directory)`);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** ZooKeeper's file names: `<prefix>.<zxid in hex>[.<compression>]`. */
function zxidOfName(name: string, prefix: string): number | undefined {
  const parts = name.split('.');
  if (parts.length < 2 || parts[0] !== prefix) return undefined;
  const hex = parts[1] ?? '';
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return undefined;
  const z = Number.parseInt(hex, 16);
  return Number.isSafeInteger(z) ? z : undefined;
}

interface LoadedTree {
  readonly tree: ZkImportTree;
  readonly snapshot: string;
  readonly snapshotZxid: number;
  readonly logs: string[];
  readonly transactions: number;
}

/** `FileTxnSnapLog.restore`: the newest snapshot, then the logs from its zxid + 1. */
async function loadTree(snapDir: string, logDir: string): Promise<LoadedTree> {
  const snapNames = (await readdir(snapDir))
    .map(name => ({name, zxid: zxidOfName(name, 'snapshot')}))
    .filter((s): s is {name: string; zxid: number} => s.zxid !== undefined)
    .sort((a, b) => b.zxid - a.zxid);
  const logNames = (await readdir(logDir))
    .map(name => ({name, zxid: zxidOfName(name, 'log')}))
    .filter((s): s is {name: string; zxid: number} => s.zxid !== undefined)
    .sort((a, b) => a.zxid - b.zxid);
  const newest = snapNames[0];
  if (newest === undefined) {
    throw new Error(
      logNames.length === 0
        ? `${snapDir}: no snapshot.<zxid> and no log.<zxid> file: nothing to import`
        : `${snapDir}: no snapshot.<zxid> file, only transaction logs: ZooKeeper itself refuses to start from these ("No snapshot found, but there are log entries")`,
    );
  }
  const snapshot = join(snapDir, newest.name);
  const tree = new ZkImportTree();
  const contents = readSnapshot(snapshot, await readSnapshotBytes(snapshot), (node, offset) => {
    tree.loadSnapshotNode(snapshot, node, offset);
  });
  tree.loadSnapshotSessions(contents);
  if (!tree.nodes.has('/'))
    throw new ZkDataFileError(snapshot, 16, 'the snapshot has no root node');
  tree.lastZxid = newest.zxid;

  // The log that holds the snapshot's zxid + 1: the last one starting at or before the
  // snapshot's zxid, and every later one (FileTxnLog.getLogFiles).
  let first = 0;
  for (const l of logNames) if (l.zxid <= newest.zxid && l.zxid > first) first = l.zxid;
  const logs = logNames.filter(l => l.zxid >= first).map(l => join(logDir, l.name));
  let transactions = 0;
  let previous: {zxid: number; file: string} | undefined;
  for (const file of logs) {
    const {records} = readTxnLog(file, await readFile(file));
    for (const record of records) {
      const {zxid} = record.header;
      if (zxid <= newest.zxid) continue;
      if (previous !== undefined && zxid <= previous.zxid) {
        throw new ZkDataFileError(
          file,
          record.offset,
          `zxid 0x${zxid.toString(16)} does not follow 0x${previous.zxid.toString(16)} (${previous.file}): the logs overlap or are out of order`,
        );
      }
      previous = {zxid, file};
      tree.apply(record.header, record.body);
      transactions++;
    }
  }
  return {tree, snapshot, snapshotZxid: newest.zxid, logs, transactions};
}

async function readSnapshotBytes(file: string): Promise<Buffer> {
  const raw = await readFile(file);
  if (file.endsWith('.gz')) {
    try {
      return gunzipSync(raw);
    } catch (error) {
      throw new ZkDataFileError(
        file,
        0,
        `not a readable gzip file: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (file.endsWith('.snappy')) {
    throw new ZkDataFileError(
      file,
      0,
      'snappy-compressed snapshots are not supported: restart ZooKeeper with zookeeper.snapshot.compression.method=none and let it write a new snapshot',
    );
  }
  return raw;
}

/**
 * Where zxids land in the store: the sorted distinct non-zero zxids of the tree, each to
 * its rank + 2 (see {@link importZooKeeper}).
 */
class RevisionMap {
  private readonly sorted: Float64Array;

  constructor(nodes: Iterable<ImportedNode>, count: number) {
    const all = new Float64Array(count * 3);
    let n = 0;
    for (const node of nodes) {
      all[n++] = node.stat.czxid;
      all[n++] = node.stat.mzxid;
      all[n++] = node.stat.pzxid;
    }
    all.sort();
    let u = 0;
    for (let i = 0; i < n; i++) {
      const z = all[i] as number;
      if (z !== 0 && (u === 0 || all[u - 1] !== z)) all[u++] = z;
    }
    this.sorted = all.subarray(0, u);
  }

  /** The revision a zxid becomes: 0 for 0. */
  of(zxid: number): number {
    if (zxid === 0) return 0;
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.sorted[mid] as number;
      if (v === zxid) return mid + 3;
      if (v < zxid) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new Error(`zxid ${zxid} is not in the tree`);
  }

  /** The store revision a key changed at that zxid is written at. */
  keyRevision(zxid: number): number {
    return Math.max(2, this.of(zxid));
  }

  get highest(): number {
    return this.sorted.length + 2;
  }
}

/** Writes every node (and its child counters when they differ from the defaults). */
async function writeTree(tree: ZkImportTree, dbDir: string): Promise<number> {
  const revisions = new RevisionMap(tree.nodes.values(), tree.nodes.size);
  // The next sub-revision free at each revision.
  const nextSub = new Uint32Array(revisions.highest + 1);
  const backend = Backend.open(dbDir);
  let pending = 0;
  const put = async (
    key: Buffer,
    value: Buffer,
    createRevision: number,
    modRevision: number,
  ): Promise<void> => {
    const sub = nextSub[modRevision] ?? 0;
    nextSub[modRevision] = sub + 1;
    const record = encodeRecord(
      {
        key,
        createRevision,
        modRevision,
        version: createRevision === modRevision ? 1 : 2,
        value,
        lease: 0n,
      },
      false,
    );
    backend.put('key', revisionKey(modRevision, sub), record);
    if (++pending % COMMIT_EVERY === 0) await backend.commit();
  };
  try {
    for (const [path, node] of tree.nodes) {
      const s = node.stat;
      const owner = ownerKind(s.ephemeralOwner);
      const czxid = revisions.of(s.czxid);
      const mzxid = revisions.of(s.mzxid);
      const createRevision = revisions.keyRevision(s.czxid);
      const value = encodeZnode({
        data: node.data ?? Buffer.alloc(0),
        nullData: node.data === null,
        version: s.version,
        aversion: s.aversion,
        ephemeralOwner: 0n,
        ctimeMs: s.ctime,
        mtimeMs: s.mtime,
        mzxid,
        container: owner.kind === 'container',
        ttlMs: owner.kind === 'ttl' ? owner.ttlMs : 0,
        acl: node.acl,
      });
      await put(
        ZkKeys.node(path),
        value,
        createRevision,
        Math.max(createRevision, revisions.keyRevision(s.mzxid)),
      );
      // Synod reads a node without a counters key as {cversion 0, pzxid czxid, no children}.
      const counters = {
        cversion: shownCversion(node),
        pzxid: revisions.of(s.pzxid),
        numChildren: node.numChildren,
      };
      const shownCzxid = SYSTEM_PATHS.has(path) ? 0 : czxid;
      if (counters.cversion !== 0 || counters.numChildren !== 0 || counters.pzxid !== shownCzxid) {
        const at = revisions.keyRevision(s.pzxid);
        await put(ZkKeys.meta(path), encodeCounters(counters), at, at);
      }
    }
  } finally {
    await backend.close();
  }
  await rm(join(dbDir, `${BACKEND_FILE}-lock`), {force: true});
  return tree.nodes.size;
}
