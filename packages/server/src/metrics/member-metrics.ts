import {Counter, Gauge, Registry} from 'prom-client';

import type {MemberCore} from '../member/member.js';

/** gRPC status codes by the names Go's grpc (and so etcd's metrics) give them. */
const codeNames = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

export type GrpcCallType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** What the gRPC binder reports about each call. */
export interface GrpcCallObserver {
  started(service: string, method: string, type: GrpcCallType): void;
  handled(service: string, method: string, type: GrpcCallType, code: number): void;
}

/**
 * A member's Prometheus metrics, served on `/metrics` of the client port, under
 * etcd's metric names where etcd has one, so dashboards and alerts written for
 * etcd read Synod. One registry per member: several members may share a process.
 */
export class MemberMetrics implements GrpcCallObserver {
  readonly registry = new Registry();
  private readonly grpcStarted: Counter<'grpc_method' | 'grpc_service' | 'grpc_type'>;
  private readonly grpcHandled: Counter<'grpc_code' | 'grpc_method' | 'grpc_service' | 'grpc_type'>;
  readonly watchStreams: Gauge;

  constructor(member: MemberCore) {
    const registers = [this.registry];
    this.grpcStarted = new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      // Labels in Prometheus' usual (sorted) order, as etcd's Go exporter writes them.
      labelNames: ['grpc_method', 'grpc_service', 'grpc_type'],
      registers,
    });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
      registers,
    });
    this.watchStreams = new Gauge({
      name: 'etcd_debugging_mvcc_watch_stream_total',
      help: 'Total number of watch streams.',
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge(
      'etcd_server_leader_changes_seen_total',
      'The number of leader changes seen.',
      () => member.leaderChanges,
    );
    gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', () => {
      const c = member.store.watcherCounts();
      return c.synced + c.unsynced + c.victims;
    });
    gauge(
      'etcd_debugging_mvcc_slow_watcher_total',
      'Total number of unsynced slow watchers.',
      () => {
        const c = member.store.watcherCounts();
        return c.unsynced + c.victims;
      },
    );
    gauge(
      'etcd_server_has_leader',
      'Whether or not a leader exists. 1 is existence, 0 is not.',
      () => (member.leader === 0 ? 0 : 1),
    );
    gauge(
      'etcd_server_is_learner',
      'Whether or not this member is a learner. 1 if is, 0 otherwise.',
      () => (member.isLearner ? 1 : 0),
    );
    gauge(
      'synod_server_snapshots_installed_total',
      'Snapshots of the store received from a leader and installed.',
      () => member.snapshotsInstalled,
    );
    gauge(
      'etcd_server_is_leader',
      'Whether or not this member is a leader. 1 if is, 0 otherwise.',
      () => (member.isLeader ? 1 : 0),
    );
    gauge(
      'etcd_server_proposals_committed_total',
      'The total number of consensus proposals committed.',
      () => member.raftIndex,
    );
    gauge(
      'etcd_server_proposals_applied_total',
      'The total number of consensus proposals applied.',
      () => member.appliedIndex,
    );
    gauge(
      'etcd_server_proposals_pending',
      'The current number of pending proposals to commit.',
      () => member.pendingProposals,
    );
    gauge(
      'etcd_mvcc_db_total_size_in_bytes',
      'Total size of the underlying database physically allocated in bytes.',
      () => member.store.kv.backend.sizeBytes(),
    );
    gauge(
      'etcd_mvcc_db_total_size_in_use_in_bytes',
      'Total size of the underlying database logically in use in bytes.',
      () => member.store.kv.backend.sizeInUseBytes(),
    );
    gauge(
      'etcd_server_quota_backend_bytes',
      'Current backend storage quota size in bytes.',
      () => member.config.quotaBackendBytes,
    );
    gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', () =>
      member.store.kv.indexedKeys(),
    );
    gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.', () =>
      member.store.rev(),
    );
  }

  started(service: string, method: string, type: GrpcCallType): void {
    this.grpcStarted.inc({grpc_method: method, grpc_service: service, grpc_type: type});
  }

  handled(service: string, method: string, type: GrpcCallType, code: number): void {
    this.grpcHandled.inc({
      grpc_code: codeNames[code] ?? String(code),
      grpc_method: method,
      grpc_service: service,
      grpc_type: type,
    });
  }
}
