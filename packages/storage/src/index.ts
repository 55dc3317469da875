export type {FileHandle, FileSystem} from './fs/file-system.js';
export {NodeFileSystem} from './fs/node-file-system.js';
export {CrashFileSystem, SECTOR_BYTES} from './fs/crash-file-system.js';
export type {CrashOptions} from './fs/crash-file-system.js';

export {crc32c} from './wal/crc32c.js';
export {Wal} from './wal/wal.js';
export type {SnapshotMarker, WalOptions, WalReplay} from './wal/wal.js';
export {WalCorruptionError} from './wal/wal-corruption-error.js';

export {Snapshotter} from './snap/snapshotter.js';
export type {SnapshotFile} from './snap/snapshotter.js';

export {Backend, BACKEND_FILE, BackendKeyError} from './backend/backend.js';
export type {BackendOptions} from './backend/backend.js';
export type {BackendEntry, BackendReadView, Bucket} from './backend/backend.js';

export type {KeyValue, KvEvent} from './mvcc/key-value.js';
export type {
  CompactionHandle,
  HashKvResult,
  KV,
  RangeOptions,
  RangeResult,
  ReadView,
  TxnObserver,
  TxnRead,
  TxnWrite,
  WriteView,
} from './mvcc/kv.js';
export {KvStore, keyInterval} from './mvcc/kv-store.js';
export type {CompactionObserver, KvStoreOptions, LeaseHooks} from './mvcc/kv-store.js';
export {KvExecutor, evaluateCompare, executeRange} from './mvcc/kv-executor.js';
export type {KvExecutorOptions, WithRevision} from './mvcc/kv-executor.js';
export {
  DEFAULT_MAX_TXN_OPS,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from './mvcc/request-validation.js';
export {CompareResult, CompareTarget, SortOrder, SortTarget} from './mvcc/requests.js';
export type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from './mvcc/requests.js';
export {ErrorMessages, StorageError, errCompacted, errFutureRev} from './mvcc/storage-error.js';
export type {StorageErrorCode} from './mvcc/storage-error.js';
export {WatchFilter, WatchStream} from './mvcc/watch-stream.js';
export type {WatchRequest, WatchResponse} from './mvcc/watch-stream.js';
export {WatchableStore} from './mvcc/watchable-store.js';
export type {WatchableKV, WatchableStoreOptions} from './mvcc/watchable-store.js';

/** @internal the backend's record formats, for converting snapshots to and from etcd's. */
export {decodeRecord, encodeRecord} from './mvcc/key-value.js';
export {encodeEtcdKeyValue} from './mvcc/encode-etcd-key-value.js';
export {bytesFieldSize, numberFieldSize, varintSize, writeVarint} from './mvcc/protobuf-varint.js';
export {parseRevisionKey, revisionKey} from './mvcc/revision.js';

export {Lessor, MAX_LEASE_TTL_SECONDS} from './lease/lessor.js';
export type {LeaseInfo, LessorObserver, LessorOptions} from './lease/lessor.js';

export {BboltBucket, BboltReader} from './bbolt/bbolt-reader.js';
export type {BboltCheckResult, BboltEntry, BboltOpenOptions} from './bbolt/bbolt-reader.js';
export {streamBboltFile, writeBboltFile} from './bbolt/bbolt-writer.js';
export type {
  BboltFill,
  BboltItem,
  BboltItems,
  BboltSink,
  BboltStreamOptions,
  BboltWriteOptions,
  BboltWriteResult,
} from './bbolt/bbolt-writer.js';
export {BboltFormatError} from './bbolt/bbolt-format-error.js';
