import type {Backend} from '../backend/backend.js';
import type {KV} from '../mvcc/kv.js';
import type {LeaseHooks} from '../mvcc/kv-store.js';
import {StorageError} from '../mvcc/storage-error.js';
import {latin1Key} from '../latin1-key.js';

/** etcd's `MaxLeaseTTL`, seconds. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

export interface LessorOptions {
  /** Wall clock in milliseconds; injected so expiry is testable. */
  readonly nowMs: () => number;
  /** Shorter TTLs are raised to this silently (etcd: ceil(1.5 x election timeout)). */
  readonly minTtlSeconds: number;
  /** Told of grants, renewals and revocations, for metrics. */
  readonly observer?: LessorObserver;
}

/** What a {@link Lessor} reports as it works (etcd's lease metrics); it must not throw. */
export interface LessorObserver {
  /** A lease was granted with `ttlSeconds` (after raising it to the minimum). */
  leaseGranted?(ttlSeconds: number): void;
  /** A lease was renewed on the primary. */
  leaseRenewed?(): void;
  /** A lease was revoked, its keys deleted. */
  leaseRevoked?(): void;
}

/** A lease as clients see it. */
export interface LeaseInfo {
  readonly id: bigint;
  readonly grantedTtlSeconds: number;
  /** Seconds left; the granted TTL on a member that is not the primary. */
  readonly ttlSeconds: number;
  readonly keys: Uint8Array[];
}

interface Lease {
  readonly id: bigint;
  readonly ttlSeconds: number;
  /** Remaining TTL saved by the last checkpoint, 0 if none. */
  remainingTtlSeconds: number;
  /** Wall-clock expiry while this member is primary; Infinity otherwise. */
  expiryMs: number;
}

const LEASE_RECORD_BYTES = 16;

function leaseKey(id: bigint): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeBigInt64BE(id);
  return k;
}

const toKey = latin1Key;

/**
 * Leases and the lease -> keys index. Lease records (id, TTL, checkpointed remaining TTL)
 * live in the backend's `lease` bucket and are written in the apply batch like key changes.
 * Only the primary (the raft leader) runs expiry clocks; on other members leases never
 * expire locally, they are revoked through the log.
 *
 * Pass the lessor as the store's {@link LeaseHooks} so puts and deletes keep the key index
 * current (including on restore); call {@link Lessor.restore} once the backend is open.
 */
export class Lessor implements LeaseHooks {
  private readonly leases = new Map<bigint, Lease>();
  private readonly keysByLease = new Map<bigint, Set<string>>();
  private primary = false;
  private backend: Backend | undefined;

  constructor(private readonly options: LessorOptions) {}

  /** Loads lease records from the backend. */
  restore(backend: Backend): void {
    this.backend = backend;
    for (const {key, value} of backend.range('lease', Buffer.alloc(0))) {
      const id = Buffer.from(key).readBigInt64BE(0);
      const v = Buffer.from(value);
      this.leases.set(id, {
        id,
        ttlSeconds: Number(v.readBigInt64BE(0)),
        remainingTtlSeconds: Number(v.readBigInt64BE(8)),
        expiryMs: Infinity,
      });
    }
  }

  exists(id: bigint): boolean {
    return this.leases.has(id);
  }

  attach(lease: bigint, key: Uint8Array): void {
    let keys = this.keysByLease.get(lease);
    if (keys === undefined) {
      keys = new Set();
      this.keysByLease.set(lease, keys);
    }
    keys.add(toKey(key));
  }

  detach(lease: bigint, key: Uint8Array): void {
    const keys = this.keysByLease.get(lease);
    keys?.delete(toKey(key));
    if (keys?.size === 0) this.keysByLease.delete(lease);
  }

  /** Creates a lease. Throws etcd's errors for an existing id or a TTL above the maximum. */
  grant(id: bigint, ttlSeconds: number): LeaseInfo {
    // etcd grants any explicit id but 0, which means "no lease"; negative ids included.
    if (id === 0n) throw new Error('lease id 0 means no lease; the server picks an id first');
    if (this.leases.has(id)) {
      throw new StorageError('FailedPrecondition', 'etcdserver: lease already exists');
    }
    if (ttlSeconds > MAX_LEASE_TTL_SECONDS) {
      throw new StorageError('OutOfRange', 'etcdserver: too large lease TTL');
    }
    const ttl = Math.max(ttlSeconds, this.options.minTtlSeconds);
    const lease: Lease = {id, ttlSeconds: ttl, remainingTtlSeconds: 0, expiryMs: Infinity};
    if (this.primary) lease.expiryMs = this.options.nowMs() + ttl * 1000;
    this.leases.set(id, lease);
    this.persist(lease);
    this.options.observer?.leaseGranted?.(ttl);
    return this.info(lease);
  }

