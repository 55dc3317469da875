import type {LeaseCheckpointRequest, LeaseRevokeRequest} from '@synod/proto';
import type {Lessor} from '@synod/storage';

import {memberAsRoot} from '../auth/auth-store.js';
import type {RequestAuth} from '../auth/auth-store.js';
import type {Clock, TimerHandle} from './clock.js';

/** How often the leader looks for expired leases, as etcd's lessor does. */
const expiryCheckMs = 500;
/** Leases revoked, or checkpointed, per proposal (etcd's batch sizes). */
const leasesPerProposal = 1000;

/** The requests the lease timers propose. */
export type LeaseTimerRequest =
  | {$case: 'leaseRevoke'; value: LeaseRevokeRequest}
  | {$case: 'leaseCheckpoint'; value: LeaseCheckpointRequest};

/** What the lease timers need of the member. */
export interface LeaseTimerHost {
  /** Only the leader expires and checkpoints leases. */
  isLeader(): boolean;
  /** The lessor now (a snapshot from the leader replaces it). */
  lessor(): Lessor;
  /** Replicates a request; rejects when it cannot be (no leader, stopped, timed out). */
  propose(body: LeaseTimerRequest, auth: RequestAuth): Promise<unknown>;
  warn(obj: object, msg: string): void;
  /** An expired lease was revoked through the log (etcd's expired-lease count). */
  leaseExpired?(): void;
}

/**
 * The lessor's timers, which run on the leader only: expiry (leases whose time is up are
 * revoked through the log, so every member deletes their keys at the same revision) and
 * checkpoints (remaining TTLs recorded through the log, so a new leader resumes each lease
 * from its checkpoint instead of restarting its full TTL). Expiry is decided by the leader's
 * clock alone; a stale leader's proposals never commit, so it cannot change what the cluster
 * records.
 */
export class LeaseTimers {
  private expiryTimer: TimerHandle | undefined;
  private checkpointTimer: TimerHandle | undefined;
  private stopped = false;
  /** Leases whose revocation, or checkpoint clearing, is in flight: not proposed twice. */
  private readonly revoking = new Set<bigint>();
  private readonly clearingCheckpoints = new Set<bigint>();

  constructor(
    private readonly host: LeaseTimerHost,
    private readonly clock: Clock,
    private readonly checkpointIntervalMs: number,
  ) {}

  start(): void {
    this.expiryTimer = this.clock.setInterval(() => {
      this.revokeExpired();
    }, expiryCheckMs);
    this.checkpointTimer = this.clock.setInterval(() => {
      this.checkpoint();
    }, this.checkpointIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimer(this.expiryTimer);
    this.clock.clearTimer(this.checkpointTimer);
  }

  /**
   * Renews a lease on the leader and returns its TTL. A checkpoint recorded before the
   * renewal would have a new leader expire the lease early: it is cleared through the log.
   */
  renew(id: bigint): number {
    const lessor = this.host.lessor();
    const ttl = lessor.renew(id);
    if (lessor.hasCheckpoint(id) && !this.clearingCheckpoints.has(id)) {
      this.clearingCheckpoints.add(id);
      this.host
        .propose(
          {$case: 'leaseCheckpoint', value: {checkpoints: [{ID: id, remainingTTL: 0n}]}},
          memberAsRoot,
        )
        .catch((error: unknown) => {
          this.host.warn(
            {lease: id.toString(16), error: String(error)},
            'could not clear a lease checkpoint',
          );
        })
        .finally(() => {
          this.clearingCheckpoints.delete(id);
        });
    }
    return ttl;
  }

  private revokeExpired(): void {
    if (this.stopped || !this.host.isLeader()) return;
    for (const id of this.host.lessor().expired(leasesPerProposal)) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.host
        .propose({$case: 'leaseRevoke', value: {ID: id}}, memberAsRoot)
        .then(result => {
          if ((result as {readonly ok?: boolean}).ok !== false) this.host.leaseExpired?.();
        })
        .catch((error: unknown) => {
          this.host.warn(
            {lease: id.toString(16), error: String(error)},
            'could not revoke an expired lease',
          );
        })
        .finally(() => {
          this.revoking.delete(id);
        });
    }
  }

  private checkpoint(): void {
    if (this.stopped || !this.host.isLeader()) return;
    const due = this.host.lessor().checkpointsDue();
    for (let i = 0; i < due.length; i += leasesPerProposal) {
      const checkpoints = due
        .slice(i, i + leasesPerProposal)
        .map(c => ({ID: c.id, remainingTTL: BigInt(c.remainingTtlSeconds)}));
      this.host
        .propose({$case: 'leaseCheckpoint', value: {checkpoints}}, memberAsRoot)
        .catch((error: unknown) => {
          this.host.warn({error: String(error)}, 'could not checkpoint leases');
        });
    }
  }
}
