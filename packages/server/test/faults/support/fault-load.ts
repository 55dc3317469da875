import {createClient} from '@synod/client';
import type {EtcdCluster} from '@synod/testing';
import {expect} from 'vitest';

import {AckedWrites} from './acked-writes.js';
import {LeaseProbes} from './lease-probes.js';
import {hashesAt} from './member-status.js';
import {RegisterHistory} from './register-history.js';
import {ResumingWatcher} from './resuming-watcher.js';
import type {SeenEvent} from './resuming-watcher.js';

/** Options of {@link FaultLoad.start}. */
export interface FaultLoadOptions {
  /** Every key of the load lives under this prefix, distinct per scenario. */
  readonly prefix: string;
  /** Index of the member the watcher starts on: the one about to be faulted, ideally. */
  readonly watcherMember: number;
  /** Deadline of one client call; longer than an election. */
  readonly callTimeoutMs?: number;
}

/** What one scenario's load did, for the test's log. */
export interface FaultLoadSummary {
  readonly operations: number;
  readonly ackedPuts: number;
  readonly failedPuts: number;
  readonly watchEvents: number;
  readonly watchReconnects: number;
  readonly checkerSteps: number;
}

/** Longer than the longest outage of a scenario, so the client can keep it through. */
const keptLeaseTtlSec = 20;
const expiringLeaseTtlSec = 2;

