import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

import type {ConfState} from '@synod/proto/raftpb';
import {ConfChangeContext} from '@synod/proto/synodpb';
import {MemoryStorage, RawNode, SeededRng} from '@synod/raft';
import {Snapshotter, Wal} from '@synod/storage';

import type {MemberConfig} from '../config/member-config.js';
import {clusterIdFor, memberIdFor} from '../config/member-ids.js';
import type {JoinInfo, MemberEnvironment, MemberLogger} from './member-environment.js';
import type {MemberStorage} from './member-storage.js';
import {nodeMemberStorage} from './member-storage.js';
import {forceNewClusterLog} from './force-new-cluster.js';
import {unsyncedFileSystem} from './unsynced-file-system.js';
import type {MemberInfo} from './membership.js';

/** What a member writes into its WAL's metadata: who it is, in which cluster. */
export interface WalIdentity {
  readonly memberId: number;
  readonly clusterId: number;
  readonly name: string;
}

/** A member's data directory, opened: what {@link MemberCore} is built from. */
export interface OpenedDataDir {
  readonly identity: WalIdentity;
  readonly wal: Wal;
  readonly raftStorage: MemoryStorage;
  readonly snapshotter: Snapshotter;
  /** The backend's directory. */
  readonly dbDir: string;
  readonly node: RawNode;
  readonly confState: ConfState;
  readonly storage: MemberStorage;
}

/**
 * Start-up and recovery, as etcd's bootstrap: opens the member's data directory and builds its
 * raft node. With a WAL, recovers from it and the newest raft snapshot (and with
 * `--force-new-cluster` makes this member a cluster of its own); without one, writes a
 * new WAL, either to join a running cluster (`--initial-cluster-state existing`, with what the
 * peers said in `joining`) or to found one from `--initial-cluster`.
 */
