import type {DeepPartial, LeaseKeepAliveRequest, LeaseKeepAliveResponse} from '@synod/proto';
import {delay, isAbortError} from 'abort-controller-x';
import {AsyncSubject} from 'rxjs';
import type {Observable} from 'rxjs';

import {AsyncQueue} from './async-queue.js';
import {backoffDelayMs} from './backoff.js';
import type {BackoffOptions} from './backoff.js';
import type {ConnectionPool, Endpoint} from './connection-pool.js';
import {EtcdError, toEtcdError} from './errors.js';

/** Why a kept lease was lost. */
export type LeaseLostReason = 'not-found' | 'deadline';

/** Emitted by `lost$` when a lease can no longer be kept alive. */
export class LeaseLostError extends Error {
  constructor(
    readonly leaseId: bigint,
    /**
     * `'not-found'`: the server answered that the lease is gone (expired or revoked);
     * `'deadline'`: no renewal succeeded before the remaining TTL ran out, so the lease
     * must be assumed expired.
     */
    readonly reason: LeaseLostReason,
  ) {
    super(
      reason === 'not-found'
        ? `lease ${leaseId} is gone: the server reports it expired or revoked`
        : `lease ${leaseId} was not renewed before its TTL ran out: assume it expired ` +
            '(the cluster was unreachable or had no leader)',
    );
    this.name = 'LeaseLostError';
  }
}

/** A lease the client keeps alive. */
export interface KeptLease {
  readonly id: bigint;
  /** The lease's TTL in seconds, as last granted or renewed. */
  readonly ttlSec: number;
  /**
   * When the lease expires unless renewed again, by this process's clock (measured from
   * the sending of the renewal that the server last confirmed, so it errs early).
   */
  readonly expiresAtMs: number;
  /**
   * Emits one {@link LeaseLostError} and completes as soon as the lease can no longer be
   * kept: the server answered TTL 0 (lease not found), or no renewal succeeded before
   * the remaining TTL ran out. Completes without emitting after `release()` or
   * `revoke()`. A late subscriber gets the same outcome (it is replayed).
   */
  readonly lost$: Observable<LeaseLostError>;
  /** Whether the lease is still being kept alive. */
  readonly active: boolean;
  /** Stops renewing; the lease then expires after its TTL unless revoked. */
  release(): void;
}

class KeptState implements KeptLease {
  readonly lostSubject = new AsyncSubject<LeaseLostError>();
  readonly lost$: Observable<LeaseLostError> = this.lostSubject.asObservable();
  active = true;
  /** When the oldest renewal not yet answered was sent. */
  unackedSinceMs: number | undefined;
  sendTimer: ReturnType<typeof setInterval> | undefined;
  expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: bigint,
    public ttlSec: number,
    public expiresAtMs: number,
    private readonly keeper: LeaseKeeper,
  ) {}

  release(): void {
    this.keeper.release(this);
  }
}

interface Session {
  readonly endpoint: Endpoint;
  readonly requests: AsyncQueue<DeepPartial<LeaseKeepAliveRequest>>;
  readonly controller: AbortController;
}

/**
 * @internal Keeps leases alive on one LeaseKeepAlive bidi stream shared by every lease of
 * the client, renewing each every TTL/3 (as etcd's Go client does). The stream carries
 * `hasleader`, so a member that loses its leader ends it and the keeper moves to another
 * member. A lease is declared lost as soon as the server answers TTL 0, or when its
 * remaining TTL, counted from the last confirmed renewal, runs out.
 */
export class LeaseKeeper {
  private readonly leases = new Map<bigint, KeptState>();
  private session: Session | undefined;
  private running = false;
  private closed = false;
  private readonly closeController = new AbortController();

  /**
   * Reconnect backoff, capped at 500 ms: a lease has only the rest of its TTL to find a
   * member that can renew it, so waiting long between attempts would lose it.
   */
  private readonly reconnectBackoff: BackoffOptions;

  constructor(private readonly pool: ConnectionPool) {
    const {initialMs, maxMs} = pool.settings.backoff;
    this.reconnectBackoff = {initialMs, maxMs: Math.min(maxMs, 500)};
  }

