import {copyFile, mkdir, mkdtemp, open, rename, rm, stat, truncate} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';

import type {ConfState, HardState} from '@synod/proto/raftpb';
import {
  Backend,
  BACKEND_FILE,
  BboltReader,
  parseRevisionKey,
  Snapshotter,
  Wal,
} from '@synod/storage';

import {clusterIdFor, memberIdFor} from '../config/member-ids.js';
import type {MemberInfo} from '../member/membership.js';
import {Membership} from '../member/membership.js';
import {META_CONSISTENT_INDEX, SYNOD_META_SCHEDULED_COMPACT, u64be} from './etcd-schema.js';
import {readEtcdSnapshot} from './read-etcd-snapshot.js';
import {inspectSnapshot} from './snapshot-file.js';

/** What {@link restoreSnapshot} needs: the file and the membership of the new cluster. */
export interface RestoreSnapshotOptions {
  /**
   * A file written by `etcdctl snapshot save` from etcd 3.4 / 3.5 or from Synod (etcd's
   * bbolt format), or an older Synod snapshot (an LMDB image); or a backend file without
   * the trailing hash, with `skipHashCheck`.
   */
  readonly snapshotPath: string;
  /** The name of the member this data directory is for; a key of `initialCluster`. */
  readonly name: string;
  /** Every member of the new cluster, by name, with its peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly URL[]>;
  /** The new cluster's token: member and cluster ids are derived from it. */
  readonly initialClusterToken: string;
  /** The data directory to create; must not exist. */
  readonly dataDir: string;
  /** Restore a file without a hash, or whose hash is not to be checked. */
  readonly skipHashCheck?: boolean;
}

/** What a restore wrote. */
export interface RestoreSnapshotResult {
  readonly memberId: number;
  readonly clusterId: number;
  readonly members: readonly MemberInfo[];
  /** The store revision the restored data is at. */
  readonly revision: number;
  /** The raft index and applied index the new cluster's log starts from. */
  readonly index: number;
}

/**
 * The term the restored log starts in. Raft needs a term above 0 for the
 * snapshot every member starts from; the first election moves past it.
 */
const RESTORED_TERM = 1;

/**
 * The WAL metadata a member reads back as its identity on restart: the same
 * shape {@link MemberCore.open} writes when it bootstraps.
 */
interface WalIdentity {
  readonly memberId: number;
  readonly clusterId: number;
  readonly name: string;
}

/**
 * Creates the data directory of one member of a NEW cluster from a snapshot
 * file, as `etcdctl snapshot restore` does: the store (keys, revisions,
 * leases, auth) is kept; the membership is replaced by `initialCluster`, with
 * member and cluster ids derived from it and the token as at a bootstrap.
 *
 * Every member of the new cluster is restored from the same file with the same
 * `initialCluster` and token, so all of them start from the same point: a raft
 * snapshot at index `n` (the number of members), term 1, whose configuration
 * has every member as a voter, a hard state committed to `n`, and a backend
 * whose consistent index is `n`. Nothing is left to replay; the first entry
 * of the new log is the new leader's at `n + 1`.
 *
 * Worked example: three members restored from a store at revision 57 with a
 * consistent index of 9312 in the old cluster. Each data directory gets a
 * snapshot at index 3, term 1, voters `[a, b, c]`; a WAL holding the marker
 * `{index: 3, term: 1}` and the hard state `{term: 1, vote: 0, commit: 3}`;
 * and a backend with the old keys at revision 57, consistent index 3, and
 * the members bucket holding `a`, `b` and `c` only.
 *
 * A snapshot in etcd's format is converted into Synod's backend record by
 * record (see `readEtcdSnapshot`); an LMDB image is copied.
 *
 * The file's hash is checked before anything is created; the directory is
 * built under a temporary name beside `dataDir`, fsynced, and renamed into
 * place only when complete, so a failed restore leaves nothing behind.
 */
export async function restoreSnapshot(
  options: RestoreSnapshotOptions,
): Promise<RestoreSnapshotResult> {
  const {snapshotPath} = options;
  return createMemberDataDir(options, async dbDir => {
    const {format, layout} = await inspectSnapshot(
      snapshotPath,
      options.skipHashCheck === true ? 'skip' : 'required',
    );
    const dbFile = join(dbDir, BACKEND_FILE);
    if (format === 'bbolt') {
      // etcd's format (from etcd, or from Synod's Maintenance.Snapshot): convert it.
      const reader = BboltReader.open(snapshotPath, {sizeBytes: layout.dataBytes});
      const backend = Backend.open(dbDir);
      try {
        await readEtcdSnapshot(reader, backend);
      } finally {
        reader.close();
        await backend.close();
      }
      await rm(join(dbDir, `${BACKEND_FILE}-lock`), {force: true});
    } else {
      // Synod's own LMDB image: the backend file itself.
      await copyFile(snapshotPath, dbFile);
      if (layout.hasHash) await truncate(dbFile, layout.dataBytes);
    }
  });
}

