import type {CallOptions} from './call-options.js';
import type {Comparison} from './compare.js';
import type {Op, TxnResult} from './ops.js';

/**
 * A transaction being built: `kv.txn().if(...compares).then(...ops).else(...ops).commit()`.
 * Compares are a conjunction; `then` runs when all hold, `else` otherwise. A `Txn` is not a
 * promise: nothing is sent until `commit()`.
 *
 * A transaction that writes is never retried by the client, whatever happens: if the
 * member fails after receiving it, it may or may not have been applied, and sending it
 * again could apply it twice. Read-only transactions are retried like reads.
 */
export class Txn {
  private readonly compares: Comparison[] = [];
  private readonly success: Op[] = [];
  private readonly failure: Op[] = [];

  /** @internal */
  constructor(
    private readonly run: (
      compares: readonly Comparison[],
      success: readonly Op[],
      failure: readonly Op[],
      options: CallOptions,
    ) => Promise<TxnResult>,
  ) {}

  /** Adds compares to the guard. */
  if(...compares: Comparison[]): this {
    this.compares.push(...compares);
    return this;
  }

  /** Adds operations to run when every compare holds. */
  then(...ops: Op[]): this {
    // `await txn` would call then(resolve, reject): say what went wrong instead.
    for (const o of ops as unknown[]) {
      if (typeof o === 'function') {
        throw new TypeError('a Txn is not a promise: call commit() to send it');
      }
    }
    this.success.push(...ops);
    return this;
  }

  /** Adds operations to run when a compare fails. */
  else(...ops: Op[]): this {
    this.failure.push(...ops);
    return this;
  }

  /** This transaction as an operation of another (a nested transaction). */
  toOp(): Op {
    return {
      type: 'txn',
      compares: [...this.compares],
      success: [...this.success],
      failure: [...this.failure],
    };
  }

  /** Sends the transaction. */
  commit(options: CallOptions = {}): Promise<TxnResult> {
    return this.run(this.compares, this.success, this.failure, options);
  }
}