  /** Starts keeping lease `id` alive; it has `remainingSec` left now. */
  keep(id: bigint, ttlSec: number, remainingSec: number, measuredAtMs: number): KeptLease {
    const existing = this.leases.get(id);
    if (existing !== undefined) return existing;
    const state = new KeptState(id, ttlSec, measuredAtMs + remainingSec * 1000, this);
    if (this.closed) {
      state.active = false;
      state.lostSubject.complete();
      return state;
    }
    this.leases.set(id, state);
    this.armExpiry(state);
    state.sendTimer = setInterval(
      () => {
        this.send(state);
      },
      Math.max(100, (ttlSec * 1000) / 3),
    );
    this.send(state);
    this.ensureRunning();
    return state;
  }

  /** Stops keeping a lease alive without declaring it lost. */
  release(state: KeptState): void {
    if (!state.active) return;
    this.stop(state);
    state.lostSubject.complete();
  }

  /** Stops keeping the lease with this id alive, if kept. */
  releaseId(id: bigint): void {
    const state = this.leases.get(id);
    if (state !== undefined) this.release(state);
  }

  close(): void {
    this.closed = true;
    this.closeController.abort();
    for (const state of [...this.leases.values()]) this.release(state);
    this.session?.controller.abort();
  }

  private stop(state: KeptState): void {
    state.active = false;
    clearInterval(state.sendTimer);
    clearTimeout(state.expiryTimer);
    this.leases.delete(state.id);
    if (this.leases.size === 0) this.session?.controller.abort();
  }

  private lose(state: KeptState, reason: LeaseLostReason): void {
    if (!state.active) return;
    this.stop(state);
    state.lostSubject.next(new LeaseLostError(state.id, reason));
    state.lostSubject.complete();
  }

  private armExpiry(state: KeptState): void {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = setTimeout(
      () => {
        this.lose(state, 'deadline');
      },
      Math.max(0, state.expiresAtMs - Date.now()),
    );
  }

  private send(state: KeptState): void {
    const session = this.session;
    if (session === undefined || !state.active) return;
    state.unackedSinceMs ??= Date.now();
    session.requests.push({ID: state.id});
  }

  private handle(response: LeaseKeepAliveResponse): void {
    const state = this.leases.get(response.ID);
    if (state === undefined) return;
    if (response.TTL <= 0n) {
      this.lose(state, 'not-found');
      return;
    }
    const sentAt = state.unackedSinceMs ?? Date.now();
    state.unackedSinceMs = undefined;
    state.ttlSec = Number(response.TTL);
    state.expiresAtMs = sentAt + state.ttlSec * 1000;
    this.armExpiry(state);
  }

  /** Whether the stream loop should end: closed, or nothing left to serve. */
  private get stopping(): boolean {
    return this.closed || this.leases.size === 0;
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (!this.closed && this.leases.size > 0) this.ensureRunning();
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed && this.leases.size > 0) {
      const endpoint = this.pool.current();
      const session: Session = {
        endpoint,
        requests: new AsyncQueue(),
        controller: new AbortController(),
      };
      this.session = session;
      const signal = session.controller.signal;
      try {
        const metadata = await this.pool.metadata(endpoint, signal, {hasleader: 'true'});
        for (const state of this.leases.values()) {
          // Renewals sent on a dead stream were never answered; count from now.
          state.unackedSinceMs = undefined;
          this.send(state);
        }
        const responses = endpoint.clients.lease.leaseKeepAlive(session.requests, {
          signal,
          metadata,
        });
        for await (const response of responses) {
          attempt = 0;
          this.pool.reportSuccess(endpoint);
          this.handle(response);
        }
      } catch (thrown) {
        const error = toEtcdError(thrown);
        if (!(isAbortError(thrown) && this.stopping)) {
          if (!(error instanceof EtcdError) || error.unavailable) this.pool.reportFailure(endpoint);
        }
      } finally {
        session.controller.abort();
        session.requests.end();
        if (this.session === session) this.session = undefined;
      }
      if (this.stopping) break;
      try {
        await delay(this.closeController.signal, backoffDelayMs(attempt++, this.reconnectBackoff));
      } catch {
        break;
      }
    }
  }
}
