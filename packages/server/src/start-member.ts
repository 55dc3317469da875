// Over 400 lines on purpose: startMember is the one start-up sequence of a member process
// (TLS, joining, the data directory, the peer transport and server, the client services and
// listener, the metrics and ZooKeeper listeners, then publishing), and its order is the point;
// each step's work lives in the module it calls.

import {join} from 'node:path';

import {
  AuthDefinition,
  ClusterDefinition,
  ElectionDefinition,
  HealthDefinition,
  LockDefinition,
  KVDefinition,
  LeaseDefinition,
  MaintenanceDefinition,
  WatchDefinition,
} from '@synod/proto';
import {LessorDefinition, PeerClusterDefinition} from '@synod/proto/synodpb';
import type {ServiceImplementation, TsProtoServiceDefinition} from 'nice-grpc';
import {Wal} from '@synod/storage';
import {pino} from 'pino';

import {authGuards, authService} from './api/auth-service.js';
import type {ServiceGuards} from './api/call-guard.js';
import {CallGuard, withGrpcErrors} from './api/call-guard.js';
import type {ClusterServiceDeps} from './api/cluster-service.js';
import {clusterGuards, clusterService, peerClusterService} from './api/cluster-service.js';
import {electionGuards, electionService} from './api/election-service.js';
import {healthService} from './api/health-service.js';
import {httpEndpoints} from './api/http-handler.js';
import {kvGuards, kvService} from './api/kv-service.js';
import {LeaderForwarder} from './api/leader-forwarder.js';
import {leaseGuards, leaseService, lessorService} from './api/lease-service.js';
import {lockGuards, lockService} from './api/lock-service.js';
import {etcdApiVersion, maintenanceGuards, maintenanceService} from './api/maintenance-service.js';
import {watchGuards, watchService} from './api/watch-service.js';
import type {MemberConfig, MemberConfigInput} from './config/member-config.js';
import {resolveMemberConfig} from './config/member-config.js';
import {MemberMetrics} from './metrics/member-metrics.js';
import {MetricsListener} from './metrics/metrics-listener.js';
import {SlowRequestLog} from './metrics/slow-request-log.js';
import type {Clock, RandomSource} from './member/clock.js';
import type {MemberLogger} from './member/member.js';
import {MemberCore} from './member/member.js';
import {nodeClock, nodeRandom} from './util/node-clock.js';
import {fetchJoinInfo} from './peer/join-cluster.js';
import {startPeerServer} from './peer/peer-server.js';
import type {PeerServer} from './peer/peer-server.js';
import {PeerTransport} from './peer/peer-transport.js';
import {ensureSelfSignedFiles} from './tls/self-signed.js';
import {TlsCredentials} from './tls/tls-credentials.js';
import type {TlsSettings} from './tls/tls-settings.js';
import {Gateway} from './gateway/gateway.js';
import {ClientListener} from './transport/client-listener.js';
import {ConsoleSite} from './transport/console-site.js';
import type {MethodTable} from './transport/grpc-service.js';
import type {ListenerTls} from './transport/socket-listener.js';
import {GrpcServer} from './transport/grpc-server.js';
import {zkMemberOf} from './zk-member-of.js';
import {ZkServer} from './zookeeper/zk-server.js';
import {addGrpcService, addServiceMethods} from './transport/grpc-service.js';

/** gRPC's own framing on top of the largest request, as etcd allows (512 KiB). */
const grpcOverheadBytes = 512 * 1024;