async function retrying<T>(what: string, call: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (performance.now() > deadline) {
        throw new Error(`${what} kept failing for ${timeoutMs} ms: ${String(error)}`);
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
}

/**
 * The load every fault scenario runs and the promises checked after it:
 *
 * - every acknowledged write is present, read back linearizably from every member;
 * - the history of puts and gets on shared registers is linearizable per key;
 * - every member has the same HashKV at one revision;
 * - a watcher that resumes from its last revision + 1 on another member sees exactly the
 *   events one unbroken watch sees: each once, in revision order;
 * - a kept-alive lease survives, and a lease left alone expires no earlier than its TTL.
 */
export class FaultLoad {
  private constructor(
    private readonly cluster: EtcdCluster,
    private readonly prefix: string,
    private readonly startRevision: bigint,
    readonly history: RegisterHistory,
    readonly writes: AckedWrites,
    readonly watcher: ResumingWatcher,
    readonly leases: LeaseProbes,
  ) {}

  static async start(cluster: EtcdCluster, options: FaultLoadOptions): Promise<FaultLoad> {
    const {prefix} = options;
    const callTimeoutMs = options.callTimeoutMs ?? 1500;
    const endpoints = cluster.endpoints;
    const client = createClient({endpoints, defaultTimeoutMs: 3000});
    let startRevision: bigint;
    try {
      const put = await retrying('the first put', () => client.kv.put(`${prefix}/start`, 'go'));
      startRevision = put.header.revision;
    } finally {
      client.close();
    }
    const watcher = new ResumingWatcher(
      cluster.members.map(m => m.clientAddress),
      `${prefix}/`,
      startRevision,
      1000,
      options.watcherMember,
    );
    const leases = new LeaseProbes(endpoints);
    await leases.keep(`${prefix}/lease/kept`, keptLeaseTtlSec);
    await leases.expire(`${prefix}/lease/expiring`, expiringLeaseTtlSec);
    const history = RegisterHistory.start({
      endpoints,
      prefix: `${prefix}/reg`,
      keys: 6,
      roamingClients: 3,
      callTimeoutMs,
    });
    const writes = AckedWrites.start({
      endpoints,
      prefix: `${prefix}/ack`,
      roamingWriters: 1,
      callTimeoutMs,
    });
    return new FaultLoad(cluster, prefix, startRevision, history, writes, watcher, leases);
  }

  /**
   * Stops the load and checks every promise; every member must be running again. Stops the
   * watcher and leases whatever happens.
   */
  async stopAndVerify(): Promise<FaultLoadSummary> {
    try {
      await Promise.all([this.history.stop(), this.writes.stop()]);
      return await this.verify();
    } finally {
      await this.watcher.stop();
      await this.leases.close();
    }
  }

  private async verify(): Promise<FaultLoadSummary> {
    const {cluster, prefix} = this;
    expect(cluster.members.every(m => m.running)).toBe(true);

    // A last write marks the end of the history for the watchers and the hashes.
    const fenceClient = createClient({endpoints: cluster.endpoints, defaultTimeoutMs: 3000});
    let fenceRevision: bigint;
    try {
      fenceRevision = (
        await retrying('the fence put', () => fenceClient.kv.put(`${prefix}/fence`, 'end'))
      ).header.revision;
    } finally {
      fenceClient.close();
    }

    // Every acknowledged write, on every member, by linearizable reads.
    const acked = this.writes.acked;
    expect(acked.length).toBeGreaterThan(20);
    for (const endpoint of cluster.endpoints) {
      const reader = createClient({endpoints: endpoint, defaultTimeoutMs: 5000});
      try {
        const stored = await retrying(`reading the writes from ${endpoint}`, () =>
          reader.kv.range({prefix: `${prefix}/ack/`}),
        );
        const values = new Map(stored.kvs.map(kv => [kv.keyString, kv.valueString]));
        const missing = acked.filter(p => values.get(p.key) !== p.value);
        expect(
          missing.map(p => p.key),
          `acknowledged writes missing on ${endpoint}`,
        ).toEqual([]);
      } finally {
        reader.close();
      }
    }

    // The register history is linearizable, key by key.
    const result = this.history.check();
    expect(result.verdict, this.history.describe(result)).toBe('ok');
    expect(this.history.acknowledgedPuts).toBeGreaterThan(10);

    // The resumed watcher saw what one unbroken watch sees.
    await this.watcher.waitForRevision(fenceRevision, 10_000);
    expect(this.watcher.errors).toEqual([]);
    const seen = this.watcher.events.filter(e => e.revision <= fenceRevision);
    assertOrderedOnce(seen);
    const reference = await ResumingWatcher.replay(
      cluster.members[0]?.clientAddress ?? '',
      `${prefix}/`,
      this.startRevision,
      fenceRevision,
    );
    expect(seen.length).toBe(reference.length);
    expect(seen).toEqual(reference);
    const putEvents = new Set(seen.filter(e => e.type === 'put').map(e => `${e.key}=${e.value}`));
    const unseen = acked.filter(p => !putEvents.has(`${p.key}=${p.value}`));
    expect(
      unseen.map(p => p.key),
      'acknowledged writes the watcher never saw',
    ).toEqual([]);

    // Every member holds the same history.
    const hashes = await hashesAt(cluster.members, fenceRevision);
    expect(hashes, `HashKV at revision ${fenceRevision}`).toHaveLength(cluster.members.length);
    expect(hashes).not.toContain(-1);
    expect(new Set(hashes).size).toBe(1);

    // Leases: the kept one holds, the other expired, and not before its TTL.
    const kept = await this.leases.keptLeaseHolds();
    expect(kept).toMatchObject({keyPresent: true, lost: false});
    expect(kept.ttlSec).toBeGreaterThan(0);
    const expiry = await this.leases.expiry(10_000);
    expect(expiry?.goneAtMs, 'the lease without keep-alive never expired').toBeDefined();
    if (expiry?.goneAtMs !== undefined) {
      expect(expiry.goneAtMs - expiry.grantCallMs).toBeGreaterThanOrEqual(expiry.ttlSec * 1000);
    }

    return {
      operations: this.history.history.length,
      ackedPuts: acked.length,
      failedPuts: this.writes.failed.length,
      watchEvents: seen.length,
      watchReconnects: this.watcher.reconnects,
      checkerSteps: result.steps,
    };
  }
}

/** Revisions never go back and no (revision, key) pair repeats. */
function assertOrderedOnce(events: readonly SeenEvent[]): void {
  const pairs = new Set<string>();
  let previous = 0n;
  for (const event of events) {
    const pair = `${event.revision}/${event.key}`;
    expect(pairs.has(pair), `event ${pair} seen twice`).toBe(false);
    expect(event.revision >= previous, `event ${pair} after revision ${previous}`).toBe(true);
    pairs.add(pair);
    previous = event.revision;
  }
}
