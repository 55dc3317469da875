/**
 * `@synod/recipes`: coordination recipes (lock, election, service registry, config
 * watcher, ZooKeeper-style node tree) as RxJS Observables over `@synod/client`.
 */
export {Session} from './session.js';
export type {LeaseState, SessionOptions} from './session.js';
export {Mutex, SessionExpiredError, leaseHex} from './mutex.js';
export type {AcquireOptions, MutexState, MutexStatus} from './mutex.js';
export {LockHandle, LockKeyDeletedError} from './lock-handle.js';
export {isTransient} from './retry-transient.js';
export {applyBatch} from './key-snapshot.js';
export type {KeySnapshot} from './key-snapshot.js';
export {Election, NotLeaderError, leaderOf} from './election.js';
export type {ElectionState, ElectionStatus, LeaderInfo, LeaderState} from './election.js';
export {Registration, ServiceRegistry} from './service-registry.js';
export type {
  RegisterOptions,
  RegistrationState,
  RegistrationStatus,
  ServiceRegistryOptions,
  ServiceRegistryState,
} from './service-registry.js';
export {toServiceInstances} from './service-instances.js';
export type {ServiceInstance} from './service-instances.js';
export {randomPicker, roundRobinPicker} from './pickers.js';
export type {Picker} from './pickers.js';
export {ConfigWatcher} from './config-watcher.js';
export type {ConfigSchema, ConfigWatcherOptions, RawConfigObject} from './config-watcher.js';
export {ConfigInvalidError, decodeConfig} from './decode-config.js';
export type {DecodeConfigOptions} from './decode-config.js';
export {StmConflictError, stm} from './stm.js';
export type {StmOptions, StmTx} from './stm.js';
export {Counter} from './counter.js';
export {Semaphore} from './semaphore.js';
export {ReadWriteLock} from './read-write-lock.js';
export {Barrier} from './barrier.js';
export {DoubleBarrier, TooManyParticipantsError} from './double-barrier.js';
export {Queue} from './queue.js';
export {PriorityQueue} from './priority-queue.js';
export {CreateMode, ZkTree} from './zk-tree.js';
export type {NodeData, Stat, ZkTreeOptions} from './zk-tree.js';
export {
  BadVersionError,
  NoChildrenForEphemeralsError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  ZkError,
} from './zk-errors.js';
