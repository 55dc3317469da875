import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {Clock} from './clock.js';

/** How long a read of the backend's size is reused. */
const sizeReadEveryMs = 100;

/** What the quota check needs of the member. */
export interface QuotaHost {
  /** Whether the NOSPACE alarm is raised in the cluster. */
  noSpaceRaised(): boolean;
  /** The backend file's size now. */
  backendSizeBytes(): number;
  /** Proposes the NOSPACE alarm for this member; a failure is only logged. */
  raiseNoSpace(): void;
}

/**
 * Refuses a write when the backend has outgrown `--quota-backend-bytes`, as etcd does: the
 * first refusal raises the cluster-wide NOSPACE alarm, after which only reads, deletes and
 * compaction are accepted until an operator compacts, defragments and disarms the alarm.
 */
export class BackendQuota {
  private sizeReadAtMs: number | undefined;
  private sizeBytes = 0;

  constructor(
    private readonly host: QuotaHost,
    private readonly clock: Clock,
    private readonly quotaBytes: number,
  ) {}

  /** Throws etcd's "database space exceeded" when a write may not be proposed now. */
  check(): void {
    if (this.host.noSpaceRaised()) {
      throw EtcdDomainError.of('noSpace');
    }
    if (this.currentSizeBytes() <= this.quotaBytes) return;
    this.host.raiseNoSpace();
    throw EtcdDomainError.of('noSpace');
  }

  /**
   * The backend file's size, read at most every 100 ms: every write checks the quota, and a
   * stat per request costs more than the check is worth (the file grows in whole map
   * increments, and the alarm is raised for good).
   */
  private currentSizeBytes(): number {
    const now = this.clock.monotonicMs();
    if (this.sizeReadAtMs === undefined || now - this.sizeReadAtMs >= sizeReadEveryMs) {
      this.sizeBytes = this.host.backendSizeBytes();
      this.sizeReadAtMs = now;
    }
    return this.sizeBytes;
  }
}
