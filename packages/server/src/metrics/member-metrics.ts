// Over 400 lines on purpose: one observer that the member, the gRPC layer and the peer
// transport report to. Most of the file declares etcd's metric families (names, help texts and
// buckets as etcd 3.4 has them), and each method is one update. The families read from the
// member's state at each scrape are in member-state-metrics.ts.

import type {Message} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import {Counter, Gauge, Histogram, Registry} from 'prom-client';

import type {MemberCore} from '../member/member.js';
import type {MemberObserver} from '../member/member-observer.js';
import type {PeerTrafficObserver} from '../peer/peer-transport.js';
import type {MethodTable} from '../transport/grpc-service.js';
import {exponentialBuckets} from './exponential-buckets.js';
import type {GrpcCallObserver, GrpcCallType} from './grpc-metrics.js';
import {GrpcMetrics, grpcMethodLabels} from './grpc-metrics.js';
import {registerMemberStateMetrics} from './member-state-metrics.js';
import {registerProcessMetrics} from './process-metrics.js';
import {StorageMetrics} from './storage-metrics.js';
import {ZkMetrics} from './zk-metrics.js';

export type {GrpcCallObserver, GrpcCallType} from './grpc-metrics.js';

/** etcd's buckets for disk latencies: 1 ms doubling to 8.192 s (`ExponentialBuckets(0.001, 2, 14)`). */
const diskBuckets = exponentialBuckets(0.001, 2, 14);
/** etcd's buckets for the round trip to a peer: 0.1 ms doubling to 3.2768 s. */
const roundTripBuckets = exponentialBuckets(0.0001, 2, 16);
/** etcd's buckets for saving, sending or receiving a snapshot: 0.1 s doubling to 51.2 s. */
const snapshotSaveBuckets = exponentialBuckets(0.1, 2, 10);

/** Settings of {@link MemberMetrics}. */
export interface MemberMetricsOptions {
  /** etcd's `--metrics extensive`: adds `grpc_server_handling_seconds`. */
  readonly extensive: boolean;
  /** The etcd version the member reports (`etcd_server_version`). */
  readonly serverVersion: string;
  /** Raft's heartbeat interval: a leader's heartbeat later than twice it is a send failure. */
  readonly heartbeatIntervalMs: number;
}

/** Which of `/livez`, `/readyz` a named check belongs to (`etcd_server_healthcheck`'s type). */
export type HealthCheckType = 'livez' | 'readyz';

/**
 * A member's Prometheus metrics, served on `/metrics` of the client URLs and of
 * `--listen-metrics-urls`, under etcd's names, types, labels, help texts and buckets where
 * etcd has the metric, so etcd's Grafana dashboard and alerting rules read Synod unchanged.
 * One registry per member: several members may share a process.
 *
 * Made before the member's core opens (the core reports fsyncs and commits to it from the
 * first one), then {@link attach}ed to the core for what is read from its state at scrape time.
 */
export class MemberMetrics implements GrpcCallObserver, MemberObserver {
  readonly registry = new Registry();
  readonly watchStreams: Gauge;
  /** The ZooKeeper port's `synod_zk_*`, attached once the port listens. */
  readonly zk: ZkMetrics;
  /** The MVCC store's, the leases', the backend's work. */
  readonly storage: StorageMetrics;
  private readonly grpc: GrpcMetrics;
  private core: MemberCore | undefined;
  private readonly walFsync: Histogram;
  private readonly backendCommit: Histogram;
  private readonly snapFsync: Histogram;
  private readonly snapSave: Histogram;
  private readonly snapDbFsync: Histogram;
  private readonly snapDbSave: Histogram;
  private readonly proposalsFailed: Counter;
  private readonly slowReadIndexes: Counter;
  private readonly slowApplies: Counter;
  private readonly heartbeatSendFailures: Counter;
  private readonly peerSentBytes: Counter<'To'>;
  private readonly peerReceivedBytes: Counter<'From'>;
  private readonly peerSentFailures: Counter<'To'>;
  private readonly peerRoundTrip: Histogram<'To'>;
  private readonly healthSuccess: Counter;
  private readonly healthFailures: Counter;
  private readonly healthCheck: Gauge<'name' | 'type'>;
  private readonly healthChecks: Counter<'name' | 'status' | 'type'>;
  private readonly clientRequests: Counter<'client_api_version' | 'type'>;
  private readonly disconnectedPeers: Counter<'Local' | 'Remote'>;
  private readonly learnerPromotes: Counter;
  private readonly readIndexesFailed: Counter;
  private readonly snapshotApplyInProgress: Gauge;
  private readonly snapshotSends: Record<'success' | 'failures', Counter<'To'>>;
  private readonly snapshotSendInflights: Gauge<'To'>;
  private readonly snapshotSendSeconds: Histogram<'To'>;
  private readonly snapshotReceives: Counter<'From'>;
  private readonly snapshotReceiveSeconds: Histogram<'From'>;
  private readonly snapshotReceiveFailures: Counter<'From'>;
  private readonly snapshotReceiveInflights: Gauge<'From'>;
  private readonly peerReceivedFailures: Counter<'From'>;
  private readonly scrapes: Counter<'code'>;
  private readonly scrapesInFlight: Gauge;
  /** When the snapshot in flight to each follower was handed to the transport. */
  private readonly snapshotSendStartedMs = new Map<number, number>();
  /** Whether the transport's stream to a peer is up, once {@link attachPeers} is called. */
  private isPeerConnected: ((id: number) => boolean) | undefined;
  /** When the leader last sent each follower a heartbeat, and in which term. */
  private readonly lastHeartbeatMs = new Map<number, number>();
  private heartbeatTerm = -1;

