/**
 * `@synod/server`: a cluster member that serves the etcd v3 API over Raft, and
 * (as it lands) `startMember(config)` for embedding one in-process.
 */
export {
  ConfigError,
  memberDefaults,
  parseInitialCluster,
  parseRetention,
  resolveMemberConfig,
} from './config/member-config.js';
export type {LogLevel, MemberConfig, MemberConfigInput} from './config/member-config.js';
export {clusterIdFor, memberIdFor} from './config/member-ids.js';
export {restoreSnapshot} from './restore/restore-snapshot.js';
export type {RestoreSnapshotOptions, RestoreSnapshotResult} from './restore/restore-snapshot.js';
export {snapshotStatus} from './restore/snapshot-status.js';
export {importZooKeeper} from './zk-import/import-zookeeper.js';
export type {ZkImportOptions, ZkImportResult} from './zk-import/import-zookeeper.js';
/** @internal A ZooKeeper data dir writer for the import benchmark and its tests. */
export {generateZkDataDir} from './zk-import/zk-data-generator.js';
export type {SnapshotStatus} from './restore/snapshot-status.js';
export {startMember} from './start-member.js';
export type {Member, StartMemberOptions} from './start-member.js';
export type {MemberLogger} from './member/member.js';
export {SkipEntryError, skipEntry} from './repair/skip-entry.js';
export type {SkipEntryResult} from './repair/skip-entry.js';
export {UnappliableEntryError} from './member/unappliable-entry-error.js';
/** @internal The member's Ready loop and what it runs on, for the simulator. */
export {RaftLoop} from './member/raft-loop.js';
export type {RaftLoopHandlers} from './member/raft-loop.js';
export type {Clock, RandomSource, TimerHandle} from './member/clock.js';
export {nodeClock, nodeRandom} from './util/node-clock.js';
/** @internal The whole member core, its storage seam and its injectable bugs, for the simulator. */
export {MemberCore} from './member/member.js';
export type {MemberEnvironment} from './member/member.js';
export {nodeMemberStorage} from './member/member-storage.js';
export type {MemberStorage} from './member/member-storage.js';
export {injectedBugs, isInjectedBug} from './member/injected-bugs.js';
export type {InjectedBug} from './member/injected-bugs.js';
