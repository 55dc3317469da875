import {Counter, Gauge, Histogram} from 'prom-client';
import type {Registry} from 'prom-client';

import type {ZkServerStats, ZkStatsSnapshot} from '../zookeeper/zk-server-stats.js';

/** Request latencies from 0.1 ms doubling to 3.2768 s, as etcd's peer round trips. */
const latencyBuckets = Array.from({length: 16}, (_, i) =>
  Number((0.0001 * 2 ** i).toPrecision(12)),
);

/**
 * The ZooKeeper port's figures under `synod_zk_*`: the same {@link ZkStatsSnapshot} that
 * `mntr` prints, read at each scrape, so the two always agree; plus a histogram of request
 * latencies, which `mntr` can only summarise as min/avg/max. Absent (no samples) until
 * {@link attach}ed to a member's ZooKeeper server.
 */
export class ZkMetrics {
  private stats: ZkServerStats | undefined;
  /**
   * The snapshot of the scrape in progress, so that one tree scan serves every metric and
   * they all describe one moment. prom-client collects a registry's metrics in the order
   * they were registered, so the first one, `synod_zk_znode_count`, takes it.
   */
  private scraped: ZkStatsSnapshot | undefined;
  private readonly requestLatency: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    const self = () => this;
    let first = true;
    const gauge = (name: string, help: string, value: (s: ZkStatsSnapshot) => number) => {
      const refresh = first;
      first = false;
      return new Gauge({
        name,
        help,
        registers,
        collect() {
          const zk = self();
          if (refresh) zk.scraped = zk.stats?.snapshot();
          if (zk.scraped === undefined) this.reset();
          else this.set(value(zk.scraped));
        },
      });
    };
    // mntr's running totals: the exported counter is moved up to them at each scrape.
    const counter = (name: string, help: string, value: (s: ZkStatsSnapshot) => number) => {
      let exported = 0;
      return new Counter({
        name,
        help,
        registers,
        collect() {
          const s = self().scraped;
          if (s === undefined) return;
          const now = value(s);
          if (now > exported) this.inc(now - exported);
          exported = Math.max(now, exported);
        },
      });
    };
    gauge('synod_zk_znode_count', 'Znodes in the tree (mntr zk_znode_count).', s => s.znodeCount);
    gauge(
      'synod_zk_watch_count',
      "Watches set by this member's ZooKeeper connections (mntr zk_watch_count).",
      s => s.watchCount,
    );
    gauge(
      'synod_zk_ephemerals_count',
      'Ephemeral znodes in the tree (mntr zk_ephemerals_count).',
      s => s.ephemeralsCount,
    );
    gauge(
      'synod_zk_approximate_data_size_bytes',
      "Sum of the znodes' path and data lengths (mntr zk_approximate_data_size).",
      s => s.approximateDataSizeBytes,
    );
    gauge(
      'synod_zk_alive_connections',
      'Open ZooKeeper client connections on this member (mntr zk_num_alive_connections).',
      s => s.aliveConnections,
    );
    gauge(
      'synod_zk_global_sessions',
      'ZooKeeper sessions of the whole cluster (mntr zk_global_sessions).',
      s => s.globalSessions,
    );
    gauge(
      'synod_zk_outstanding_requests',
      'ZooKeeper requests received and not yet answered (mntr zk_outstanding_requests).',
      s => s.outstandingRequests,
    );
    gauge(
      'synod_zk_min_latency_ms',
      'Shortest ZooKeeper request latency in whole milliseconds (mntr zk_min_latency).',
      s => s.minLatencyMs,
    );
    gauge(
      'synod_zk_avg_latency_ms',
      'Mean ZooKeeper request latency in milliseconds (mntr zk_avg_latency).',
      s => s.avgLatencyMs,
    );
    gauge(
      'synod_zk_max_latency_ms',
      'Longest ZooKeeper request latency in whole milliseconds (mntr zk_max_latency).',
      s => s.maxLatencyMs,
    );
    counter(
      'synod_zk_packets_received_total',
      'ZooKeeper packets received (mntr zk_packets_received).',
      s => s.packetsReceivedTotal,
    );
    counter(
      'synod_zk_packets_sent_total',
      'ZooKeeper packets sent (mntr zk_packets_sent).',
      s => s.packetsSentTotal,
    );
    this.requestLatency = new Histogram({
      name: 'synod_zk_request_latency_seconds',
      help: 'Time from receiving a ZooKeeper request to answering it.',
      buckets: latencyBuckets,
      registers,
    });
  }

  /** Exports `stats` from now on, and every request latency it hears. */
  attach(stats: ZkServerStats): void {
    this.stats = stats;
    stats.onLatency(ms => {
      this.requestLatency.observe(ms / 1000);
    });
  }
}
