import type {Etcd} from '@synod/client';
import {AsyncSubject, ReplaySubject, Subject, share, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import {Session} from './session.js';
import type {LeaseState} from './session.js';
import {stateStream} from './state-stream.js';
import {toServiceInstances} from './service-instances.js';
import type {ServiceInstance} from './service-instances.js';
import {retryWhileTransient} from './wait-for-deletes.js';

/** Options of {@link ServiceRegistry}. */
export interface ServiceRegistryOptions {
  /** Key prefix of the registry, `services` by default: keys are `prefix/service/id`. */
  readonly prefix?: string;
  /** TTL of each registration's lease in seconds, 10 by default. */
  readonly ttlSec?: number;
}

/** Options of {@link ServiceRegistry.register}. */
export interface RegisterOptions {
  /**
   * After the lease was lost (the cluster was unreachable longer than the TTL), register
   * again under a new lease as soon as the cluster answers. True by default.
   */
  readonly reregister?: boolean;
}

/**
 * Where a {@link Registration} stands:
 *
 * - `registering`: writing the key under a new lease, the first time or again after the
 *   lease was lost (see `reregister`);
 * - `registered`: the key is written under a lease this process keeps alive;
 * - `lost`: the lease was lost and the registration is not written again (`reregister:
 *   false`, or the cluster refused it);
 * - `closed`: deregistered with `close()`.
 */
export type RegistrationStatus = 'registering' | 'registered' | 'lost' | 'closed';

/** A {@link Registration}'s state, known without a round trip: for logs and metrics. */
export interface RegistrationState<M = unknown> {
  /** The registration's key, `prefix/service/id`. */
  readonly key: string;
  /** The metadata, as last registered or updated (stored as JSON). */
  readonly metadata: M;
  readonly status: RegistrationStatus;
  /** When `status` became what it is, in ms since the epoch by this process's clock. */
  readonly sinceMs: number;
  /**
   * The create revision of the key as this registration wrote it; undefined unless
   * `registered`. It stays the same across a re-registration that finds the old key still
   * there (before the old lease expired).
   */
  readonly fencingToken: bigint | undefined;
  /** The registration's lease, as last known from keep-alives; undefined unless `registered`. */
  readonly lease: LeaseState | undefined;
}

/** What a {@link ServiceRegistry} registered, known without a round trip. */
export interface ServiceRegistryState {
  /** Every registration made here and not closed, in the order they were made. Frozen. */
  readonly registrations: readonly RegistrationState[];
}

/** A live registration; see {@link ServiceRegistry.register}. */
export class Registration<M = unknown> {
  private session: Session | undefined;
  private closed = false;
  private readonly lostSubject = new Subject<Error>();
  private readonly closedSubject = new AsyncSubject<void>();
  private readonly changes = new Subject<void>();
  private status: RegistrationStatus = 'registering';
  private statusSinceMs = Date.now();
  /** The key's create revision, while registered. */
  private fencingToken: bigint | undefined;

  /** @internal */
  constructor(
    private readonly client: Etcd,
    /** The registration's key, `prefix/service/id`. */
    readonly key: string,
    private metadata: M,
    private readonly ttlSec: number,
    private readonly reregister: boolean,
    /** Told after every change of {@link state}. */
    private readonly onChange: () => void = () => undefined,
  ) {
    this.lost$ = this.lostSubject.asObservable();
    this.state$ = stateStream(() => this.state, this.changes, this.closedSubject);
  }

  /**
   * Where the registration stands, from what this process knows (no round trip): status
   * and since when, the metadata, the key's create revision and the lease.
   */
  get state(): RegistrationState<M> {
    const registered = this.status === 'registered';
    return {
      key: this.key,
      metadata: this.metadata,
      status: this.status,
      sinceMs: this.statusSinceMs,
      fencingToken: registered ? this.fencingToken : undefined,
      lease: registered ? this.session?.state : undefined,
    };
  }

  /**
   * {@link state} on subscribe, then a new snapshot on every change of status or metadata
   * (not on every keep-alive: read `state` for the current TTL). Never errors. Completes,
   * after a last snapshot, on {@link close}. Shared, with the latest snapshot replayed to a
   * late subscriber.
   */
  readonly state$: Observable<RegistrationState<M>>;

  /**
   * Emits each time the registration's lease is lost; with `reregister` a new
   * registration follows. Hot (not replayed); completes on {@link close}.
   */
  readonly lost$: Observable<Error>;

  /** The lease the registration currently lives on, undefined while re-registering. */
  get lease(): bigint | undefined {
    return this.session?.lease;
  }

  /** @internal Grants a lease and writes the key. */
  async start(): Promise<void> {
    const session = await Session.create(this.client, {ttlSec: this.ttlSec});
    if (this.closed) {
      await session.close();
      return;
    }
    this.session = session;
    try {
      const put = await this.client.kv.put(this.key, JSON.stringify(this.metadata), {
        lease: session.lease,
        prevKv: true,
        retry: true,
      });
      this.fencingToken = put.prevKv?.createRevision ?? put.header.revision;
    } catch (error) {
      this.session = undefined;
      await session.close().catch(() => undefined);
      throw error;
    }
    this.recordStatus('registered');
    session.lost$.pipe(takeUntil(this.closedSubject)).subscribe(error => {
      this.session = undefined;
      const again = this.reregister && !this.closed;
      this.recordStatus(again ? 'registering' : 'lost');
      this.lostSubject.next(error);
      if (again) void this.restart();
    });
  }

  private async restart(): Promise<void> {
    const stop = new AbortController();
    const onClose = this.closedSubject.subscribe(() => {
      stop.abort();
    });
    try {
      await retryWhileTransient(() => this.start(), stop.signal);
    } catch {
      // Closed meanwhile (then `closed` stays), or the cluster refused the registration.
      this.recordStatus('lost');
    } finally {
      onClose.unsubscribe();
    }
  }

  /** Replaces the registered metadata. */
  async update(metadata: M): Promise<void> {
    this.metadata = metadata;
    this.changes.next();
    this.onChange();
    const lease = this.session?.lease;
    if (lease === undefined) return; // the re-registration writes the new metadata
    await this.client.kv.put(this.key, JSON.stringify(metadata), {lease, retry: true});
  }

  /** Deregisters: revokes the lease, which deletes the key. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.recordStatus('closed');
    this.closedSubject.next();
    this.closedSubject.complete();
    this.lostSubject.complete();
    await this.session?.close();
    this.session = undefined;
  }

  /**
   * Notes the status and since when, then tells `state$` and the registry. `closed` is
   * final: a write that completes after `close()` does not make it `registered` again.
   */
  private recordStatus(status: RegistrationStatus): void {
    if (this.status === 'closed') return;
    if (status !== this.status) {
      this.status = status;
      this.statusSinceMs = Date.now();
    }
    this.changes.next();
    this.onChange();
  }
}

/**
 * Service discovery over leases: instances register `prefix/service/id` with JSON
 * metadata under a lease of their own, so a crashed instance disappears after its TTL;
 * clients follow the live list with {@link instances$}.
 */
export class ServiceRegistry {
  private readonly prefix: string;
  private readonly ttlSec: number;
  private readonly registrations = new Set<Registration>();
  private readonly streams = new Map<string, Observable<readonly ServiceInstance[]>>();
  private readonly closedSubject = new ReplaySubject<void>(1);
  private readonly changes = new Subject<void>();

  constructor(
    private readonly client: Etcd,
    options: ServiceRegistryOptions = {},
  ) {
    this.prefix = `${options.prefix ?? 'services'}/`;
    this.ttlSec = options.ttlSec ?? 10;
    this.state$ = stateStream(() => this.state, this.changes, this.closedSubject);
  }

  /**
   * The registrations made here and not closed, each with its status, lease and create
   * revision: no round trip, for logs and metrics.
   */
  get state(): ServiceRegistryState {
    return {registrations: Object.freeze([...this.registrations].map(r => r.state))};
  }

  /**
   * {@link state} on subscribe, then a new snapshot whenever a registration is made,
   * changes status or metadata, or is closed. Never errors. Completes, after a last
   * snapshot (with no registrations), on {@link close}. Shared, with the latest snapshot
   * replayed to a late subscriber.
   */
  readonly state$: Observable<ServiceRegistryState>;

  /**
   * Registers instance `instanceId` of `service` with `metadata` (stored as JSON) under a
   * new lease kept alive until {@link Registration.close} or {@link close}.
   */
  async register<M>(
    service: string,
    instanceId: string,
    metadata: M,
    options: RegisterOptions = {},
  ): Promise<Registration<M>> {
    checkName('service', service);
    checkName('instance id', instanceId);
    const registration: Registration<M> = new Registration<M>(
      this.client,
      `${this.prefix}${service}/${instanceId}`,
      metadata,
      this.ttlSec,
      options.reregister ?? true,
      () => {
        if (!this.registrations.has(registration)) return;
        if (registration.state.status === 'closed') this.registrations.delete(registration);
        this.changes.next();
      },
    );
    await registration.start();
    this.registrations.add(registration);
    this.changes.next();
    return registration;
  }

  /**
   * The live instances of `service`, sorted by id: the full list on subscribe, then a
   * new full list whenever an instance registers, updates, deregisters or expires.
   *
   * Cold: the first subscriber starts one read-then-watch of the service's keys, shared
   * by later subscribers (the latest list is replayed to them) and cancelled when the last
   * leaves. Transient faults and compaction are retried inside, starting over from a
   * fresh read, so an instance that left while disconnected never lingers. Errors only
   * when the cluster refuses the watch; completes when the registry or client closes.
   */
  instances$<M = unknown>(service: string): Observable<readonly ServiceInstance<M>[]> {
    checkName('service', service);
    let stream = this.streams.get(service);
    if (stream === undefined) {
      const servicePrefix = `${this.prefix}${service}/`;
      stream = keySnapshot$(this.client, {prefix: servicePrefix}).pipe(
        toServiceInstances(service, servicePrefix),
        takeUntil(this.closedSubject),
        share({
          connector: () => new ReplaySubject(1),
          resetOnError: true,
          resetOnComplete: true,
          resetOnRefCountZero: true,
        }),
      );
      this.streams.set(service, stream);
    }
    return stream as Observable<readonly ServiceInstance<M>[]>;
  }

  /** Deregisters every registration made here and completes every `instances$`. */
  async close(): Promise<void> {
    // Each close marks its registration closed before its first await, so the last
    // snapshot of state$ (on closedSubject) lists none.
    const closing = [...this.registrations].map(r => r.close());
    this.closedSubject.next();
    await Promise.all(closing);
    this.registrations.clear();
  }
}

function checkName(what: string, name: string): void {
  if (name === '' || name.includes('/')) {
    throw new RangeError(
      `${what} must be non-empty and contain no '/', got ${JSON.stringify(name)}`,
    );
  }
}