export function openDataDir(
  config: MemberConfig,
  logger: MemberLogger,
  env: MemberEnvironment,
  joining: JoinInfo | undefined,
): OpenedDataDir {
  const memberDir = join(config.dataDir, 'member');
  const walDir = join(memberDir, 'wal');
  const snapDir = join(memberDir, 'snap');
  const dbDir = join(memberDir, 'db');
  mkdirSync(dbDir, {recursive: true});
  const storage = env.storage ?? nodeMemberStorage;
  const walOptions = {
    fs: storage.fs,
    ...(storage.walSegmentBytes === undefined ? {} : {segmentBytes: storage.walSegmentBytes}),
  };
  const snapshotter = new Snapshotter(
    snapDir,
    env.bugs?.has('snapshot-before-fsync') === true ? unsyncedFileSystem(storage.fs) : storage.fs,
  );
  const raftStorage = new MemoryStorage();

  let wal: Wal;
  let identity: WalIdentity;
  let bootstrapPeers: {id: number; context: Uint8Array}[] | undefined;
  let applied = 0;
  let confState: ConfState = {voters: [], learners: []};
  if (Wal.exists(walDir, walOptions)) {
    const opened = Wal.open(walDir, walOptions);
    wal = opened.wal;
    identity = JSON.parse(Buffer.from(opened.replay.metadata).toString('utf8')) as WalIdentity;
    const snap = snapshotter.loadNewest();
    if (snap !== undefined) {
      raftStorage.applySnapshot({
        data: snap.data,
        metadata: {index: snap.index, term: snap.term, confState: snap.confState},
      });
      applied = snap.index;
      confState = snap.confState;
    }
    const hs = opened.replay.hardState;
    if (config.forceNewCluster) {
      const forced = forceNewClusterLog(
        {
          id: identity.memberId,
          name: config.name,
          peerUrls: config.initialAdvertisePeerUrls.map(u => u.origin),
          clientUrls: [],
          isLearner: false,
        },
        confState,
        applied,
        opened.replay.entries,
        hs ?? {term: 0, vote: 0, commit: 0},
      );
      wal.save(forced.hardState, forced.appended);
      raftStorage.setHardState(forced.hardState);
      raftStorage.append(forced.entries);
      logger.warn(
        {
          memberId: identity.memberId.toString(16),
          removed: forced.removed.map(id => id.toString(16)),
          commit: forced.hardState.commit,
        },
        'forcing a new cluster of this member alone (--force-new-cluster)',
      );
    } else {
      if (hs !== undefined) {
        // A crash after a snapshot was saved but before the hard state that followed
        // it leaves a commit index behind the snapshot; the snapshot itself is committed.
        raftStorage.setHardState({...hs, commit: Math.max(hs.commit, applied)});
      }
      // A crash between writing a snapshot file and its WAL marker leaves entries the
      // snapshot already covers; the log continues after the snapshot.
      raftStorage.append(opened.replay.entries.filter(e => e.index > applied));
    }
    logger.info(
      {memberId: identity.memberId.toString(16), entries: opened.replay.entries.length, applied},
      'member recovered from its WAL',
    );
  } else if (config.initialClusterState === 'existing') {
    if (joining === undefined) {
      throw new Error(
        '--initial-cluster-state existing needs the cluster members, asked of the peers first',
      );
    }
    // A joining member starts with an empty log and no configuration: the leader
    // sends it the log (or a snapshot), which carries the membership.
    identity = {memberId: joining.memberId, clusterId: joining.clusterId, name: config.name};
    wal = Wal.create(walDir, Buffer.from(JSON.stringify(identity)), walOptions);
    logger.info(
      {
        memberId: identity.memberId.toString(16),
        clusterId: identity.clusterId.toString(16),
        members: joining.members.length,
      },
      'joining an existing cluster',
    );
  } else {
    const members: MemberInfo[] = [...config.initialCluster].map(([name, urls]) => ({
      id: memberIdFor(urls, config.initialClusterToken),
      name,
      peerUrls: urls.map(u => u.origin),
      // Every member must write the same bootstrap entries: client URLs are
      // published by each member through the log once it runs.
      clientUrls: [],
      isLearner: false,
    }));
    const self = members.find(m => m.name === config.name);
    if (self === undefined) throw new Error(`--initial-cluster does not name ${config.name}`);
    const clusterId = clusterIdFor(members.map(m => m.id));
    identity = {memberId: self.id, clusterId, name: config.name};
    wal = Wal.create(walDir, Buffer.from(JSON.stringify(identity)), walOptions);
    bootstrapPeers = members
      .sort((a, b) => a.id - b.id)
      .map(m => ({
        id: m.id,
        context: ConfChangeContext.encode({
          member: {
            id: BigInt(m.id),
            name: m.name,
            peerUrls: [...m.peerUrls],
            clientUrls: [...m.clientUrls],
            isLearner: false,
            zkClientAddress: '',
            zkSecureClientAddress: '',
          },
          promote: false,
          requestId: 0n,
        }).finish(),
      }));
    logger.info(
      {
        memberId: identity.memberId.toString(16),
        clusterId: clusterId.toString(16),
        members: members.length,
      },
      'bootstrapping a new cluster',
    );
  }
  const electionTick = Math.max(
    2,
    Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs),
  );
  const node = new RawNode({
    id: identity.memberId,
    electionTick,
    heartbeatTick: 1,
    storage: raftStorage,
    applied,
    maxSizePerMsg: env.raftMaxSizePerMsg ?? 1024 * 1024,
    maxInflightMsgs: 512,
    checkQuorum: true,
    preVote: true,
    rng: new SeededRng(env.random.int(2 ** 31)),
    unsafeCommitEarlierTermByCount: env.bugs?.has('commit-earlier-term-by-count') === true,
    // Raft's own sentences, at the member's levels; its debug chatter is left out.
    logger: {
      debug: () => undefined,
      info: msg => {
        logger.info({component: 'raft'}, msg);
      },
      warn: msg => {
        logger.warn({component: 'raft'}, msg);
      },
      error: msg => {
        logger.error({component: 'raft'}, msg);
      },
    },
  });
  if (bootstrapPeers !== undefined) node.bootstrap(bootstrapPeers);
  return {identity, wal, raftStorage, snapshotter, dbDir, node, confState, storage};
}
