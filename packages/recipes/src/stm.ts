import {CompactedError, compare, op} from '@synod/client';
import type {Comparison, Etcd, Op} from '@synod/client';

/** The reads and writes of one attempt of an {@link stm} transaction. */
export interface StmTx {
  /** Reads a key as UTF-8 (undefined when missing), seeing this transaction's own writes. */
  get(key: string): Promise<string | undefined>;
  /** Buffers a write, applied at commit. */
  put(key: string, value: string): void;
  /** Buffers a deletion, applied at commit. */
  delete(key: string): void;
}

/** Options of {@link stm}. */
export interface StmOptions {
  /**
   * `'serializable'` (default, etcd's SerializableSnapshot): every read sees the store at
   * the revision of the first read, and the commit fails if any key read or written
   * changed since. `'read-committed'`: reads see the latest state, and the commit checks
   * nothing (last writer wins).
   */
  readonly isolation?: 'serializable' | 'read-committed';
  /** Attempts before giving up with {@link StmConflictError}, 50 by default. */
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
}

/** Thrown by {@link stm} when every attempt met a conflicting write. */
export class StmConflictError extends Error {
  constructor(readonly attempts: number) {
    super(
      `STM transaction conflicted ${attempts} times in a row: the keys it reads are written ` +
        'too often; lower the contention or raise maxAttempts',
    );
    this.name = 'StmConflictError';
  }
}

type Write = {readonly kind: 'put'; readonly value: string} | {readonly kind: 'delete'};

class Attempt implements StmTx {
  /** Revision every read sees (serializable); set by the first read. */
  private snapshotRevision: bigint | undefined;
  /** Key → mod revision seen (0n when missing). */
  readonly reads = new Map<string, bigint>();
  readonly writes = new Map<string, Write>();

  constructor(
    private readonly client: Etcd,
    private readonly serializable: boolean,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const written = this.writes.get(key);
    if (written !== undefined) return written.kind === 'put' ? written.value : undefined;
    const result = await this.client.kv.range(key, {
      signal: this.signal,
      ...(this.serializable && this.snapshotRevision !== undefined
        ? {revision: this.snapshotRevision}
        : {}),
    });
    this.snapshotRevision ??= result.header.revision;
    const kv = result.kvs[0];
    if (!this.reads.has(key)) this.reads.set(key, kv?.modRevision ?? 0n);
    return kv?.valueString;
  }

  put(key: string, value: string): void {
    this.writes.set(key, {kind: 'put', value});
  }

  delete(key: string): void {
    this.writes.set(key, {kind: 'delete'});
  }

  guard(): Comparison[] {
    if (!this.serializable) return [];
    const compares = [...this.reads].map(([key, rev]) => compare.modRevision(key, '=', rev));
    if (this.snapshotRevision !== undefined) {
      for (const key of this.writes.keys()) {
        if (!this.reads.has(key)) {
          compares.push(compare.modRevision(key, '<', this.snapshotRevision + 1n));
        }
      }
    }
    return compares;
  }

  ops(): Op[] {
    return [...this.writes].map(([key, write]) =>
      write.kind === 'put' ? op.put(key, write.value) : op.delete(key),
    );
  }
}

/**
 * Runs `fn` as an optimistic transaction (etcd's STM): reads go to the cluster and are
 * remembered, writes are buffered, and the writes commit in one transaction guarded by
 * "nothing read has changed"; on a conflict `fn` runs again from scratch. `fn` must
 * therefore have no side effects besides `tx`. Resolves with `fn`'s result of the
 * attempt that committed.
 *
 * A commit whose outcome is unknown (the member failed while it was in flight) rejects
 * with the client's error rather than running again, which might apply it twice.
 */
export async function stm<T>(
  client: Etcd,
  fn: (tx: StmTx) => Promise<T>,
  options: StmOptions = {},
): Promise<T> {
  const serializable = (options.isolation ?? 'serializable') === 'serializable';
  const maxAttempts = options.maxAttempts ?? 50;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const tx = new Attempt(client, serializable, options.signal);
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      // The snapshot revision was compacted while reading: start over at a newer one.
      if (error instanceof CompactedError) continue;
      throw error;
    }
    if (tx.writes.size === 0) return result;
    const committed = await client.kv
      .txn()
      .if(...tx.guard())
      .then(...tx.ops())
      .commit({signal: options.signal});
    if (committed.succeeded) return result;
  }
  throw new StmConflictError(maxAttempts);
}
