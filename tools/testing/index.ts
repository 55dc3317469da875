/**
 * `@synod/testing`: helpers for tests and benchmarks that run real servers on
 * loopback. Only test files, benchmarks and tools import it.
 */
export {etcdSkipReason, freePorts, startEtcd, startSynod, testServers} from './etcd-process.js';
export type {
  EtcdCluster,
  EtcdClusterOptions,
  EtcdMember,
  HealthTls,
  NewMemberSpec,
} from './etcd-process.js';
export {readMetric} from './etcd-metrics.js';
export {sleep, waitFor} from './wait-for.js';
export {netnsSkipReason, startSynodInNetns} from './netns-cluster.js';
export type {NetnsCluster} from './netns-cluster.js';
export {grpcFrame, grpcMessages, rawGrpcCall} from './raw-grpc.js';
export type {RawGrpcOptions, RawGrpcResult} from './raw-grpc.js';
export {runSynodCommand} from './synod-command.js';
export {startRestoredMember} from './restored-member.js';
export type {RestoredCluster} from './restored-member.js';
export type {SynodCommandResult} from './synod-command.js';
export {makeTestPki, mutualTlsOptions, opensslSkipReason} from './test-pki.js';
export type {CertFiles, TestPki} from './test-pki.js';
export {esmOnlyMessage, packProject, packSkipReason, requiresEsm} from './pack-project.js';
export type {
  PackedProject,
  PackProjectOptions,
  RunScriptOptions,
  TypeCheckOptions,
} from './pack-project.js';
export {
  fourLetterWord,
  startZooKeeper,
  TEST_CONTAINER_CHECK_INTERVAL_MS,
  zkCliPath,
  zookeeperJava,
  zookeeperSkipReason,
} from './zookeeper-process.js';
export type {ZooKeeperEnsemble, ZooKeeperOptions, ZooKeeperServer} from './zookeeper-process.js';
export {exchangeRaw, ZooKeeperClient} from './zookeeper-client.js';
export {zkListing} from './zookeeper-listing.js';
export type {ListingOptions} from './zookeeper-listing.js';
export type {
  ConnectOptions,
  ConnectResponse,
  Inbound,
  MultiOp,
  MultiResult,
  RawExchange,
  Reply,
  WatchEvent,
  WatchSet,
} from './zookeeper-client.js';
export {
  AddWatchMode,
  CreateMode,
  ErrorCode,
  EventType,
  JuteReader,
  JuteWriter,
  OpCode,
  WatcherType,
  errorName,
  eventName,
  openAcl,
} from './zookeeper-jute.js';
export type {Acl, Stat} from './zookeeper-jute.js';
export {compileCuratorChecks, curatorSkipReason, runCurator} from './curator/curator-program.js';
export type {
  CuratorCheck,
  CuratorResult,
  CuratorRun,
  CuratorRunOptions,
} from './curator/curator-program.js';
export {startZkCluster} from './curator/zk-cluster.js';
export type {ZkCluster} from './curator/zk-cluster.js';
