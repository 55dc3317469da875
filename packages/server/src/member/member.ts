import type {ResponseHeader} from '@synod/proto';
import {AlarmRequest_AlarmAction, AlarmType} from '@synod/proto';
import type {ConfChangeType, ConfState, Message} from '@synod/proto/raftpb';
import type {MemoryStorage, RawNode} from '@synod/raft';
import type {Backend, KvExecutor, Lessor, Snapshotter, Wal, WatchableStore} from '@synod/storage';

import type {AuthStore, RequestAuth} from '../auth/auth-store.js';
import {createTokenProvider} from '../auth/create-token-provider.js';
import type {TokenProvider} from '../auth/token-provider.js';
import type {MemberConfig} from '../config/member-config.js';
import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {ZkStateMachine} from '../zookeeper/zk-state-machine.js';
import type {Alarms} from './alarms.js';
import type {AppliedState} from './applied-state.js';
import {ApplyPath} from './apply-path.js';
import type {ApplyResult} from './apply-result.js';
import {AttributePublisher} from './attribute-publisher.js';
import type {ZkListenerAddresses} from './attribute-publisher.js';
import {AutoCompactor} from './auto-compactor.js';
import {BackendImages} from './backend-images.js';
import {BackendQuota} from './backend-quota.js';
import {openDataDir} from './bootstrap.js';
import type {Clock} from './clock.js';
import {ConfChanges} from './conf-changes.js';
import type {InjectedBug} from './injected-bugs.js';
import {Leadership} from './leadership.js';
import {LeaseTimers} from './lease-timers.js';
import type {JoinInfo, MemberEnvironment, MemberLogger} from './member-environment.js';
import type {MemberObserver} from './member-observer.js';
import {unobserved} from './member-observer.js';
import {MemberRemovedError, memberRemovedMessage} from './member-removed.js';
import type {MemberStorage} from './member-storage.js';
import {nodeMemberStorage} from './member-storage.js';
import type {MemberInfo, Membership} from './membership.js';
import {Proposals} from './proposals.js';
import type {InternalRequestBody} from './proposals.js';
import {RaftLoop} from './raft-loop.js';
import {RaftPersistence} from './raft-persistence.js';
import {ReadIndexBatcher} from './read-index-batcher.js';
import {ResponseHeaders} from './response-headers.js';
import {SnapshotCatchUp} from './snapshot-catch-up.js';
import {UnappliableEntryError} from './unappliable-entry-error.js';

export type {InternalRequestBody} from './proposals.js';

export type {JoinInfo, MemberEnvironment, MemberLogger} from './member-environment.js';

/**
 * One member's replicated state and the machinery that keeps it: the raft node and its
 * Ready loop, and the applied state (the MVCC store, leases, alarms, membership). The RPC
 * layer talks to it through {@link MemberCore.propose} and {@link MemberCore.linearizableRead};
 * the peer transport through {@link MemberCore.step} and {@link MemberCore.onSend}.
 *
 * Each of the member's jobs lives in its own file behind the narrow interface it needs:
 * start-up and recovery (`bootstrap.ts`), writing Readies down (`raft-persistence.ts`), the
 * apply path (`apply-path.ts`, `applied-state.ts`, `applier.ts`), raft snapshots
 * (`raft-snapshots.ts`), snapshots between members (`snapshot-catch-up.ts`), conf changes
 * (`conf-changes.ts`), proposals (`proposals.ts`), leadership (`leadership.ts`), publishing
 * client URLs (`attribute-publisher.ts`), the lessor's timers, the quota, compaction, read
 * indexes and backend commit batching.
 *
 * Longer than 400 lines on purpose: this class is where those jobs meet. Its constructor
 * hands each job its interface (one block per job, about half the file), and the rest is the
 * surface the API services, the transport and the simulator call, mostly one-line delegations.
 */
