export type {Config} from './config.js';
export {validateConfig} from './config.js';
export {entrySize} from './entry-size.js';
export {
  CompactedError,
  ConfChangeRefusedError,
  ConfigError,
  ProposalDroppedError,
  RaftError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  StepLocalMessageError,
  StepPeerNotFoundError,
  UnavailableError,
} from './errors.js';
export type {Logger} from './logger.js';
export {silentLogger} from './logger.js';
export {emptySnapshot, MemoryStorage} from './memory-storage.js';
export {MajorityConfig} from './quorum/majority-config.js';
export type {VoteResult} from './quorum/vote-result.js';
export type {ReadState} from './read-only.js';
export type {Ready, SoftState} from './ready.js';
export type {Peer} from './raw-node.js';
export {RawNode} from './raw-node.js';
export type {Rng} from './seeded-rng.js';
export {SeededRng} from './seeded-rng.js';
export type {StateRole} from './state-role.js';
export type {ProgressStatus, Status} from './status.js';
export type {InitialState, Storage} from './storage.js';
export type {ProgressState} from './tracker/progress.js';