  constructor(private readonly options: MemberMetricsOptions) {
    const registry = this.registry;
    const registers = [registry];
    this.grpc = new GrpcMetrics(registry, options.extensive);
    registerProcessMetrics(registry);
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({name, help, buckets, registers});
    const counter = (name: string, help: string) => new Counter({name, help, registers});
    this.walFsync = histogram(
      'etcd_disk_wal_fsync_duration_seconds',
      'The latency distributions of fsync called by WAL.',
      diskBuckets,
    );
    this.backendCommit = histogram(
      'etcd_disk_backend_commit_duration_seconds',
      'The latency distributions of commit called by backend.',
      diskBuckets,
    );
    this.snapFsync = histogram(
      'etcd_snap_fsync_duration_seconds',
      'The latency distributions of fsync called by snap.',
      diskBuckets,
    );
    this.snapSave = histogram(
      'etcd_debugging_snap_save_total_duration_seconds',
      'The total latency distributions of save called by snapshot.',
      diskBuckets,
    );
    this.snapDbFsync = histogram(
      'etcd_snap_db_fsync_duration_seconds',
      'The latency distributions of fsyncing .snap.db file',
      diskBuckets,
    );
    this.snapDbSave = histogram(
      'etcd_snap_db_save_total_duration_seconds',
      'The total latency distributions of v3 snapshot save',
      snapshotSaveBuckets,
    );
    this.proposalsFailed = counter(
      'etcd_server_proposals_failed_total',
      'The total number of failed proposals seen.',
    );
    this.slowReadIndexes = counter(
      'etcd_server_slow_read_indexes_total',
      "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
    );
    this.slowApplies = counter(
      'etcd_server_slow_apply_total',
      'The total number of slow apply requests (likely overloaded from slow disk).',
    );
    this.heartbeatSendFailures = counter(
      'etcd_server_heartbeat_send_failures_total',
      'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
    );
    this.peerSentBytes = new Counter({
      name: 'etcd_network_peer_sent_bytes_total',
      help: 'The total number of bytes sent to peers.',
      labelNames: ['To'],
      registers,
    });
    this.peerReceivedBytes = new Counter({
      name: 'etcd_network_peer_received_bytes_total',
      help: 'The total number of bytes received from peers.',
      labelNames: ['From'],
      registers,
    });
    this.peerSentFailures = new Counter({
      name: 'etcd_network_peer_sent_failures_total',
      help: 'The total number of send failures from peers.',
      labelNames: ['To'],
      registers,
    });
    this.peerRoundTrip = new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      buckets: roundTripBuckets,
      registers,
    });
    this.healthSuccess = counter(
      'etcd_server_health_success',
      'The total number of successful health checks',
    );
    this.healthFailures = counter(
      'etcd_server_health_failures',
      'The total number of failed health checks',
    );
    this.healthCheck = new Gauge({
      name: 'etcd_server_healthcheck',
      help: 'The result of each kind of healthcheck.',
      labelNames: ['type', 'name'],
      registers,
    });
    this.healthChecks = new Counter({
      name: 'etcd_server_healthchecks_total',
      help: 'The total number of each kind of healthcheck.',
      labelNames: ['type', 'name', 'status'],
      registers,
    });
    this.watchStreams = new Gauge({
      name: 'etcd_debugging_mvcc_watch_stream_total',
      help: 'Total number of watch streams.',
      registers,
    });
    this.clientRequests = new Counter({
      name: 'etcd_server_client_requests_total',
      help: 'The total number of client requests per client version.',
      labelNames: ['type', 'client_api_version'],
      registers,
    });
    this.disconnectedPeers = new Counter({
      name: 'etcd_network_disconnected_peers_total',
      help: 'The total number of disconnected peers.',
      labelNames: ['Local', 'Remote'],
      registers,
    });
    this.learnerPromotes = counter(
      'etcd_server_learner_promote_successes',
      'The total number of successful learner promotions while this member is leader.',
    );
    this.readIndexesFailed = counter(
      'etcd_server_read_indexes_failed_total',
      'The total number of failed read indexes seen.',
    );
    this.snapshotApplyInProgress = new Gauge({
      name: 'etcd_server_snapshot_apply_in_progress_total',
      help: '1 if the server is applying the incoming snapshot. 0 if none.',
      registers,
    });
    const sendCounter = (name: string, help: string) =>
      new Counter({name, help, labelNames: ['To'], registers});
    this.snapshotSends = {
      success: sendCounter(
        'etcd_network_snapshot_send_success',
        'Total number of successful snapshot sends',
      ),
      failures: sendCounter(
        'etcd_network_snapshot_send_failures',
        'Total number of snapshot send failures',
      ),
    };
    this.snapshotSendInflights = new Gauge({
      name: 'etcd_network_snapshot_send_inflights_total',
      help: 'Total number of inflight snapshot sends',
      labelNames: ['To'],
      registers,
    });
    this.snapshotSendSeconds = new Histogram({
      name: 'etcd_network_snapshot_send_total_duration_seconds',
      help: 'Total latency distributions of v3 snapshot sends',
      labelNames: ['To'],
      buckets: snapshotSaveBuckets,
      registers,
    });
    this.snapshotReceives = new Counter({
      name: 'etcd_network_snapshot_receive_success',
      help: 'Total number of successful snapshot receives',
      labelNames: ['From'],
      registers,
    });
    this.snapshotReceiveSeconds = new Histogram({
      name: 'etcd_network_snapshot_receive_total_duration_seconds',
      help: 'Total latency distributions of v3 snapshot receives',
      labelNames: ['From'],
      buckets: snapshotSaveBuckets,
      registers,
    });
    this.snapshotReceiveFailures = new Counter({
      name: 'etcd_network_snapshot_receive_failures',
      help: 'Total number of snapshot receive failures',
      labelNames: ['From'],
      registers,
    });
    this.snapshotReceiveInflights = new Gauge({
      name: 'etcd_network_snapshot_receive_inflights_total',
      help: 'Total number of inflight snapshot receives',
      labelNames: ['From'],
      registers,
    });
    // etcd labels it with the connection's remote address, the sender being unknown until its
    // bytes decode.
    this.peerReceivedFailures = new Counter({
      name: 'etcd_network_peer_received_failures_total',
      help: 'The total number of receive failures from peers.',
      labelNames: ['From'],
      registers,
    });
    // What Go's Prometheus handler counts of itself, which etcd therefore exports.
    this.scrapes = new Counter({
      name: 'promhttp_metric_handler_requests_total',
      help: 'Total number of scrapes by HTTP status code.',
      labelNames: ['code'],
      registers,
    });
    for (const code of ['200', '500', '503']) this.scrapes.inc({code}, 0);
    this.scrapesInFlight = new Gauge({
      name: 'promhttp_metric_handler_requests_in_flight',
      help: 'Current number of scrapes being served.',
      registers,
    });
    this.storage = new StorageMetrics(registry);
    registerMemberStateMetrics(
      registry,
      () => this.core,
      () => this.isPeerConnected,
      options.serverVersion,
    );
    this.zk = new ZkMetrics(registry);
  }

  /**
   * The text of a scrape of `/metrics`, counted as Go's handler counts its own: the scrape being
   * served shows as in flight, and is counted by its status once it is rendered.
   */
  async scrape(): Promise<string> {
    this.scrapesInFlight.inc();
    try {
      const text = await this.registry.metrics();
      this.scrapes.inc({code: '200'});
      return text;
    } catch (error) {
      this.scrapes.inc({code: '500'});
      throw error;
    } finally {
      this.scrapesInFlight.dec();
    }
  }

  /** Starts reporting `etcd_network_active_peers` from the peer transport's streams. */
  attachPeers(isConnected: (id: number) => boolean): void {
    this.isPeerConnected = isConnected;
  }

  /** Starts reading the member's state at each scrape. */
  attach(core: MemberCore): void {
    this.core = core;
  }

  // GrpcCallObserver

  started(service: string, method: string, type: GrpcCallType, clientApiVersion?: string): void {
    this.grpc.started(service, method, type);
    // etcd's interceptor reads the version etcd's clients send as metadata; the JSON gateway's
    // calls carry none.
    this.clientRequests.inc({
      type: type === 'unary' ? 'unary' : 'stream',
      client_api_version: clientApiVersion ?? 'unknown',
    });
  }

  handled(service: string, method: string, type: GrpcCallType, code: number): void {
    this.grpc.handled(service, method, type, code);
  }

  receivedBytes(bytes: number): void {
    this.grpc.receivedBytes(bytes);
  }

  sentBytes(bytes: number): void {
    this.grpc.sentBytes(bytes);
  }

  /**
   * The served methods with their messages and handling time counted (see
   * {@link GrpcMetrics.observed}), every one exported with zero counts from the start.
   */
  observedMethods(methods: MethodTable): MethodTable {
    this.grpc.initialize(grpcMethodLabels(methods));
    return this.grpc.observed(methods, () => performance.now());
  }

  // MemberObserver

  walSynced(durationMs: number): void {
    this.walFsync.observe(durationMs / 1000);
  }

  backendCommitted(durationMs: number): void {
    this.backendCommit.observe(durationMs / 1000);
  }

  snapshotSynced(durationMs: number): void {
    // Synod times the snapshot file's save as a whole: its encoding, write and fsync.
    this.snapFsync.observe(durationMs / 1000);
    this.snapSave.observe(durationMs / 1000);
  }

  snapshotDbSaved(totalMs: number, fsyncMs: number): void {
    this.snapDbSave.observe(totalMs / 1000);
    this.snapDbFsync.observe(fsyncMs / 1000);
  }

  proposalFailed(): void {
    this.proposalsFailed.inc();
  }

  readIndexSlow(): void {
    this.slowReadIndexes.inc();
  }

  readIndexFailed(): void {
    this.readIndexesFailed.inc();
  }

  txnEnded(ranges: number, puts: number, deletes: number, putBytes: number): void {
    this.storage.txnEnded(ranges, puts, deletes, putBytes);
  }

  indexCompacted(_revision: number, pauseMs: number): void {
    this.storage.indexCompacted(pauseMs);
  }

  compactionBatch(keys: number, pauseMs: number, last: boolean): void {
    this.storage.compactionBatch(keys, pauseMs, last);
  }

  compacted(totalMs: number): void {
    this.storage.compacted(totalMs);
  }

  leaseGranted(ttlSeconds: number): void {
    this.storage.leaseGrantedWith(ttlSeconds);
  }

  leaseRenewed(): void {
    this.storage.leaseRenewedOnce();
  }

  leaseRevoked(): void {
    this.storage.leaseRevokedOnce();
  }

  leaseExpired(): void {
    this.storage.leaseExpiredOnce();
  }

  snapshotApplying(delta: 1 | -1): void {
    this.snapshotApplyInProgress.inc(delta);
  }

  backendSnapshotted(durationMs: number): void {
    this.storage.backendSnapshotted(durationMs);
  }

  /** This member, as leader, promoted a learner to a voter. */
  learnerPromoted(): void {
    this.learnerPromotes.inc();
  }

  /** A request took longer than `--warning-apply-duration`. */
  applySlow(): void {
    this.slowApplies.inc();
  }

  /** What the peer transport reports, under etcd's peer labels: member ids in hex. */
  readonly peers: PeerTrafficObserver = {
    sent: (to, bytes) => {
      this.peerSentBytes.inc({To: to.toString(16)}, bytes);
    },
    sendFailed: to => {
      this.peerSentFailures.inc({To: to.toString(16)});
    },
    disconnected: to => {
      const local = this.core?.memberId.toString(16) ?? '';
      this.disconnectedPeers.inc({Local: local, Remote: to.toString(16)});
    },
    roundTrip: (to, seconds) => {
      this.peerRoundTrip.observe({To: to.toString(16)}, seconds);
    },
  };

  /** Bytes read from peer `from`'s Raft stream or snapshot call. */
  peerReceived(from: number, bytes: number): void {
    this.peerReceivedBytes.inc({From: from.toString(16)}, bytes);
  }

  /**
   * Watches the leader's outgoing heartbeats, as etcd's timeout detector does: a heartbeat to
   * a follower more than two heartbeat intervals after the previous one means the leader was
   * too busy (a slow disk, most often) and counts as a send failure. `nowMs` is monotonic.
   */
  observeSends(messages: readonly Message[], term: number, nowMs: number): void {
    if (term !== this.heartbeatTerm) {
      // A new term: the previous leader's (or this member's earlier) heartbeats do not count.
      this.lastHeartbeatMs.clear();
      this.heartbeatTerm = term;
    }
    const limitMs = 2 * this.options.heartbeatIntervalMs;
    for (const m of messages) {
      if (m.type === MessageType.MsgSnap) this.snapshotSendStarted(m.to, nowMs);
      if (m.type !== MessageType.MsgHeartbeat) continue;
      const last = this.lastHeartbeatMs.get(m.to);
      if (last !== undefined && nowMs - last > limitMs) this.heartbeatSendFailures.inc();
      this.lastHeartbeatMs.set(m.to, nowMs);
    }
  }

  /** A snapshot with the backend's image was handed to the transport for follower `to`. */
  private snapshotSendStarted(to: number, nowMs: number): void {
    if (this.snapshotSendStartedMs.has(to)) return;
    this.snapshotSendStartedMs.set(to, nowMs);
    this.snapshotSendInflights.inc({To: to.toString(16)});
  }

  /**
   * The transport's outcome of a snapshot to follower `to`: as etcd, a success is counted and
   * timed from the hand-over, a failure only counted. `nowMs` is monotonic.
   */
  snapshotSent(to: number, ok: boolean, nowMs: number): void {
    const labels = {To: to.toString(16)};
    const startedMs = this.snapshotSendStartedMs.get(to);
    this.snapshotSendStartedMs.delete(to);
    if (startedMs !== undefined) this.snapshotSendInflights.dec(labels);
    this.snapshotSends[ok ? 'success' : 'failures'].inc(labels);
    if (ok && startedMs !== undefined) {
      this.snapshotSendSeconds.observe(labels, (nowMs - startedMs) / 1000);
    }
  }

  /** A snapshot from peer `from` started arriving (`+1`) or ended, whole or not (`-1`). */
  snapshotReceiving(from: number, change: 1 | -1): void {
    this.snapshotReceiveInflights.inc({From: from.toString(16)}, change);
  }

  /** A snapshot from peer `from` broke off or failed its checksum. */
  snapshotReceiveFailed(from: number): void {
    this.snapshotReceiveFailures.inc({From: from.toString(16)});
  }

  /** Bytes from a peer's connection (`host:port`) that did not decode. */
  peerReceiveFailed(remoteAddress: string): void {
    this.peerReceivedFailures.inc({From: remoteAddress});
  }

  /** A snapshot from peer `from` arrived whole, `durationMs` after its first chunk. */
  snapshotReceived(from: number, durationMs: number): void {
    const labels = {From: from.toString(16)};
    this.snapshotReceives.inc(labels);
    this.snapshotReceiveSeconds.observe(labels, durationMs / 1000);
  }

  /** Counts one answer of `/health`, as etcd's `etcd_server_health_*`. */
  healthAnswered(healthy: boolean): void {
    (healthy ? this.healthSuccess : this.healthFailures).inc();
  }

  /** Records one named check of `/livez` or `/readyz`. */
  healthChecked(type: HealthCheckType, name: string, ok: boolean): void {
    this.healthCheck.set({name, type}, ok ? 1 : 0);
    this.healthChecks.inc({name, status: ok ? 'success' : 'error', type});
  }
}