/** The new cluster a data directory is made for: {@link RestoreSnapshotOptions} less the file. */
export type NewClusterOptions = Pick<
  RestoreSnapshotOptions,
  'name' | 'initialCluster' | 'initialClusterToken' | 'dataDir'
>;

/**
 * Builds the data directory of one member of a new cluster around a backend that
 * `fillBackend` writes into the (empty) `dbDir` it is given: the store's keys and revisions
 * come from the caller (a snapshot, a ZooKeeper import), the membership, raft snapshot, WAL
 * and consistent index are made here, as described on {@link restoreSnapshot}. Throws before
 * creating anything when `dataDir` exists; a failure of `fillBackend` leaves nothing behind.
 */
export async function createMemberDataDir(
  options: NewClusterOptions,
  fillBackend: (dbDir: string) => Promise<void>,
): Promise<RestoreSnapshotResult> {
  const {name, initialCluster, initialClusterToken, dataDir} = options;
  const members: MemberInfo[] = [...initialCluster]
    .map(([memberName, urls]) => ({
      id: memberIdFor(urls, initialClusterToken),
      name: memberName,
      peerUrls: urls.map(u => u.origin),
      // Each member publishes its own client URLs through the log once it runs.
      clientUrls: [],
      isLearner: false,
    }))
    .sort((a, b) => a.id - b.id);
  const self = members.find(m => m.name === name);
  if (self === undefined) {
    throw new Error(`--initial-cluster does not name this member (${name})`);
  }
  const ids = new Set(members.map(m => m.id));
  if (ids.size !== members.length) {
    throw new Error('--initial-cluster lists the same peer URLs for two members');
  }
  if (await exists(dataDir)) throw new Error(`data-dir ${JSON.stringify(dataDir)} exists`);

  const clusterId = clusterIdFor(members.map(m => m.id));
  const index = members.length;
  const parent = dirname(dataDir);
  await mkdir(parent, {recursive: true});
  const building = await mkdtemp(join(parent, `.${basename(dataDir)}.restoring-`));
  try {
    const memberDir = join(building, 'member');
    const dbDir = join(memberDir, 'db');
    await mkdir(dbDir, {recursive: true, mode: 0o700});
    const dbFile = join(dbDir, BACKEND_FILE);
    await fillBackend(dbDir);
    const revision = await rewriteBackend(dbDir, members, index);
    await syncPath(dbFile);
    await syncPath(dbDir);

    const confState: ConfState = {voters: members.map(m => m.id), learners: []};
    new Snapshotter(join(memberDir, 'snap')).save({
      index,
      term: RESTORED_TERM,
      confState,
      data: Buffer.from(JSON.stringify(members)),
    });
    const identity: WalIdentity = {memberId: self.id, clusterId, name};
    const wal = Wal.create(join(memberDir, 'wal'), Buffer.from(JSON.stringify(identity)));
    try {
      wal.saveSnapshotMarker({index, term: RESTORED_TERM});
      const hardState: HardState = {term: RESTORED_TERM, vote: 0, commit: index};
      wal.save(hardState, [], true);
    } finally {
      wal.close();
    }
    await syncPath(memberDir);
    await syncPath(building);
    await rename(building, dataDir);
    await syncPath(parent);
    return {memberId: self.id, clusterId, members, revision, index};
  } catch (error) {
    await rm(building, {recursive: true, force: true});
    throw error;
  }
}

/**
 * Replaces the whole members bucket with the new cluster's members and sets the
 * consistent index to the new log's starting index, leaving keys, leases and
 * auth as they are. Returns the store's revision, as the store computes it when it
 * opens: the last revision in `key`, or the compaction revision if that is higher, at
 * least 1. (Opening the store itself would rebuild its whole key index to learn it: a
 * quarter of a restore's time, measured on 200,000 keys.)
 */
async function rewriteBackend(
  dbDir: string,
  members: readonly MemberInfo[],
  index: number,
): Promise<number> {
  const backend = Backend.open(dbDir);
  let revision: number;
  try {
    // Everything the old cluster kept there goes: its members, the ids it removed and
    // the raft indexes of conf changes it refused all belong to its log, not the new one.
    const stale = [...backend.range('members', new Uint8Array(0))].map(e => e.key);
    for (const key of stale) backend.delete('members', key);
    const membership = new Membership(backend);
    for (const m of members) membership.set(m);
    backend.put('meta', Buffer.from(META_CONSISTENT_INDEX), u64be(index));
    const last = backend.lastCommitted('key');
    const compacted = backend.get('meta', Buffer.from(SYNOD_META_SCHEDULED_COMPACT));
    revision = Math.max(
      1,
      last === undefined ? 0 : parseRevisionKey(last.key).main,
      compacted === undefined ? 0 : Number(Buffer.from(compacted).readBigUInt64BE(0)),
    );
    await backend.commit();
  } finally {
    await backend.close();
  }
  await rm(join(dbDir, `${BACKEND_FILE}-lock`), {force: true});
  return revision;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
