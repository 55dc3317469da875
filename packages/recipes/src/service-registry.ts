import type {Etcd} from '@synod/client';
import {ReplaySubject, Subject, share, takeUntil} from 'rxjs';
import type {Observable} from 'rxjs';

import {keySnapshot$} from './key-snapshot.js';
import {Session} from './session.js';
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

/** A live registration; see {@link ServiceRegistry.register}. */
export class Registration<M = unknown> {
  private session: Session | undefined;
  private closed = false;
  private readonly lostSubject = new Subject<Error>();
  private readonly closedSubject = new Subject<void>();

  /** @internal */
  constructor(
    private readonly client: Etcd,
    /** The registration's key, `prefix/service/id`. */
    readonly key: string,
    private metadata: M,
    private readonly ttlSec: number,
    private readonly reregister: boolean,
  ) {
    this.lost$ = this.lostSubject.asObservable();
  }

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
      await this.client.kv.put(this.key, JSON.stringify(this.metadata), {
        lease: session.lease,
        retry: true,
      });
    } catch (error) {
      this.session = undefined;
      await session.close().catch(() => undefined);
      throw error;
    }
    session.lost$.pipe(takeUntil(this.closedSubject)).subscribe(error => {
      this.session = undefined;
      this.lostSubject.next(error);
      if (this.reregister && !this.closed) void this.restart();
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
      // Closed meanwhile, or the cluster refused the registration: nothing to keep.
    } finally {
      onClose.unsubscribe();
    }
  }

  /** Replaces the registered metadata. */
  async update(metadata: M): Promise<void> {
    this.metadata = metadata;
    const lease = this.session?.lease;
    if (lease === undefined) return; // the re-registration writes the new metadata
    await this.client.kv.put(this.key, JSON.stringify(metadata), {lease, retry: true});
  }

  /** Deregisters: revokes the lease, which deletes the key. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closedSubject.next();
    this.closedSubject.complete();
    this.lostSubject.complete();
    await this.session?.close();
    this.session = undefined;
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

  constructor(
    private readonly client: Etcd,
    options: ServiceRegistryOptions = {},
  ) {
    this.prefix = `${options.prefix ?? 'services'}/`;
    this.ttlSec = options.ttlSec ?? 10;
  }

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
    const registration = new Registration<M>(
      this.client,
      `${this.prefix}${service}/${instanceId}`,
      metadata,
      this.ttlSec,
      options.reregister ?? true,
    );
    await registration.start();
    this.registrations.add(registration);
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
    this.closedSubject.next();
    await Promise.all([...this.registrations].map(r => r.close()));
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