  /**
   * Deletes the lease and every key attached to it, in one write txn of `kv` (one revision,
   * one DELETE event per key).
   */
  revoke(id: bigint, kv: KV): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw notFound();
    const keys = [...(this.keysByLease.get(id) ?? [])].sort();
    const tw = kv.write();
    try {
      for (const k of keys) tw.deleteRange(Buffer.from(k, 'latin1'), undefined);
    } finally {
      tw.end();
    }
    this.leases.delete(id);
    this.keysByLease.delete(id);
    this.requireBackend().delete('lease', leaseKey(id));
    this.options.observer?.leaseRevoked?.();
  }

  /** Restarts the lease's clock on the primary; returns the TTL, or throws NotFound. */
  renew(id: bigint): number {
    const lease = this.leases.get(id);
    if (lease === undefined) throw notFound();
    // The checkpoint a renewal makes stale is cleared through the log (see
    // checkpointsDue), never here: this runs on the leader alone.
    if (this.primary) lease.expiryMs = this.options.nowMs() + lease.ttlSeconds * 1000;
    this.options.observer?.leaseRenewed?.();
    return lease.ttlSeconds;
  }

  /** Stores a remaining TTL so a new leader does not restart the lease at its full TTL. */
  /**
   * On the primary, the checkpoints worth replicating now: each lease's remaining
   * TTL where it differs from the one last checkpointed, and 0 (no checkpoint:
   * the full TTL) for a lease renewed since its last checkpoint.
   *
   * Example: TTL 60, checkpointed 40, renewed 5 s ago -> {remaining: 55}.
   */
  checkpointsDue(): {id: bigint; remainingTtlSeconds: number}[] {
    if (!this.primary) return [];
    const now = this.options.nowMs();
    const due: {id: bigint; remainingTtlSeconds: number}[] = [];
    for (const l of this.leases.values()) {
      const left = Math.max(1, Math.ceil((l.expiryMs - now) / 1000));
      const remaining = left >= l.ttlSeconds ? 0 : left;
      if (remaining !== l.remainingTtlSeconds) due.push({id: l.id, remainingTtlSeconds: remaining});
    }
    return due;
  }

  /** Whether a checkpoint of the lease's remaining TTL is recorded. */
  hasCheckpoint(id: bigint): boolean {
    return (this.leases.get(id)?.remainingTtlSeconds ?? 0) !== 0;
  }

  checkpoint(id: bigint, remainingTtlSeconds: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw notFound();
    lease.remainingTtlSeconds = remainingTtlSeconds;
    this.persist(lease);
  }

  timeToLive(id: bigint): LeaseInfo | undefined {
    const lease = this.leases.get(id);
    return lease === undefined ? undefined : this.info(lease);
  }

  list(): bigint[] {
    return [...this.leases.keys()];
  }

  /**
   * Becomes primary: every lease's clock starts now, at its checkpointed remaining TTL or its
   * full TTL, plus `extendMs` (etcd extends by an election timeout).
   */
  promote(extendMs: number): void {
    this.primary = true;
    const now = this.options.nowMs();
    for (const l of this.leases.values()) {
      const ttl = l.remainingTtlSeconds > 0 ? l.remainingTtlSeconds : l.ttlSeconds;
      l.expiryMs = now + ttl * 1000 + extendMs;
    }
  }

  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) l.expiryMs = Infinity;
  }

  /** Ids of leases past their expiry, oldest first (the primary proposes their revocation). */
  expired(limit = Infinity): bigint[] {
    if (!this.primary) return [];
    const now = this.options.nowMs();
    return [...this.leases.values()]
      .filter(l => l.expiryMs <= now)
      .sort((a, b) => a.expiryMs - b.expiryMs)
      .slice(0, limit)
      .map(l => l.id);
  }

  private info(l: Lease): LeaseInfo {
    // Whole seconds left, cut down as etcd does (`int64(Remaining().Seconds())`): 59 just after
    // a grant of 60.
    const ttl = this.primary
      ? Math.max(0, Math.floor((l.expiryMs - this.options.nowMs()) / 1000))
      : l.ttlSeconds;
    const keys = [...(this.keysByLease.get(l.id) ?? [])].sort().map(k => Buffer.from(k, 'latin1'));
    return {id: l.id, grantedTtlSeconds: l.ttlSeconds, ttlSeconds: ttl, keys};
  }

  private persist(l: Lease): void {
    const v = Buffer.allocUnsafe(LEASE_RECORD_BYTES);
    v.writeBigInt64BE(BigInt(l.ttlSeconds), 0);
    v.writeBigInt64BE(BigInt(l.remainingTtlSeconds), 8);
    this.requireBackend().put('lease', leaseKey(l.id), v);
  }

  private requireBackend(): Backend {
    if (this.backend === undefined) throw new Error('Lessor.restore(backend) was not called');
    return this.backend;
  }
}

const notFound = (): StorageError =>
  new StorageError('NotFound', 'etcdserver: requested lease not found');
