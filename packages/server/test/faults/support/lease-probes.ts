import {createClient} from '@synod/client';
import type {Etcd, KeptLease} from '@synod/client';

/** What the probe of the lease without keep-alive observed. */
export interface ExpiryObservation {
  /** When the grant was called (`performance.now()` ms): its TTL counts from no earlier. */
  readonly grantCallMs: number;
  readonly ttlSec: number;
  /** Response time of the first linearizable get that found the key gone, if one did. */
  readonly goneAtMs: number | undefined;
  /** Call time of the last get that still found the key. */
  readonly lastSeenCallMs: number | undefined;
}

/**
 * Two leases through the faults: one kept alive by the client, whose key must outlive the
 * faults, and one left alone, whose key a probe reads until it is gone, to check it did not
 * expire before its TTL (a new leader must not expire leases early).
 */
export class LeaseProbes {
  private readonly client: Etcd;
  private kept: KeptLease | undefined;
  private keptKey = '';
  private running = true;
  private probe: Promise<void> = Promise.resolve();
  private observation: ExpiryObservation | undefined;

  constructor(endpoints: readonly string[]) {
    this.client = createClient({endpoints, defaultTimeoutMs: 1500, dialTimeoutMs: 500});
  }

  /** Grants the kept lease and attaches `key` to it. */
  async keep(key: string, ttlSec: number): Promise<void> {
    this.kept = await this.client.lease.grantKeptAlive(ttlSec);
    this.keptKey = key;
    await this.client.kv.put(key, 'kept', {lease: this.kept.id});
  }

  /** Grants a lease of `ttlSec` without keep-alive, attaches `key` and starts probing. */
  async expire(key: string, ttlSec: number): Promise<void> {
    const grantCallMs = performance.now();
    const grant = await this.client.lease.grant(ttlSec);
    await this.client.kv.put(key, 'expiring', {lease: grant.id});
    let observation: ExpiryObservation = {
      grantCallMs,
      ttlSec,
      goneAtMs: undefined,
      lastSeenCallMs: undefined,
    };
    this.observation = observation;
    this.probe = (async () => {
      while (this.running && observation.goneAtMs === undefined) {
        const callMs = performance.now();
        try {
          const value = await this.client.kv.getString(key);
          observation =
            value === undefined
              ? {...observation, goneAtMs: performance.now()}
              : {...observation, lastSeenCallMs: callMs};
          this.observation = observation;
        } catch {
          // Unavailable during the fault: no observation.
        }
        await new Promise(resolve => setTimeout(resolve, 50));
      }
    })();
  }

  /** Waits until the probed key is gone or `timeoutMs` passes; returns what was seen. */
  async expiry(timeoutMs: number): Promise<ExpiryObservation | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (this.observation?.goneAtMs === undefined && performance.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    return this.observation;
  }

  /** Whether the kept lease's key is still there (linearizable get) and the lease alive. */
  async keptLeaseHolds(): Promise<{keyPresent: boolean; ttlSec: number; lost: boolean}> {
    const kept = this.kept;
    if (kept === undefined) throw new Error('no kept lease');
    const value = await this.client.kv.getString(this.keptKey, {timeoutMs: 5000});
    const ttl = await this.client.lease.timeToLive(kept.id, {timeoutMs: 5000});
    return {keyPresent: value === 'kept', ttlSec: ttl.ttlSec, lost: !kept.active};
  }

  /** Stops probing, revokes the kept lease and closes the client. */
  async close(): Promise<void> {
    this.running = false;
    await this.probe;
    if (this.kept !== undefined) {
      await this.client.lease.revoke(this.kept.id, {timeoutMs: 5000}).catch(() => undefined);
    }
    this.client.close();
  }
}
