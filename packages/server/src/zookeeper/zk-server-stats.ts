import {ZkKeys, prefixEnd} from './zk-keys.js';
import type {ZkMember} from './zk-member.js';
import type {ZkTreeCounts} from './zk-tree-figures.js';

/**
 * What one member's ZooKeeper port has seen, at one moment: the figures `mntr` reports
 * and `/metrics` exports as `synod_zk_*`, both read from {@link ZkServerStats.snapshot}.
 */
export interface ZkStatsSnapshot extends ZkTreeCounts {
  /** Watches set by this member's connections (`zk_watch_count`). */
  readonly watchCount: number;
  /** Open client connections on this member (`zk_num_alive_connections`). */
  readonly aliveConnections: number;
  /** Sessions of the whole cluster (`zk_global_sessions`). */
  readonly globalSessions: number;
  /** Requests received on this member's connections and not yet answered. */
  readonly outstandingRequests: number;
  /** Packets since the last `srst`, as `mntr` reports them. */
  readonly packetsReceived: number;
  readonly packetsSent: number;
  /** Packets since the member started, which `srst` does not reset: `/metrics`' counters. */
  readonly packetsReceivedTotal: number;
  readonly packetsSentTotal: number;
  /** Whole milliseconds, as ZooKeeper measures them; 0 before the first request. */
  readonly minLatencyMs: number;
  /** Rounded to 4 decimals, as ZooKeeper's `AvgMinMaxCounter.getAvg`. */
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly requestsAnswered: number;
}

/** What the statistics read of each open connection (a `ZkConnection`). */
export interface ZkConnectionFigures {
  /** Requests received and not yet answered. */
  readonly queued: number;
  readonly watches: {readonly size: number};
}

/** Hears every answered request's latency, e.g. to fill a histogram. */
export type ZkLatencyListener = (latencyMs: number) => void;

/**
 * The one source of ZooKeeper server statistics of a member: the connections count packets
 * and report each request's latency here, and both `mntr` and the metrics read
 * {@link snapshot}, so they cannot disagree. Counters live here rather than on the
 * connections so that a closed connection's packets still count, as in ZooKeeper's
 * `ServerStats`.
 */
export class ZkServerStats {
  private packetsReceived = 0;
  private packetsSent = 0;
  /** The packet counts at the last `srst`. */
  private packetsReceivedAtReset = 0;
  private packetsSentAtReset = 0;
  private requestsAnswered = 0;
  private latencyTotalMs = 0;
  /** Invariant: minLatencyMs <= maxLatencyMs once requestsAnswered > 0. */
  private minLatencyMs = 0;
  private maxLatencyMs = 0;
  private readonly listeners: ZkLatencyListener[] = [];

  constructor(
    private readonly member: ZkMember,
    private readonly connections: () => ReadonlySet<ZkConnectionFigures>,
  ) {}

  onLatency(listener: ZkLatencyListener): void {
    this.listeners.push(listener);
  }

  packetReceived(): void {
    this.packetsReceived++;
  }

  packetSent(): void {
    this.packetsSent++;
  }

  /**
   * `srst`: latencies and packet counts start again from nothing, as ZooKeeper's
   * `ServerStats.reset`; `/metrics`' packet counters go on, since a counter never goes back.
   */
  reset(): void {
    this.packetsReceivedAtReset = this.packetsReceived;
    this.packetsSentAtReset = this.packetsSent;
    this.requestsAnswered = 0;
    this.latencyTotalMs = 0;
    this.minLatencyMs = 0;
    this.maxLatencyMs = 0;
  }

  /** A request answered `latencyMs` after it was received (fractions kept for listeners). */
  requestAnswered(latencyMs: number): void {
    // ZooKeeper takes the difference of two millisecond clocks.
    const ms = Math.max(0, Math.floor(latencyMs));
    if (this.requestsAnswered === 0 || ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
    this.requestsAnswered++;
    this.latencyTotalMs += ms;
    for (const l of this.listeners) l(latencyMs);
  }

  /**
   * Reads the figures now. The tree's come from the counts the state machine keeps as it
   * writes (`ZkStateMachine.treeCounts`), so a scrape costs the same for any tree.
   */
  snapshot(): ZkStatsSnapshot {
    let watchCount = 0;
    let outstandingRequests = 0;
    const connections = this.connections();
    for (const c of connections) {
      watchCount += c.watches.size;
      outstandingRequests += c.queued;
    }
    const store = this.member.store();
    const {znodeCount, ephemeralsCount, approximateDataSizeBytes} = this.member
      .state()
      .treeCounts();
    const sessions = Buffer.from(ZkKeys.sessionPrefix);
    const globalSessions = store.range(sessions, prefixEnd(sessions), {countOnly: true}).count;
    const avg = this.requestsAnswered === 0 ? 0 : this.latencyTotalMs / this.requestsAnswered;
    return {
      znodeCount,
      watchCount,
      ephemeralsCount,
      approximateDataSizeBytes,
      aliveConnections: connections.size,
      globalSessions,
      outstandingRequests,
      packetsReceived: this.packetsReceived - this.packetsReceivedAtReset,
      packetsSent: this.packetsSent - this.packetsSentAtReset,
      packetsReceivedTotal: this.packetsReceived,
      packetsSentTotal: this.packetsSent,
      minLatencyMs: this.minLatencyMs,
      avgLatencyMs: Math.round(avg * 10_000) / 10_000,
      maxLatencyMs: this.maxLatencyMs,
      requestsAnswered: this.requestsAnswered,
    };
  }
}