export class MemberCore {
  /** Auth tokens issued through the log; they outlive a snapshot install, like etcd's. */
  readonly authTokens: TokenProvider;
  readonly loop: RaftLoop;
  private readonly applying: ApplyPath;
  private readonly proposals: Proposals;
  private readonly headers: ResponseHeaders;
  private readonly raftLog: RaftPersistence;
  private readonly reads: ReadIndexBatcher;
  private sendHandler: (messages: readonly Message[]) => void = () => undefined;
  private membershipListener: () => void = () => undefined;
  private fatal: unknown;
  private readonly fatalListeners: ((error: unknown) => void)[] = [];
  private stopped = false;
  private readonly leaseTimers: LeaseTimers;
  private readonly quota: BackendQuota;
  private readonly compactor: AutoCompactor;
  private readonly catchUp: SnapshotCatchUp;
  private readonly confChanges: ConfChanges;
  private readonly leadership: Leadership;
  private readonly publisher: AttributePublisher;
  /** The peers a joining member knows of before its log has told it the membership. */
  private joinPeers: readonly MemberInfo[] = [];

  private constructor(
    readonly config: MemberConfig,
    readonly memberId: number,
    readonly clusterId: number,
    parts: {
      wal: Wal;
      raftStorage: MemoryStorage;
      snapshotter: Snapshotter;
      dbDir: string;
      node: RawNode;
      confState: ConfState;
    },
    private readonly logger: MemberLogger,
    private readonly clock: Clock,
    private readonly observer: MemberObserver = unobserved,
    private readonly storage: MemberStorage = nodeMemberStorage,
    private readonly bugs: ReadonlySet<InjectedBug> = new Set(),
  ) {
    this.raftLog = new RaftPersistence(
      parts,
      {walFsync: config.walFsync, skipWalFsync: bugs.has('ack-before-wal-fsync')},
      clock,
      observer,
    );
    this.headers = new ResponseHeaders(clusterId, memberId, () => this.term);
    this.authTokens = createTokenProvider(config);
    const dbDir = parts.dbDir;
    this.confChanges = new ConfChanges(
      {
        proposeToRaft: cc => {
          this.loop.proposeConfChange(cc);
        },
        applyToRaft: cc => this.loop.node.applyConfChange(cc),
        nextRequestId: () => this.proposals.nextRequestId(),
        awaitApplied: (id, propose) => this.proposals.awaitApplied(id, propose),
        resolve: (id, result) => {
          this.proposals.resolve(id, result);
        },
        membership: () => this.membership,
        consistentIndex: () => this.store.consistentIndex(),
        revision: () => this.store.rev(),
        membershipChanged: () => {
          this.membershipListener();
        },
        memberAdded: () => {
          this.applying.scheduleSnapshotForNewMember();
        },
        stop: error => {
          this.fail(error);
        },
      },
      parts.confState,
      memberId,
      10 * config.heartbeatIntervalMs,
      clock,
      logger,
    );
    this.applying = new ApplyPath(
      {
        installSnapshot: snapshot => this.catchUp.install(snapshot),
        applyConfChange: entry => {
          this.confChanges.apply(entry);
        },
        resolve: (id, result) => {
          this.proposals.resolve(id, result);
        },
        applied: index => {
          this.reads.onApplied(index);
        },
        membershipChanged: () => {
          this.membershipListener();
        },
        runBetweenPasses: fn => {
          this.loop.runBetweenPasses(fn);
        },
        stopped: () => this.stopped,
        fail: error => {
          // After close, a commit cut off by the store closing changes nothing.
          if (!this.stopped) this.fail(error);
        },
        confChangeIndex: () => this.confChanges.lastAppliedIndex,
        confState: () => this.confChanges.confState,
      },
      {dbDir, config, clock, observer, storage, authTokens: this.authTokens, bugs, logger},
      parts,
    );
    const requestTimeoutMs = 5000 + 2 * config.electionTimeoutMs;
    this.proposals = new Proposals(
      {
        proposeToRaft: data => {
          this.loop.propose(data);
        },
        hasLeader: () => this.leader !== 0,
      },
      memberId,
      {maxRequestBytes: config.maxRequestBytes, requestTimeoutMs},
      clock,
      observer,
    );
    this.compactor = new AutoCompactor(
      this,
      config.autoCompactionMode,
      config.autoCompactionRetention,
      clock,
    );
    this.quota = new BackendQuota(
      {
        noSpaceRaised: () => this.alarms.has(AlarmType.NOSPACE),
        backendSizeBytes: () => this.state.kv.backend.sizeBytes(),
        raiseNoSpace: () => {
          this.propose({
            $case: 'alarm',
            value: {
              action: AlarmRequest_AlarmAction.ACTIVATE,
              memberID: BigInt(memberId),
              alarm: AlarmType.NOSPACE,
            },
          }).catch((error: unknown) => {
            this.logger.warn({error: String(error)}, 'could not raise the NOSPACE alarm');
          });
        },
      },
      clock,
      config.quotaBackendBytes,
    );
    this.leaseTimers = new LeaseTimers(
      {
        isLeader: () => this.isLeader,
        lessor: () => this.state.lessor,
        propose: (body, auth) => this.propose(body, auth),
        warn: (obj, msg) => {
          this.logger.warn(obj, msg);
        },
        leaseExpired: () => this.observer.leaseExpired?.(),
      },
      clock,
      config.leaseCheckpointIntervalMs,
    );
    this.reads = new ReadIndexBatcher(
      {
        requestReadIndex: ctx => {
          this.loop.readIndex(ctx);
        },
        appliedIndex: () => this.state.applier.appliedIndex(),
        readIndexSlow: () => {
          this.observer.readIndexSlow();
        },
        readIndexFailed: () => this.observer.readIndexFailed?.(),
      },
      requestTimeoutMs,
      // etcd asks again every 500 ms when a read index does not come back.
      Math.min(500, config.electionTimeoutMs),
      () => EtcdDomainError.of('timeout'),
      clock,
      () => this.proposals.nextRequestId(),
    );
    this.catchUp = new SnapshotCatchUp(
      {
        send: messages => {
          this.sendHandler(messages);
        },
        reportSnapshotFailed: to => {
          this.reportSnapshot(to, false);
        },
        backend: () => this.state.kv.backend,
        consistentIndex: () => this.state.store.consistentIndex(),
        closeStore: () => this.state.store.close(),
        reopenState: () => {
          this.applying.reopen();
          if (this.isLeader) this.lessor.promote(this.config.electionTimeoutMs);
          this.membershipListener();
        },
      },
      new BackendImages(dbDir, storage, clock, observer),
      observer,
      logger,
    );
    this.leadership = new Leadership(
      {
        isLeader: () => this.isLeader,
        running: () => !this.stopped && this.fatal === undefined,
        transferTo: target => {
          this.loop.node.transferLeader(target);
          this.loop.schedule();
        },
        matchIndexes: () => this.loop.node.status().progress,
        voters: () => this.confChanges.confState.voters,
        lessor: () => this.lessor,
        term: () => this.term,
      },
      memberId,
      config,
      clock,
      logger,
    );
    this.publisher = new AttributePublisher(
      {
        running: () => !this.stopped && this.fatal === undefined,
        self: () => this.membership.get(this.memberId),
        hasLeader: () => this.leadership.leader !== 0,
        propose: request => this.propose(request),
      },
      memberId,
      config.name,
      config.heartbeatIntervalMs,
      clock,
      logger,
    );
    this.loop = new RaftLoop(
      parts.node,
      {
        persist: rd => this.raftLog.persist(rd.hardState, rd.entries, rd.snapshot, rd.mustSync),
        send: messages => {
          this.catchUp.send(messages);
        },
        apply: (snapshot, entries) => this.applying.apply(snapshot, entries),
        onSoftState: state => {
          this.leadership.onSoftState(state);
        },
        onFatal: error => {
          this.fail(error);
        },
      },
      config.heartbeatIntervalMs,
      clock,
    );
    this.loop.onReadState((index, ctx) => {
      this.reads.onReadState(index, ctx);
    });
  }

