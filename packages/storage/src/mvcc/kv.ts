import type {KeyValue, KvEvent} from './key-value.js';

/** Options of a low-level range read. */
export interface RangeOptions {
  /** Maximum number of key-values returned; 0 or absent = all. */
  readonly limit?: number;
  /** Revision to read at; 0 or absent = the current one. */
  readonly rev?: number;
  /** Only count, return no key-values. */
  readonly countOnly?: boolean;
}

export interface RangeResult {
  /** Key-values in key order. */
  readonly kvs: KeyValue[];
  /** The revision read at. */
  readonly rev: number;
  /** Keys in the range at `rev`, regardless of `limit`. */
  readonly count: number;
}

/**
 * Read access at a fixed point. Key ranges follow etcd: `end` empty or absent = the single
 * key `key`; `end` = `\0` = every key >= `key`; otherwise `[key, end)`.
 */
export interface ReadView {
  /** The compacted revision: reads below it fail with ErrCompacted. -1 before any compaction. */
  firstRev(): number;
  /** The store revision this view reads at by default. */
  rev(): number;
  /** Throws ErrFutureRev / ErrCompacted for revisions out of the history window. */
  range(key: Uint8Array, end: Uint8Array | undefined, options?: RangeOptions): RangeResult;
}

/** Changes, all at the revision after the current one. */
export interface WriteView {
  /** Puts `key`; returns the revision the change will have. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number;
  /** Deletes the keys in the range; returns how many existed. */
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): {deleted: number; rev: number};
}

/** A read transaction; `end()` releases it. */
export interface TxnRead extends ReadView {
  end(): void;
}

/**
 * A write transaction: all its changes share one revision (sub-revisions 0, 1, ...). Reads
 * inside it see its own changes. The store revision moves only at `end()`, and only if
 * something changed.
 */
export interface TxnWrite extends TxnRead, WriteView {
  /** Events of the changes so far, in order. */
  changes(): readonly KvEvent[];
}

/** Outcome of scheduling a compaction. */
export interface CompactionHandle {
  /** Resolves when the removed revisions are gone from the backend and that is committed. */
  readonly done: Promise<void>;
}

export interface HashKvResult {
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

/** The multi-version key-value store. */
export interface KV extends ReadView {
  read(): TxnRead;
  write(): TxnWrite;
  /**
   * Forgets history before `rev` (reads at `rev` still work). Throws ErrCompacted if
   * `rev <= firstRev()`, ErrFutureRev if `rev > rev()`.
   */
  compact(rev: number): CompactionHandle;
  /** Hash of the history in `(compact revision, rev]` plus what compaction kept; 0 = current. */
  hashKV(rev: number): Promise<HashKvResult>;
  /** Records that raft entry `index` is applied; persisted with the next commit. */
  setConsistentIndex(index: number): void;
  consistentIndex(): number;
  /**
   * Commits buffered backend writes (one LMDB transaction) without waiting for the disk; the
   * promise resolves when they are durable. Reads see the writes either way.
   */
  commit(): Promise<void>;
  close(): Promise<void>;
}

/** Something that hears about every committed write txn (the watchable store). */
export type TxnObserver = (rev: number, events: readonly KvEvent[]) => void;
