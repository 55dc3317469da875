import {LeaseNotFoundError} from '@synod/client';
import type {Etcd, KeptLease, LeaseLostError} from '@synod/client';
import {AsyncSubject} from 'rxjs';
import type {Observable} from 'rxjs';

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** TTL of the session's lease in seconds, 60 by default (as etcd's concurrency package). */
  readonly ttlSec?: number;
  /** Use this existing lease instead of granting one; it must still exist. */
  readonly lease?: bigint;
  readonly signal?: AbortSignal;
}

/**
 * A session's lease as this process last knew it from keep-alives: read without a round
 * trip, for logs and metrics.
 */
export interface LeaseState {
  /** The lease id. */
  readonly id: bigint;
  /** The TTL in seconds the server reported when it last granted or renewed the lease. */
  readonly ttlSec: number;
  /**
   * When the lease runs out unless renewed again, in ms since the epoch by this process's
   * clock: counted from the sending of the last renewal the server confirmed, so it errs
   * early.
   */
  readonly expiresAtMs: number;
  /**
   * `expiresAtMs` minus the time this snapshot was taken, never below 0; 0 once the lease
   * is no longer kept.
   */
  readonly remainingTtlMs: number;
  /** Whether the lease is still being kept alive (not lost, not closed). */
  readonly active: boolean;
  /** When the lease stopped being kept (lost or closed), in ms since the epoch; else undefined. */
  readonly inactiveSinceMs: number | undefined;
}

/**
 * @internal The status and since when a recipe reports, given what it holds on a
 * session's lease: while in one of the `onLease` statuses (a lock held, a campaign) with
 * the lease no longer kept, `lost`, since the lease stopped being kept or since the
 * recipe's own last change if that came later; otherwise `status` and `sinceMs` as they are.
 */
export function statusOnLease<S extends string>(
  status: S,
  sinceMs: number,
  lease: LeaseState,
  onLease: readonly S[],
): {readonly status: S | 'lost'; readonly sinceMs: number} {
  if (lease.active || !onLease.includes(status)) return {status, sinceMs};
  return {status: 'lost', sinceMs: Math.max(sinceMs, lease.inactiveSinceMs ?? sinceMs)};
}

/**
 * A lease the client keeps alive, which the recipes attach their keys to (etcd's
 * `concurrency.Session`). When the process dies or loses the cluster for longer than the
 * TTL, the lease expires and its keys (locks held, campaigns, registrations, ephemeral
 * nodes) are deleted by the server.
 */
export class Session {
  private readonly closedSubject = new AsyncSubject<void>();
  private closing: Promise<void> | undefined;
  private inactiveSinceMs: number | undefined;

  private constructor(
    /** The client the session's keys are written through. */
    readonly client: Etcd,
    private readonly kept: KeptLease,
  ) {
    // lost$ ends (with or without a value) exactly when the lease stops being kept.
    kept.lost$.subscribe({
      complete: () => {
        this.inactiveSinceMs ??= Date.now();
      },
    });
  }

  /** Grants a lease (or adopts `options.lease`) and starts keeping it alive. */
  static async create(client: Etcd, options: SessionOptions = {}): Promise<Session> {
    const callOptions = {signal: options.signal};
    const kept =
      options.lease === undefined
        ? await client.lease.grantKeptAlive(options.ttlSec ?? 60, callOptions)
        : await client.lease.keepAlive(options.lease, callOptions);
    return new Session(client, kept);
  }

  /** The lease id. */
  get lease(): bigint {
    return this.kept.id;
  }

  /** The lease's TTL in seconds, as the server last granted or renewed it. */
  get ttlSec(): number {
    return this.kept.ttlSec;
  }

  /** Whether the lease is still being kept alive (not lost, not closed). */
  get active(): boolean {
    return this.kept.active;
  }

  /**
   * The lease as last known from keep-alives, taken when read: no round trip, for logs and
   * metrics.
   */
  get state(): LeaseState {
    // Date.now: the clock the client's keep-alives measure expiresAtMs with.
    const active = this.kept.active;
    return {
      id: this.kept.id,
      ttlSec: this.kept.ttlSec,
      expiresAtMs: this.kept.expiresAtMs,
      remainingTtlMs: active ? Math.max(0, this.kept.expiresAtMs - Date.now()) : 0,
      active,
      inactiveSinceMs: active ? undefined : this.inactiveSinceMs,
    };
  }

  /**
   * Emits one `LeaseLostError` and completes as soon as the lease can no longer be kept:
   * the server reported it gone, or no renewal was confirmed before its TTL ran out (by
   * this process's clock, counted from the sending of the last confirmed renewal, so it
   * fires before the server expires the lease). Completes without emitting after
   * {@link close}. Replays the outcome to late subscribers.
   */
  get lost$(): Observable<LeaseLostError> {
    return this.kept.lost$;
  }

  /**
   * Emits once and completes when {@link close} is called (and replays that to late
   * subscribers). Recipes built on the session complete their streams on it.
   */
  get closed$(): Observable<void> {
    return this.closedSubject.asObservable();
  }

  /**
   * Stops the keep-alive and revokes the lease, which deletes every key attached to it.
   * Idempotent. Revoke failures other than "lease not found" are rethrown after the
   * session is marked closed (the lease then expires after its TTL).
   */
  close(): Promise<void> {
    this.closing ??= this.revoke();
    return this.closing;
  }

  private async revoke(): Promise<void> {
    this.kept.release();
    this.closedSubject.next();
    this.closedSubject.complete();
    try {
      await this.client.lease.revoke(this.kept.id);
    } catch (error) {
      if (!(error instanceof LeaseNotFoundError)) throw error;
    }
  }
}
