import type {ResponseHeader} from '@synod/proto';

import type {Bytes} from './bytes.js';
import type {CallOptions, RetryableWriteOptions} from './call-options.js';
import type {Comparison, Int64Like} from './compare.js';
import {toInt64} from './compare.js';
import type {ConnectionPool} from './connection-pool.js';
import type {KeySelector, KeySpace} from './key-space.js';
import type {KeyValue} from './key-value.js';
import {
  fromDeleteResponse,
  fromPutResponse,
  fromRangeResponse,
  fromTxnResponse,
  headerOf,
  isReadOnly,
  toDeleteRequest,
  toPutRequest,
  toRangeRequest,
  toTxnRequest,
} from './ops.js';
import type {
  DeleteQuery,
  DeleteResult,
  Op,
  PutQuery,
  PutResult,
  RangeQuery,
  RangeResult,
  TxnResult,
} from './ops.js';
import {Txn} from './txn.js';

/** Options of {@link KV.range} and {@link KV.get}. */
export type RangeOptions = RangeQuery & CallOptions;
/** Options of {@link KV.put}. */
export type PutOptions = PutQuery & RetryableWriteOptions;
/** Options of {@link KV.delete}. */
export type DeleteOptions = DeleteQuery & RetryableWriteOptions;
/** Options of {@link KV.compact}. */
export interface CompactOptions extends CallOptions {
  /** Wait until the compacted revisions are removed from the backend, not just marked. */
  readonly physical?: boolean;
}

/**
 * Reads and writes keys (etcd's KV service). Reads are retried on another member when one
 * is unavailable; writes are not, unless the caller passes `retry: true`.
 */
export class KV {
  /** @internal */
  constructor(
    private readonly pool: ConnectionPool,
    private readonly space: KeySpace,
  ) {}

  /** Reads one key; undefined when it does not exist. */
  async get(key: Bytes, options: RangeOptions = {}): Promise<KeyValue | undefined> {
    const result = await this.range(key, options);
    return result.kvs[0];
  }

  /** Reads one key's value as UTF-8; undefined when the key does not exist. */
  async getString(key: Bytes, options: RangeOptions = {}): Promise<string | undefined> {
    return (await this.get(key, options))?.valueString;
  }

  /** Reads a key, a prefix or a range, with every etcd range option. */
  async range(selector: KeySelector, options: RangeOptions = {}): Promise<RangeResult> {
    const request = toRangeRequest(this.space, selector, options);
    const response = await this.pool.unary(
      '/etcdserverpb.KV/Range',
      {...options, retry: true},
      (c, o) => c.kv.range(request, o),
    );
    return fromRangeResponse(this.space, response);
  }

  /** Writes a key. */
  async put(key: Bytes, value: Bytes, options: PutOptions = {}): Promise<PutResult> {
    const request = toPutRequest(this.space, key, value, options);
    const response = await this.pool.unary(
      '/etcdserverpb.KV/Put',
      {...options, retry: options.retry ?? false},
      (c, o) => c.kv.put(request, o),
    );
    return fromPutResponse(this.space, response);
  }

  /** Deletes a key, a prefix or a range. */
  async delete(selector: KeySelector, options: DeleteOptions = {}): Promise<DeleteResult> {
    const request = toDeleteRequest(this.space, selector, options);
    const response = await this.pool.unary(
      '/etcdserverpb.KV/DeleteRange',
      {...options, retry: options.retry ?? false},
      (c, o) => c.kv.deleteRange(request, o),
    );
    return fromDeleteResponse(this.space, response);
  }

  /** Starts a transaction; see {@link Txn}. */
  txn(): Txn {
    return new Txn((compares, success, failure, options) =>
      this.commit(compares, success, failure, options),
    );
  }

  private async commit(
    compares: readonly Comparison[],
    success: readonly Op[],
    failure: readonly Op[],
    options: CallOptions,
  ): Promise<TxnResult> {
    const request = toTxnRequest(this.space, compares, success, failure);
    const readOnly = success.every(isReadOnly) && failure.every(isReadOnly);
    const response = await this.pool.unary(
      '/etcdserverpb.KV/Txn',
      {...options, retry: readOnly},
      (c, o) => c.kv.txn(request, o),
    );
    return fromTxnResponse(this.space, response);
  }

  /**
   * Discards history before `revision`: reads and watches below it then fail with
   * `CompactedError`. Compaction is cluster-wide (not limited to a namespace).
   */
  async compact(revision: Int64Like, options: CompactOptions = {}): Promise<ResponseHeader> {
    const request = {revision: toInt64(revision, 'revision'), physical: options.physical ?? false};
    const response = await this.pool.unary(
      '/etcdserverpb.KV/Compact',
      {...options, retry: false},
      (c, o) => c.kv.compact(request, o),
    );
    return headerOf(response.header);
  }
}