  /**
   * Opens the member's data directory: bootstraps a new cluster member when it
   * holds no WAL, or recovers from the WAL, the newest snapshot and the backend.
   */
  static open(
    config: MemberConfig,
    logger: MemberLogger,
    env: MemberEnvironment,
    joining?: JoinInfo,
  ): MemberCore {
    const {identity, wal, raftStorage, snapshotter, dbDir, node, confState, storage} = openDataDir(
      config,
      logger,
      env,
      joining,
    );
    const core = new MemberCore(
      config,
      identity.memberId,
      identity.clusterId,
      {wal, raftStorage, snapshotter, dbDir, node, confState},
      logger,
      env.clock,
      env.observer,
      storage,
      env.bugs,
    );
    if (core.membership.isRemoved(core.memberId)) {
      void core.close();
      throw new Error(
        `${memberRemovedMessage}; the data directory ${config.dataDir} of member ${core.memberId.toString(16)} must be removed before the member can be added again`,
      );
    }
    core.joinPeers = joining?.members ?? [];
    return core;
  }

  /**
   * The members to keep connections to: the replicated membership, or while a
   * joining member has not yet applied any of it, the members it was told of.
   */
  peers(): readonly MemberInfo[] {
    const members = this.membership.list();
    return members.length > 0 ? members : this.joinPeers;
  }

