import type {Sample} from './prometheus-text.js';
import {sumOf} from './prometheus-text.js';

/** One line of the ZooKeeper view: a `synod_zk_*` figure and ZooKeeper's `mntr` name for it. */
export interface ZkFigure {
  readonly label: string;
  readonly mntr: string;
  readonly value: number;
  readonly unit?: 'bytes' | 'ms';
}

const rows: readonly (readonly [string, string, string, ('bytes' | 'ms')?])[] = [
  ['Open connections on this member', 'synod_zk_alive_connections', 'zk_num_alive_connections'],
  ['Sessions in the cluster', 'synod_zk_global_sessions', 'zk_global_sessions'],
  ['Outstanding requests', 'synod_zk_outstanding_requests', 'zk_outstanding_requests'],
  ['Watches on this member', 'synod_zk_watch_count', 'zk_watch_count'],
  ['Znodes', 'synod_zk_znode_count', 'zk_znode_count'],
  ['Ephemeral znodes', 'synod_zk_ephemerals_count', 'zk_ephemerals_count'],
  [
    'Approximate data size',
    'synod_zk_approximate_data_size_bytes',
    'zk_approximate_data_size',
    'bytes',
  ],
  ['Packets received', 'synod_zk_packets_received_total', 'zk_packets_received'],
  ['Packets sent', 'synod_zk_packets_sent_total', 'zk_packets_sent'],
  ['Request latency, min', 'synod_zk_min_latency_ms', 'zk_min_latency', 'ms'],
  ['Request latency, mean', 'synod_zk_avg_latency_ms', 'zk_avg_latency', 'ms'],
  ['Request latency, max', 'synod_zk_max_latency_ms', 'zk_max_latency', 'ms'],
];

/**
 * The ZooKeeper figures a scrape of `/metrics` holds, in the view's order; empty when the
 * member exports none (it has no `--listen-zk-urls`).
 */
export function zkFiguresOf(samples: readonly Sample[]): ZkFigure[] {
  const figures: ZkFigure[] = [];
  for (const [label, metric, mntr, unit] of rows) {
    const value = sumOf(samples, metric);
    if (value !== undefined) figures.push({label, mntr, value, ...(unit ? {unit} : {})});
  }
  return figures;
}