/** A running member, as {@link startMember} returns it. */
export interface Member {
  readonly memberId: number;
  readonly clusterId: number;
  readonly name: string;
  /** `host:port` of each client listener, with the ports actually bound. */
  readonly clientAddresses: readonly string[];
  /** `host:port` of each peer listener, with the ports actually bound. */
  readonly peerAddresses: readonly string[];
  /** `host:port` of each `--listen-metrics-urls` listener, with the ports actually bound. */
  readonly metricsAddresses: readonly string[];
  /** `host:port` of each `--listen-zk-urls` listener, with the ports actually bound. */
  readonly zkAddresses: readonly string[];
  /** The member's replicated state and raft node, for tests and embedding applications. */
  readonly core: MemberCore;
  /**
   * Stops serving, closes connections and flushes the store. A leader first
   * hands leadership to another voter, unless `handOverLeadership` is false
   * (when every member is being stopped at once, say).
   */
  close(options?: {readonly handOverLeadership?: boolean}): Promise<void>;
  /**
   * Resolves with the error that stopped the member on its own — a failed
   * fsync, or its removal from the cluster — once it has closed. Never
   * resolves for a member stopped by {@link close}.
   */
  readonly failed: Promise<unknown>;
}

export interface StartMemberOptions {
  readonly logger?: MemberLogger;
  /** The member's time and timers; Node's unless given. */
  readonly clock?: Clock;
  /** The member's randomness; Node's unless given. */
  readonly random?: RandomSource;
}

/**
 * Starts a member in this process: opens (or bootstraps) its data directory,
 * listens for peers and clients, and joins its cluster. This is what `synod`
 * runs, and what a test or an application calls to embed a member, like etcd's
 * `embed` package.
 */