  /** Whether this member is a learner: it replicates the log but does not vote. */
  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner ?? false;
  }

  /** Everything applying entries changes; a snapshot from the leader replaces it. */
  private get state(): AppliedState {
    return this.applying.state;
  }

  get store(): WatchableStore {
    return this.state.store;
  }

  get executor(): KvExecutor {
    return this.state.executor;
  }

  get lessor(): Lessor {
    return this.state.lessor;
  }

  /** ZooKeeper's tree and sessions, as this member has applied them. */
  get zookeeper(): ZkStateMachine {
    return this.state.zookeeper;
  }

  get membership(): Membership {
    return this.state.membership;
  }

  get auth(): AuthStore {
    return this.state.auth;
  }

  /** The alarms raised in the cluster, as this member has applied them. */
  get alarms(): Alarms {
    return this.state.alarms;
  }

  /** The backend file the applied state lives in: its size, hash, copies, defragmentation. */
  get backend(): Backend {
    return this.state.kv.backend;
  }

  /** On the leader, how far member `id`'s log is known to match the leader's; else 0. */
  matchIndex(id: number): number {
    return this.loop.node.status().progress.get(id)?.match ?? 0;
  }

  /** Starts ticking and processing; call once the transport is wired with {@link onSend}. */
  start(): void {
    this.loop.start();
    this.compactor.start();
    this.leaseTimers.start();
  }

  /**
   * Renews a lease on the leader and returns its TTL. A checkpoint recorded
   * before the renewal would have a new leader expire the lease early: it is
   * cleared through the log.
   */
  renewLease(id: bigint): number {
    return this.leaseTimers.renew(id);
  }

  /** Where raft messages for peers go. */
  onSend(handler: (messages: readonly Message[]) => void): void {
    this.sendHandler = handler;
  }

  /** Called whenever the membership changes, so the transport can follow. */
  onMembershipChange(listener: () => void): void {
    this.membershipListener = listener;
  }

  /** Hands a message from a peer to raft. */
  step(message: Message): void {
    if (this.stopped) return;
    try {
      this.loop.step(message);
    } catch (error) {
      this.logger.warn({error: String(error), from: message.from}, 'dropped a peer message');
    }
  }

  reportUnreachable(id: number): void {
    this.loop.node.reportUnreachable(id);
  }

  reportSnapshot(id: number, ok: boolean): void {
    this.loop.node.reportSnapshot(id, ok);
    this.loop.schedule();
  }

  get leader(): number {
    return this.leadership.leader;
  }

  /** Times this member has seen the leader change, for metrics. */
  get leaderChanges(): number {
    return this.leadership.changes;
  }

  /** Snapshots of the store this member received from a leader and installed, for metrics. */
  get snapshotsInstalled(): number {
    return this.catchUp.installed;
  }

  get isLeader(): boolean {
    return this.loop.isLeader;
  }

  /** The term and commit index as last persisted (see {@link RaftPersistence.term}). */
  get term(): number {
    return this.raftLog.term;
  }

  get raftIndex(): number {
    return this.raftLog.commitIndex;
  }

  /** Proposals of this member waiting to be applied. */
  get pendingProposals(): number {
    return this.proposals.pending;
  }

  /** Bytes this member's WAL has written since it started, for metrics. */
  get walBytesWritten(): number {
    return this.raftLog.walBytesWritten;
  }

  get appliedIndex(): number {
    return this.state.applier.appliedIndex();
  }

  get voters(): readonly number[] {
    return this.confChanges.confState.voters;
  }

  /** The header etcd puts on every response. */
  header(revision: number = this.store.rev()): ResponseHeader {
    return this.headers.at(revision);
  }

  /**
   * Replicates a request and resolves with the result of applying it here.
   * Fails with etcd's errors: no leader, timed out, server stopped. `auth` is the
   * user the request runs as; with auth on, it is checked when the entry is applied.
   */
  async propose(body: InternalRequestBody, auth?: RequestAuth): Promise<ApplyResult> {
    this.checkRunning();
    return this.proposals.propose(body, auth);
  }

  /**
   * Proposes a change of membership and resolves once it is applied here, with
   * the members after it, or with etcd's error when applying refused it (every
   * member refuses the same changes: see `conf-change-refusal.ts`).
   */
  async proposeConfChange(
    type: ConfChangeType,
    nodeId: number,
    member: MemberInfo | undefined,
  ): Promise<ApplyResult<MemberInfo[]>> {
    this.checkRunning();
    return this.confChanges.propose(type, nodeId, member);
  }

  /**
   * Refuses a write when the backend has outgrown `--quota-backend-bytes`, raising the
   * NOSPACE alarm, as etcd does (see {@link BackendQuota}).
   */
  checkQuota(): void {
    this.quota.check();
  }

  /** A fresh cluster-unique id, for requests and for leases the server names. */
  nextRequestId(): bigint {
    return this.proposals.nextRequestId();
  }

  /** Hands leadership to `target` and resolves once it leads (see {@link Leadership.transfer}). */
  transferLeadership(target: number): Promise<void> {
    return this.leadership.transfer(target);
  }

  /** On a leader about to stop: hands leadership to the most complete voter, if it can. */
  handOverLeadership(): Promise<void> {
    return this.leadership.handOver();
  }

  /**
   * Whether this member has published its name and client URLs: until then it reports
   * itself unhealthy, as etcd does (see {@link AttributePublisher}).
   */
  get isPublished(): boolean {
    return this.publisher.published;
  }

  /** Publishes this member's client URLs through the log once a leader is known. */
  publishAttributes(clientUrls: readonly string[], zk: ZkListenerAddresses = {}): Promise<void> {
    return this.publisher.publish(clientUrls, zk);
  }

  /** Resolves once a read that starts now may be served from local state. */
  linearizableRead(): Promise<void> {
    this.checkRunning();
    return this.reads.wait();
  }

  private checkRunning(): void {
    if (this.stopped || this.fatal !== undefined) {
      throw EtcdDomainError.of('stopped');
    }
  }

  private fail(error: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = error;
    // Writes not yet committed may hold part of an entry whose apply failed: none of them
    // may reach the disk. The WAL still holds every entry they came from.
    this.applying.discardPending();
    if (error instanceof UnappliableEntryError) {
      this.logger.error({index: error.index, request: error.request}, error.message);
    } else {
      this.logger.error(
        {error: error instanceof Error ? error.stack : String(error)},
        'member stopped on a fatal error',
      );
    }
    const stopped = EtcdDomainError.of('stopped');
    this.proposals.rejectAll(stopped);
    this.reads.failAll(stopped);
    for (const listener of this.fatalListeners) listener(error);
  }

  /** Calls `listener` once the member stops on an error: a failed fsync, or its removal. */
  onFatal(listener: (error: unknown) => void): void {
    this.fatalListeners.push(listener);
  }

  /** A peer said this member has been removed from the cluster: stop for good. */
  stopAsRemoved(): void {
    this.fail(new MemberRemovedError());
  }

  /** The error that stopped the member, if one did. */
  get fatalError(): unknown {
    return this.fatal;
  }

  /** Stops raft, fails waiting requests, and closes the WAL and the store. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.loop.stop();
    this.applying.stopCommits();
    this.leaseTimers.stop();
    this.confChanges.close();
    this.compactor.stop();
    this.authTokens.close();
    const stopped = EtcdDomainError.of('stopped');
    this.proposals.rejectAll(stopped);
    this.reads.failAll(stopped);
    await this.applying.close();
    this.raftLog.close();
  }
}
