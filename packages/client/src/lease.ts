import {EtcdErrors} from '@synod/proto';
import type {ResponseHeader} from '@synod/proto';

import type {CallOptions} from './call-options.js';
import type {Int64Like} from './compare.js';
import {toInt64} from './compare.js';
import type {ConnectionPool} from './connection-pool.js';
import {LeaseNotFoundError} from './errors.js';
import type {KeySpace} from './key-space.js';
import type {KeptLease, LeaseKeeper} from './lease-keeper.js';
import {headerOf} from './ops.js';

/** A granted lease. */
export interface LeaseGrant {
  readonly header: ResponseHeader;
  readonly id: bigint;
  /** The TTL the server granted, in seconds (it raises TTLs below its minimum). */
  readonly ttlSec: number;
}

/** What `timeToLive` reports. */
export interface LeaseTimeToLive {
  readonly header: ResponseHeader;
  readonly id: bigint;
  /** Seconds left; -1 when the lease does not exist. */
  readonly ttlSec: number;
  /** The TTL the lease was granted with, in seconds. */
  readonly grantedTtlSec: number;
  /** Keys attached to the lease (in a namespace: those inside it, stripped). */
  readonly keys: Buffer[];
}

/**
 * Leases (etcd's Lease service) and the client's keep-alive manager. Revoke, time-to-live
 * and list are retried on another member when one is unavailable; grant is not (a
 * repeated grant would create a second lease).
 */
export class Lease {
  /** @internal */
  constructor(
    private readonly pool: ConnectionPool,
    private readonly keeper: LeaseKeeper,
    private readonly space: KeySpace,
  ) {}

  /** Grants a lease of `ttlSec` seconds, with a server-chosen id unless `id` is given. */
  async grant(
    ttlSec: number,
    options: CallOptions & {readonly id?: Int64Like} = {},
  ): Promise<LeaseGrant> {
    const request = {
      TTL: toInt64(ttlSec, 'ttlSec'),
      ID: options.id === undefined ? 0n : toInt64(options.id, 'id'),
    };
    const response = await this.pool.unary(
      '/etcdserverpb.Lease/LeaseGrant',
      {...options, retry: false},
      (c, o) => c.lease.leaseGrant(request, o),
    );
    return {header: headerOf(response.header), id: response.ID, ttlSec: Number(response.TTL)};
  }

  /** Revokes a lease, deleting every key attached to it. */
  async revoke(id: Int64Like, options: CallOptions = {}): Promise<ResponseHeader> {
    const leaseId = toInt64(id, 'id');
    this.keeper.releaseId(leaseId);
    const response = await this.pool.unary(
      '/etcdserverpb.Lease/LeaseRevoke',
      {...options, retry: true},
      (c, o) => c.lease.leaseRevoke({ID: leaseId}, o),
    );
    return headerOf(response.header);
  }

  /** The remaining and granted TTL of a lease, and its keys when `keys` is set. */
  async timeToLive(
    id: Int64Like,
    options: CallOptions & {readonly keys?: boolean} = {},
  ): Promise<LeaseTimeToLive> {
    const request = {ID: toInt64(id, 'id'), keys: options.keys ?? false};
    const response = await this.pool.unary(
      '/etcdserverpb.Lease/LeaseTimeToLive',
      {...options, retry: true},
      (c, o) => c.lease.leaseTimeToLive(request, o),
    );
    return {
      header: headerOf(response.header),
      id: response.ID,
      ttlSec: Number(response.TTL),
      grantedTtlSec: Number(response.grantedTTL),
      keys: response.keys.filter(k => this.space.contains(k)).map(k => this.space.strip(k)),
    };
  }

  /** The ids of every lease in the cluster. */
  async leases(options: CallOptions = {}): Promise<bigint[]> {
    const response = await this.pool.unary(
      '/etcdserverpb.Lease/LeaseLeases',
      {...options, retry: true},
      (c, o) => c.lease.leaseLeases({}, o),
    );
    return response.leases.map(l => l.ID);
  }

  /**
   * Keeps a lease alive until `release()`, revoke or loss; see {@link KeptLease}. Looks the
   * lease up first, and rejects with `LeaseNotFoundError` if it does not exist.
   */
  async keepAlive(id: Int64Like, options: CallOptions = {}): Promise<KeptLease> {
    const sentAtMs = Date.now();
    const ttl = await this.timeToLive(id, options);
    if (ttl.ttlSec <= 0) {
      throw new LeaseNotFoundError(
        EtcdErrors.leaseNotFound.code,
        `${EtcdErrors.leaseNotFound.message} (lease ${id}, asked to keep it alive)`,
        '/etcdserverpb.Lease/LeaseTimeToLive',
      );
    }
    return this.keeper.keep(ttl.id, ttl.grantedTtlSec, ttl.ttlSec, sentAtMs);
  }

  /** Grants a lease and keeps it alive: `grant` then `keepAlive` in one step. */
  async grantKeptAlive(ttlSec: number, options: CallOptions = {}): Promise<KeptLease> {
    const sentAtMs = Date.now();
    const grant = await this.grant(ttlSec, options);
    return this.keeper.keep(grant.id, grant.ttlSec, grant.ttlSec, sentAtMs);
  }
}