export async function startMember(
  input: MemberConfig | MemberConfigInput,
  options: StartMemberOptions = {},
): Promise<Member> {
  const config = isResolved(input) ? input : resolveMemberConfig(input);
  const logger: MemberLogger =
    options.logger ?? pino({level: config.logLevel, base: {member: config.name}});
  const clock = options.clock ?? nodeClock;
  const random = options.random ?? nodeRandom;
  // Certificates are read and checked before anything starts: a bad file stops the member
  // here, naming its flag, with nothing half-started.
  const clientTls = listenerTls(config.clientTls, logger);
  const peerTls = listenerTls(config.peerTls, logger);
  const zkTls = listenerTls(config.zkTls?.settings, logger);
  const joining =
    config.initialClusterState === 'existing' && !Wal.exists(join(config.dataDir, 'member', 'wal'))
      ? await fetchJoinInfo(config, clock, peerTls?.credentials)
      : undefined;
  // Made before the core opens, which reports its fsyncs and commits from the first one.
  const metrics = new MemberMetrics({
    extensive: config.metrics === 'extensive',
    serverVersion: etcdApiVersion,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
  });
  const core = MemberCore.open(config, logger, {clock, random, observer: metrics}, joining);
  metrics.attach(core);
  const onUnexpectedError = (path: string, error: unknown) => {
    logger.error(
      {path, error: error instanceof Error ? error.stack : String(error)},
      'request failed',
    );
  };

  const transport = new PeerTransport({
    clusterId: core.clusterId,
    memberId: core.memberId,
    observer: metrics.peers,
    ...(peerTls === undefined ? {} : {tls: peerTls.credentials}),
    events: {
      unreachable: id => {
        core.reportUnreachable(id);
      },
      snapshotStatus: (id, ok) => {
        metrics.snapshotSent(id, ok, clock.monotonicMs());
        core.reportSnapshot(id, ok);
      },
      removed: () => {
        core.stopAsRemoved();
      },
    },
  });
  // The peers the transport keeps connections to: every member but this one. A
  // member that leaves the membership is dropped, so nothing keeps dialling it.
  let connected = new Set<number>();
  const followMembership = () => {
    const ids = new Set<number>();
    for (const m of core.peers()) {
      if (m.id === core.memberId) continue;
      ids.add(m.id);
      transport.setPeer(m.id, m.peerUrls);
    }
    for (const id of connected) if (!ids.has(id)) transport.removePeer(id);
    connected = ids;
  };
  core.onSend(messages => {
    metrics.observeSends(messages, core.term, clock.monotonicMs());
    transport.send(messages);
  });
  core.onMembershipChange(() => {
    followMembership();
    zkServer?.membershipChanged();
  });

  let peerServer: PeerServer | undefined;
  let clientListener: ClientListener | undefined;
  let metricsListener: MetricsListener | undefined;
  let zkServer: ZkServer | undefined;
  const forwarder = new LeaderForwarder(core, peerTls?.credentials);
  const clusterDeps: ClusterServiceDeps = {
    isPeerConnected: id => transport.isConnected(id),
    forwarder,
    learnerPromoted: () => {
      metrics.learnerPromoted();
    },
  };
  metrics.attachPeers(id => transport.isConnected(id));
  try {
    peerServer = await startPeerServer(
      config.listenPeerUrls,
      {
        clusterId: core.clusterId,
        memberId: core.memberId,
        knows: id => core.peers().some(m => m.id === id) || core.voters.includes(id),
        wasRemoved: id => core.membership.isRemoved(id),
        deliver: message => {
          core.step(message);
        },
        received: (from, bytes) => {
          metrics.peerReceived(from, bytes);
        },
        snapshotReceived: (from, durationMs) => {
          metrics.snapshotReceived(from, durationMs);
        },
        snapshotReceiving: (from, change) => {
          metrics.snapshotReceiving(from, change);
        },
        snapshotReceiveFailed: from => {
          metrics.snapshotReceiveFailed(from);
        },
        receiveFailed: remoteAddress => {
          metrics.peerReceiveFailed(remoteAddress);
        },
      },
      onUnexpectedError,
      {
        addServices: server => {
          // The core's domain errors reach the peer that forwarded a call as etcd's gRPC errors.
          addGrpcService(
            server,
            LessorDefinition,
            withGrpcErrors(LessorDefinition, lessorService(core)),
            onUnexpectedError,
          );
          addGrpcService(
            server,
            PeerClusterDefinition,
            withGrpcErrors(PeerClusterDefinition, peerClusterService(core, clusterDeps)),
            onUnexpectedError,
          );
        },
        ...(peerTls === undefined ? {} : {tls: peerTls}),
      },
    );
    /** The client methods, which the JSON gateway calls too. */
    const methods: MethodTable = new Map();
    /**
     * Registers a client service behind the one middleware of the client API: each method's
     * guard refuses it on a learner, without a leader or to the wrong caller before its
     * handler runs, and maps what the handler throws to etcd's errors.
     */
    const callGuard = new CallGuard(core);
    const serve = <D extends TsProtoServiceDefinition>(
      definition: D,
      implementation: ServiceImplementation<D>,
      guards: ServiceGuards<D>,
    ) => {
      addServiceMethods(methods, definition, callGuard.guard(definition, implementation, guards));
    };
    const kv =
      config.warningApplyDurationMs === 0
        ? kvService(core)
        : new SlowRequestLog({
            logger,
            thresholdMs: config.warningApplyDurationMs,
            nowMs: () => clock.monotonicMs(),
            wallMs: () => clock.nowMs(),
            onSlow: () => {
              metrics.applySlow();
            },
          }).kvService(kvService(core));
    serve(KVDefinition, kv, kvGuards(config));
    serve(WatchDefinition, watchService(core, metrics), watchGuards);
    serve(LeaseDefinition, leaseService(core, forwarder), leaseGuards);
    serve(ClusterDefinition, clusterService(core, clusterDeps), clusterGuards);
    serve(MaintenanceDefinition, maintenanceService(core, metrics.storage), maintenanceGuards);
    serve(AuthDefinition, authService(core), authGuards(config));
    addServiceMethods(methods, HealthDefinition, healthService(core));
    serve(LockDefinition, lockService(core), lockGuards);
    serve(ElectionDefinition, electionService(core), electionGuards);
    const observed = metrics.observedMethods(methods);
    const maxReceiveBytes = config.maxRequestBytes + grpcOverheadBytes;
    clientListener = await ClientListener.listen(
      config.listenClientUrls,
      {
        grpc: new GrpcServer(observed, {maxReceiveBytes, onUnexpectedError, observer: metrics}),
        gateway: new Gateway({
          methods: observed,
          maxReceiveBytes,
          onUnexpectedError,
          observer: metrics,
        }),
        endpoints: httpEndpoints(core, metrics),
        ...(config.ui
          ? {
              console: new ConsoleSite(undefined, () =>
                core.membership.list().flatMap(m => m.clientUrls),
              ),
            }
          : {}),
        http2Engine: config.clientHttp2Engine,
      },
      clientTls,
    );
    if (config.listenMetricsUrls.length > 0) {
      metricsListener = await MetricsListener.listen(
        config.listenMetricsUrls,
        httpEndpoints(core, metrics, {metricsOnly: true}),
        clientTls,
      );
    }
    if (config.listenZkUrls.length > 0) {
      zkServer = await ZkServer.listen(config.listenZkUrls, zkMemberOf(core, forwarder), {
        superDigest: config.zkSuperDigest,
        dataDir: config.dataDir,
        containerCheckIntervalMs: config.zkContainerCheckIntervalMs,
        containerMaxPerMinute: config.zkContainerMaxPerMinute,
        ...(config.zkTls !== undefined && zkTls !== undefined
          ? {tls: {...config.zkTls, ...zkTls}}
          : {}),
        warn: (message, detail) => {
          logger.warn(detail, message);
        },
      });
      metrics.zk.attach(zkServer.stats);
    }
  } catch (error) {
    await zkServer?.close();
    await metricsListener?.close();
    await clientListener?.close();
    await peerServer?.close();
    transport.close();
    await core.close();
    throw error;
  }

  followMembership();
  core.start();
  void core.publishAttributes(
    config.advertiseClientUrls.map(u => u.origin),
    zkServer?.listenerAddresses ?? {},
  );
  const peerPorts = peerServer.ports;
  const listener = clientListener;
  const stopPeers = peerServer;
  const metricsAddresses = (metricsListener?.addresses ?? []).map(a => `${a.host}:${a.port}`);
  const stopMetrics = metricsListener;
  const stopZk = zkServer;
  const zkAddresses = (zkServer?.addresses ?? []).map(a => `${a.host}:${a.port}`);
  logger.info(
    {
      memberId: core.memberId.toString(16),
      clusterId: core.clusterId.toString(16),
      client: listener.addresses.map(a => `${a.host}:${a.port}`),
      peer: peerPorts,
      ...(metricsAddresses.length > 0 ? {metrics: metricsAddresses} : {}),
      ...(zkAddresses.length > 0 ? {zookeeper: zkAddresses} : {}),
    },
    'serving clients',
  );

  let closing: Promise<void> | undefined;
  const close = (options: {readonly handOverLeadership?: boolean} = {}) => {
    closing ??= (async () => {
      if (options.handOverLeadership ?? true) await core.handOverLeadership();
      await stopZk?.close();
      await listener.close();
      await stopMetrics?.close();
      forwarder.close();
      transport.close();
      await stopPeers.close();
      await core.close();
      logger.info({}, 'member stopped');
    })();
    return closing;
  };
  const failed = new Promise<unknown>(resolve => {
    core.onFatal(error => {
      void close().then(() => {
        resolve(error);
      });
    });
  });
  return {
    memberId: core.memberId,
    clusterId: core.clusterId,
    name: config.name,
    clientAddresses: listener.addresses.map(a => `${a.host}:${a.port}`),
    peerAddresses: config.listenPeerUrls.map((u, i) => `${u.hostname}:${peerPorts[i] ?? u.port}`),
    metricsAddresses,
    zkAddresses,
    core,
    close,
    failed,
  };
}

/** The TLS a side's listener serves `https://` URLs with, logging refused handshakes. */
function listenerTls(
  settings: TlsSettings | undefined,
  logger: MemberLogger,
): ListenerTls | undefined {
  if (settings === undefined) return undefined;
  ensureSelfSignedFiles(settings);
  const credentials = TlsCredentials.load(settings, message => {
    logger.warn({side: settings.side, error: message}, 'kept the previous certificates');
  });
  return {
    credentials,
    refused: ({remote, reason}) => {
      logger.warn({side: settings.side, remote, reason}, 'rejected TLS connection');
    },
  };
}

function isResolved(input: MemberConfig | MemberConfigInput): input is MemberConfig {
  return Array.isArray(input.listenClientUrls) && input.listenClientUrls[0] instanceof URL;
}
