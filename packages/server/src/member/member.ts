import type {ResponseHeader} from '@synod/proto';
import {AlarmRequest_AlarmAction, AlarmType, EtcdErrors} from '@synod/proto';
import type {ConfState, Entry, Message, Snapshot} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType, MessageType} from '@synod/proto/raftpb';
import {ConfChangeContext, InternalRequest} from '@synod/proto/synodpb';
import type {MemoryStorage, RawNode, SoftState} from '@synod/raft';
import {ConfChangeRefusedError, ProposalDroppedError} from '@synod/raft';
import type {Backend, Snapshotter, Wal, WatchableStore} from '@synod/storage';
import {KvExecutor, KvStore, Lessor} from '@synod/storage';

import {AuthStore, anonymous} from '../auth/auth-store.js';
import type {RequestAuth} from '../auth/auth-store.js';
import {createTokenProvider} from '../auth/create-token-provider.js';
import type {TokenProvider} from '../auth/token-provider.js';
import type {MemberConfig} from '../config/member-config.js';
import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import {ZkStateMachine} from '../zookeeper/zk-state-machine.js';
import type {ApplyResult} from './apply-result.js';
import {Alarms} from './alarms.js';
import {Applier} from './applier.js';
import {AutoCompactor} from './auto-compactor.js';
import {BackendCommitBatcher} from './backend-commit-batcher.js';
import {BackendQuota} from './backend-quota.js';
import {CountedStore, compactionObserverOf} from './counted-store.js';
import type {Clock, TimerHandle} from './clock.js';
import {sleepMs} from './clock.js';
import type {MemberInfo} from './membership.js';
import {fromRecord, Membership, toRecord} from './membership.js';
import {LeaseTimers} from './lease-timers.js';
import type {MemberObserver} from './member-observer.js';
import {timeBackendCommit, unobserved} from './member-observer.js';
import type {MemberStorage} from './member-storage.js';
import {nodeMemberStorage} from './member-storage.js';
import type {InjectedBug} from './injected-bugs.js';
import {refusalOfConfChange} from './conf-change-refusal.js';
import {MemberRemovedError, memberRemovedMessage} from './member-removed.js';
import {RaftLoop} from './raft-loop.js';
import {ReadIndexBatcher} from './read-index-batcher.js';
import {RequestIds} from './request-ids.js';
import {openDataDir} from './bootstrap.js';
import {BackendImages} from './backend-images.js';
import type {JoinInfo, MemberEnvironment, MemberLogger} from './member-environment.js';
import {readSkippedEntries} from './skipped-entries.js';
import {UnappliableEntryError} from './unappliable-entry-error.js';
import {Waiters} from './waiters.js';

export type InternalRequestBody = NonNullable<InternalRequest['request']>;

export type {JoinInfo, MemberEnvironment, MemberLogger} from './member-environment.js';

/**
 * One member's replicated state and the machinery that keeps it: the raft node
 * and its Ready loop, the WAL and snapshots, and the applied state (the MVCC
 * store, leases, alarms, membership). The RPC layer talks to it through
 * {@link MemberCore.propose} and {@link MemberCore.linearizableRead}; the peer
 * transport through {@link MemberCore.step} and {@link MemberCore.onSend}.
 */
/**
 * Everything applying entries changes, opened from one backend: replaced as a
 * whole when the member installs a snapshot from the leader.
 */
interface AppliedState {
  readonly kv: KvStore;
  readonly store: WatchableStore;
  readonly executor: KvExecutor;
  readonly lessor: Lessor;
  readonly membership: Membership;
  readonly auth: AuthStore;
  readonly alarms: Alarms;
  readonly applier: Applier;
  readonly zookeeper: ZkStateMachine;
}

export class MemberCore {
  /** Auth tokens issued through the log; they outlive a snapshot install, like etcd's. */
  readonly authTokens: TokenProvider;
  readonly loop: RaftLoop;
  private state: AppliedState;
  private readonly wal: Wal;
  private readonly raftStorage: MemoryStorage;
  private readonly snapshotter: Snapshotter;
  private readonly waiters = new Waiters<bigint, ApplyResult>();
  private readonly reads: ReadIndexBatcher;
  private readonly requestIds: RequestIds;
  private readonly requestTimeoutMs: number;
  private leaderId = 0;
  /** Times this member has seen the leader change, for metrics. */
  leaderChanges = 0;
  /** Snapshots of the store this member received from a leader and installed, for metrics. */
  snapshotsInstalled = 0;
  private confState: ConfState;
  private appliedSinceSnapshot = 0;
  /** Set when a member was added: the next apply batch ends with a raft snapshot. */
  private snapshotForNewMember = false;
  /** Whether a snapshot waits for the backend commit it needs (see {@link snapshotWhenDurable}). */
  private snapshotPending = false;
  /** Index of the last conf change applied: no snapshot may be taken below it. */
  private confChangeIndex = 0;
  private readonly backendCommits: BackendCommitBatcher;
  private sendHandler: (messages: readonly Message[]) => void = () => undefined;
  private membershipListener: () => void = () => undefined;
  private fatal: unknown;
  private readonly fatalListeners: ((error: unknown) => void)[] = [];
  private stopped = false;
  private pendingCompactions: Promise<void>[] = [];
  private readonly leaseTimers: LeaseTimers;
  private readonly quota: BackendQuota;
  /** Stops a member removed from the cluster, once the others have heard of the commit. */
  private removalTimer: TimerHandle | undefined;
  private readonly compactor: AutoCompactor;
  private readonly images: BackendImages;

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
    this.wal = parts.wal;
    this.raftStorage = parts.raftStorage;
    this.snapshotter = parts.snapshotter;
    this.confState = parts.confState;
    this.dbDir = parts.dbDir;
    this.images = new BackendImages(parts.dbDir, storage, clock, observer);
    this.authTokens = createTokenProvider(config);
    this.state = this.openState();
    this.requestIds = new RequestIds(memberId, clock.nowMs());
    this.compactor = new AutoCompactor(
      this,
      config.autoCompactionMode,
      config.autoCompactionRetention,
      clock,
    );
    this.requestTimeoutMs = 5000 + 2 * config.electionTimeoutMs;
    this.backendCommits = new BackendCommitBatcher(
      () => ({
        pendingWrites: () => this.state.kv.backend.pendingWrites,
        commit: () => this.storage.awaitIo(this.state.store.commit()),
      }),
      clock,
      config.backendBatchIntervalMs,
      config.backendBatchLimit,
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
      this.requestTimeoutMs,
      // etcd asks again every 500 ms when a read index does not come back.
      Math.min(500, config.electionTimeoutMs),
      () => EtcdDomainError.of('timeout'),
      clock,
      () => this.requestIds.next(),
    );
    this.loop = new RaftLoop(
      parts.node,
      {
        persist: rd => this.persist(rd.hardState, rd.entries, rd.snapshot, rd.mustSync),
        send: messages => {
          this.dispatch(messages);
        },
        apply: (snapshot, entries) => this.apply(snapshot, entries),
        onSoftState: state => {
          this.onSoftState(state);
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

  /** The peers a joining member knows of before its log has told it the membership. */
  private joinPeers: readonly MemberInfo[] = [];

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

  private readonly dbDir: string;

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

  /** Opens the backend in the data directory and everything applying entries builds on it. */
  private openState(): AppliedState {
    const minTtlSeconds = Math.ceil((1.5 * this.config.electionTimeoutMs) / 1000);
    const clock = this.clock;
    const lessor = new Lessor({nowMs: () => clock.nowMs(), minTtlSeconds, observer: this.observer});
    const kv = KvStore.open(this.dbDir, {
      leaseHooks: lessor,
      schedule: step => {
        clock.soon(step);
      },
      onBackendCommit: landed => {
        timeBackendCommit(this.observer, clock, landed);
      },
      syncBackendCommits: this.storage.syncBackendCommits,
      compactionObserver: compactionObserverOf(this.observer, clock),
    });
    lessor.restore(kv.backend);
    const store = new CountedStore(kv, this.observer, clock, {
      schedule: (step, delayMs) => {
        clock.setTimeout(step, delayMs);
      },
    });
    const membership = new Membership(kv.backend);
    const auth = new AuthStore(kv.backend, this.authTokens);
    const alarms = new Alarms(kv.backend);
    const executor = new KvExecutor(store, {
      leaseExists: id => lessor.exists(id),
      maxTxnOps: this.config.maxTxnOps,
    });
    const zookeeper = new ZkStateMachine({
      store,
      lessor,
      noSpace: () => alarms.has(AlarmType.NOSPACE),
      meta: {
        get: key => kv.backend.get('meta', key),
        put: (key, value) => {
          kv.backend.put('meta', key, value);
        },
      },
    });
    const applier = new Applier(
      {
        store,
        zookeeper,
        executor,
        lessor,
        auth,
        alarms,
        overQuota: () => kv.backend.sizeBytes() > this.config.quotaBackendBytes,
        applyConfChange: entry => {
          this.applyConfChange(entry);
        },
        publishAttributes: (record, index) => {
          const existing = membership.get(Number(record.id));
          if (existing === undefined) return;
          membership.set({
            ...existing,
            name: record.name,
            clientUrls: [...record.clientUrls],
            zkClientAddress: record.zkClientAddress,
          });
          membership.recordChange(index);
          this.membershipListener();
        },
        onCompaction: done => {
          this.pendingCompactions.push(done);
        },
      },
      readSkippedEntries(kv.backend),
    );
    return {kv, store, executor, lessor, membership, auth, alarms, applier, zookeeper};
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
    return this.leaderId;
  }

  get isLeader(): boolean {
    return this.loop.isLeader;
  }

  /**
   * The term and commit index as last persisted: they are read on every response
   * header, and raft's status() copies every follower's progress to answer.
   */
  get term(): number {
    return this.raftStorage.initialState().hardState.term;
  }

  get raftIndex(): number {
    return this.raftStorage.initialState().hardState.commit;
  }

  /** Proposals of this member waiting to be applied. */
  get pendingProposals(): number {
    return this.waiters.size;
  }

  /** Bytes this member's WAL has written since it started, for metrics. */
  get walBytesWritten(): number {
    return this.wal.bytesWritten;
  }

  get appliedIndex(): number {
    return this.state.applier.appliedIndex();
  }

  get voters(): readonly number[] {
    return this.confState.voters;
  }

  /** The header etcd puts on every response. */
  header(revision: number = this.store.rev()): ResponseHeader {
    const last = this.lastHeader;
    if (last !== undefined && last.revision === revision && last.term === this.term) {
      return last.header;
    }
    // Frozen: one header goes out in many responses (every watcher of a revision, say).
    const header = Object.freeze({
      clusterId: BigInt(this.clusterId),
      memberId: BigInt(this.memberId),
      revision: BigInt(revision),
      raftTerm: BigInt(this.term),
    });
    this.lastHeader = {revision, term: this.term, header};
    return header;
  }

  /** The header {@link header} made last, with the revision and term it was made for. */
  private lastHeader: {revision: number; term: number; header: ResponseHeader} | undefined;

  /**
   * Replicates a request and resolves with the result of applying it here.
   * Fails with etcd's errors: no leader, timed out, server stopped. `auth` is the
   * user the request runs as; with auth on, it is checked when the entry is applied.
   */
  async propose(body: InternalRequestBody, auth: RequestAuth = anonymous): Promise<ApplyResult> {
    this.checkRunning();
    const id = this.requestIds.next();
    const data = InternalRequest.encode({
      header: {id, username: auth.username, authRevision: auth.authRevision},
      request: body,
    }).finish();
    if (data.length > this.config.maxRequestBytes) {
      throw EtcdDomainError.of('requestTooLarge');
    }
    return this.awaitApplied(id, () => {
      this.loop.propose(data);
    });
  }

  /**
   * Proposes a change of membership and resolves once it is applied here, with
   * the members after it, or with etcd's error when applying refused it (every
   * member refuses the same changes: see {@link refusalOfConfChange}).
   */
  async proposeConfChange(
    type: ConfChangeType,
    nodeId: number,
    member: MemberInfo | undefined,
  ): Promise<ApplyResult<MemberInfo[]>> {
    this.checkRunning();
    const id = this.requestIds.next();
    const cc: ConfChange = {
      type,
      nodeId,
      id: 0,
      context: ConfChangeContext.encode({
        member: member === undefined ? undefined : toRecord(member),
        promote: false,
        requestId: id,
      }).finish(),
    };
    const result = await this.awaitApplied(id, () => {
      try {
        this.loop.proposeConfChange(cc);
      } catch (error) {
        if (!(error instanceof ConfChangeRefusedError)) throw error;
        throw EtcdDomainError.unnamed(
          'Unavailable',
          `etcdserver: the membership change cannot be made now (${error.message}); retry it`,
        );
      }
    });
    return result as ApplyResult<MemberInfo[]>;
  }

  /** Waits for the entry proposed by `propose` under request id `id` to be applied here. */
  private async awaitApplied(id: bigint, propose: () => void): Promise<ApplyResult> {
    const result = this.waiters.wait(id);
    try {
      propose();
    } catch (error) {
      this.observer.proposalFailed();
      this.waiters.reject(id, error);
      void result.catch(() => undefined);
      if (error instanceof ProposalDroppedError) {
        throw EtcdDomainError.of('noLeader');
      }
      throw error;
    }
    // A proposal lost with a leader change is never applied: give up on it as etcd does.
    const timer = this.clock.setTimeout(() => {
      this.observer.proposalFailed();
      this.waiters.reject(
        id,
        EtcdDomainError.of(this.leaderId === 0 ? 'timeoutDueToLeaderFail' : 'timeout'),
      );
    }, this.requestTimeoutMs);
    try {
      return await result;
    } finally {
      this.clock.clearTimer(timer);
    }
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
    return this.requestIds.next();
  }

  /**
   * Hands leadership to `target` and resolves once it leads, or fails with
   * etcd's timeout when the transfer does not finish within an election timeout
   * and a margin (raft aborts a transfer after one election timeout).
   */
  async transferLeadership(target: number): Promise<void> {
    this.loop.node.transferLeader(target);
    this.loop.schedule();
    const deadline = this.clock.monotonicMs() + 2 * this.config.electionTimeoutMs + 1000;
    while (this.leaderId !== target) {
      if (this.clock.monotonicMs() > deadline) {
        throw EtcdDomainError.of('timeout');
      }
      await sleepMs(this.clock, this.config.heartbeatIntervalMs);
    }
  }

  /**
   * On a leader about to stop: hands leadership to the voter whose log is most
   * complete, so the cluster does not wait an election timeout for a new
   * leader, as etcd does on a graceful shutdown. Gives up quietly if the
   * transfer does not finish in time.
   */
  async handOverLeadership(): Promise<void> {
    if (!this.isLeader || this.stopped || this.fatal !== undefined) return;
    const progress = this.loop.node.status().progress;
    let target = 0;
    let bestMatch = -1;
    for (const id of this.confState.voters) {
      const match = progress.get(id)?.match ?? -1;
      if (id !== this.memberId && match > bestMatch) {
        target = id;
        bestMatch = match;
      }
    }
    if (target === 0) return;
    try {
      await this.transferLeadership(target);
      this.logger.info({to: target.toString(16)}, 'handed leadership over before stopping');
    } catch (error) {
      this.logger.warn(
        {to: target.toString(16), error: String(error)},
        'could not hand leadership over before stopping',
      );
    }
  }

  /**
   * Publishes this member's client URLs through the log once a leader is
   * known, retrying until it succeeds or the member stops.
   */
  /**
   * Whether this member has published its name and client URLs. Like etcd,
   * which serves clients only once it has, a member reports itself unhealthy
   * until then: a client sent to it would not find it in the member list.
   */
  get isPublished(): boolean {
    return this.published;
  }

  private published = false;

  async publishAttributes(clientUrls: readonly string[], zkClientAddress = ''): Promise<void> {
    while (!this.stopped && this.fatal === undefined) {
      const current = this.membership.get(this.memberId);
      if (
        current !== undefined &&
        sameList(current.clientUrls, clientUrls) &&
        current.name === this.config.name &&
        (current.zkClientAddress ?? '') === zkClientAddress
      ) {
        this.published = true;
        return;
      }
      if (this.leaderId !== 0) {
        try {
          await this.propose({
            $case: 'memberAttributes',
            value: {
              id: BigInt(this.memberId),
              name: this.config.name,
              peerUrls: [...(current?.peerUrls ?? [])],
              clientUrls: [...clientUrls],
              isLearner: current?.isLearner ?? false,
              zkClientAddress,
            },
          });
          this.published = true;
          return;
        } catch (error) {
          this.logger.warn({error: String(error)}, 'could not publish client URLs yet');
        }
      }
      await sleepMs(this.clock, this.config.heartbeatIntervalMs);
    }
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

  /**
   * Makes a Ready's snapshot, entries and hard state durable, then hands them to the raft
   * storage. The WAL's fsync runs off the event loop: requests and peer messages that arrive
   * meanwhile queue up in raft and go into the next Ready, which the raft loop starts only
   * after this one resolves.
   */
  private async persist(
    hardState: Parameters<Wal['save']>[0],
    entries: readonly Entry[],
    snapshot: Snapshot | undefined,
    mustSync: boolean,
  ): Promise<void> {
    if (snapshot?.metadata !== undefined) {
      const meta = snapshot.metadata;
      this.snapshotter.save({
        index: meta.index,
        term: meta.term,
        confState: meta.confState ?? {voters: [], learners: []},
        data: snapshot.data,
      });
      this.wal.saveSnapshotMarker({index: meta.index, term: meta.term});
      this.raftStorage.applySnapshot(snapshot);
    }
    // Raft needs an fsync only when entries, term or vote changed; a batch that only moves the
    // commit index is written and rides on the next fsync.
    const writtenMs = this.clock.monotonicMs();
    // Inline, the fsync costs the member less CPU and a put less time than handing it to
    // libuv's threadpool and waking the loop when it is done (docs/performance.md, change 10).
    const sync = mustSync && !this.bugs.has('ack-before-wal-fsync');
    if (this.config.walFsync === 'inline') this.wal.save(hardState, entries, sync);
    else await this.wal.saveAsync(hardState, entries, sync);
    if (sync) this.observer.walSynced(this.clock.monotonicMs() - writtenMs);
    if (hardState !== undefined) this.raftStorage.setHardState(hardState);
    if (entries.length > 0) this.raftStorage.append(entries);
  }

  private apply(snapshot: Snapshot | undefined, entries: readonly Entry[]): void | Promise<void> {
    if (snapshot !== undefined) {
      this.observer.snapshotApplying?.(1);
      const installed = this.installSnapshot(snapshot).finally(() =>
        this.observer.snapshotApplying?.(-1),
      );
      return installed.then(() => {
        this.applyCommitted(entries);
      });
    }
    this.applyCommitted(entries);
  }

  /**
   * Sends raft's messages, except that a snapshot for a lagging follower is
   * filled first with a consistent copy of this member's backend: raft's own
   * snapshot records only the log position and membership, and the follower
   * needs the whole state. The backend copy may be ahead of the snapshot's
   * index; the follower then skips the entries the copy already holds, by its
   * consistent index, exactly as after a restart.
   */
  private dispatch(messages: readonly Message[]): void {
    const plain = messages.filter(m => m.type !== MessageType.MsgSnap);
    if (plain.length > 0) this.sendHandler(plain);
    for (const m of messages) {
      if (m.type !== MessageType.MsgSnap) continue;
      this.fillSnapshot(m).then(
        filled => {
          this.sendHandler([filled]);
        },
        (error: unknown) => {
          this.logger.warn(
            {to: m.to.toString(16), error: String(error)},
            'could not prepare a snapshot',
          );
          this.reportSnapshot(m.to, false);
        },
      );
    }
  }

  private async fillSnapshot(m: Message): Promise<Message> {
    const snapshot = m.snapshot;
    if (snapshot === undefined) throw new Error('MsgSnap without a snapshot');
    const data = await this.images.copyOut(this.state.kv.backend, m.to);
    this.logger.info(
      {to: m.to.toString(16), index: snapshot.metadata?.index, bytes: data.length},
      'sending a snapshot',
    );
    return {...m, snapshot: {...snapshot, data}};
  }

  /**
   * Replaces this member's state with the backend image in a snapshot from the
   * leader: the image is written and fsynced beside the live file, the store is
   * closed (open watch streams end; clients resume from their last revision),
   * the image renamed into place, and everything reopened from it.
   */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    const index = snapshot.metadata?.index ?? 0;
    if (index <= this.state.store.consistentIndex()) return;
    await this.images.install(snapshot.data, () => this.state.store.close());
    this.state = this.openState();
    this.snapshotsInstalled++;
    if (this.isLeader) this.lessor.promote(this.config.electionTimeoutMs);
    this.membershipListener();
    this.logger.info(
      {index, consistentIndex: this.state.store.consistentIndex(), bytes: snapshot.data.length},
      'installed a snapshot from the leader',
    );
  }

  private applyCommitted(entries: readonly Entry[]): void {
    const results = this.bugs.has('drop-applied-index')
      ? this.applyDroppingAppliedIndex(entries)
      : this.state.applier.applyEntries(entries);
    this.backendCommits.commitSoon();
    for (const {id, result} of results) this.waiters.resolve(id, result);
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.reads.onApplied(last.index);
      this.appliedSinceSnapshot += entries.length;
      const due = this.appliedSinceSnapshot >= this.config.snapshotCount;
      if ((due || this.snapshotForNewMember) && !this.snapshotPending) {
        this.snapshotForNewMember = false;
        this.snapshotWhenDurable(last.index);
      }
    }
  }

  /** The injected bug 'drop-applied-index': the batch's applied-index write never reaches the backend. */
  private applyDroppingAppliedIndex(
    entries: readonly Entry[],
  ): ReturnType<Applier['applyEntries']> {
    const backend = this.state.kv.backend;
    const key = Buffer.from('consistent_index');
    const before = backend.get('meta', key);
    const results = this.state.applier.applyEntries(entries);
    if (before !== undefined) backend.put('meta', key, before);
    return results;
  }

  /**
   * Takes a raft snapshot at `index` once the backend's copy of everything up to `index` is
   * on disk: the snapshot lets the WAL behind it go, and a restart resumes applying after
   * the snapshot, so the backend must already hold what it covers.
   */
  private snapshotWhenDurable(index: number): void {
    this.snapshotPending = true;
    this.appliedSinceSnapshot = 0;
    const state = this.state;
    const durable = this.bugs.has('snapshot-before-backend-commit')
      ? Promise.resolve()
      : this.backendCommits.commitNow();
    void durable.then(() => {
      // Between passes of the raft loop: no WAL write is in flight, raft's log may shrink.
      this.loop.runBetweenPasses(() => {
        this.snapshotPending = false;
        // Stopped, or the state was replaced by a snapshot from the leader meanwhile.
        if (this.stopped || state !== this.state) return;
        // A membership change applied after `index` would make the snapshot misstate the
        // configuration at `index`: take it at the current index instead.
        if (this.confChangeIndex > index) {
          this.snapshotWhenDurable(this.state.applier.appliedIndex());
          return;
        }
        this.snapshot(index);
      });
    });
  }

  /**
   * Takes a raft snapshot at `index` and compacts the raft log behind it,
   * keeping some entries so a slightly lagging follower catches up from the log.
   */
  private snapshot(index: number): void {
    if (index <= (this.raftStorage.snapshot().metadata?.index ?? 0)) return;
    const data = Buffer.from(JSON.stringify(this.membership.list()));
    const snap = this.raftStorage.createSnapshot(index, this.confState, data);
    const meta = snap.metadata;
    if (meta === undefined) return;
    const savedMs = this.clock.monotonicMs();
    this.snapshotter.save({index: meta.index, term: meta.term, confState: this.confState, data});
    this.observer.snapshotSynced(this.clock.monotonicMs() - savedMs);
    this.wal.saveSnapshotMarker({index: meta.index, term: meta.term});
    const compactTo = index - this.config.snapshotCatchUpEntries;
    if (compactTo > this.raftStorage.firstIndex()) {
      this.raftStorage.compact(compactTo);
      this.wal.releaseTo(compactTo);
      this.snapshotter.purge(5);
    }
    this.logger.info({index}, 'saved a raft snapshot');
  }

  /**
   * Applies a committed conf change to raft and to the membership. A change the
   * membership refuses (a member added twice, say) is applied to raft as a no-op
   * and its refusal recorded, so that replaying the log after a restart (which
   * runs every conf change through raft again, even those the backend already
   * reflects) makes exactly the same decisions.
   */
  private applyConfChange(entry: Entry): void {
    this.confChangeIndex = entry.index;
    const cc = ConfChange.decode(entry.data);
    const ctx = cc.context.length > 0 ? ConfChangeContext.decode(cc.context) : undefined;
    const replay = entry.index <= this.store.consistentIndex();
    const refusal = replay
      ? this.membership.wasRefused(entry.index)
        ? EtcdErrors.memberNotFound
        : undefined
      : refusalOfConfChange(this.membership, cc, ctx);
    if (refusal !== undefined) {
      this.confState = this.loop.node.applyConfChange({...cc, nodeId: 0});
      if (replay) return;
      this.membership.recordRefused(entry.index);
      if (ctx !== undefined) this.waiters.resolve(ctx.requestId, {ok: false, error: refusal});
      return;
    }
    this.confState = this.loop.node.applyConfChange(cc);
    if (replay) return;
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode:
      case ConfChangeType.ConfChangeUpdateNode: {
        const existing = this.membership.get(cc.nodeId);
        const proposed = ctx?.member === undefined ? undefined : fromRecord(ctx.member);
        const base = proposed ?? existing;
        if (base === undefined) break;
        this.membership.set({
          ...base,
          // A member's name and client URLs are published by the member itself.
          name: existing?.name ?? base.name,
          clientUrls: existing?.clientUrls ?? base.clientUrls,
          zkClientAddress: existing?.zkClientAddress ?? '',
          isLearner:
            cc.type === ConfChangeType.ConfChangeUpdateNode
              ? (existing?.isLearner ?? false)
              : cc.type === ConfChangeType.ConfChangeAddLearnerNode,
        });
        break;
      }
      case ConfChangeType.ConfChangeRemoveNode:
        this.membership.remove(cc.nodeId);
        break;
      default:
        break;
    }
    this.membership.recordChange(entry.index);
    if (
      cc.type === ConfChangeType.ConfChangeAddNode ||
      cc.type === ConfChangeType.ConfChangeAddLearnerNode
    ) {
      // Raft sends a new member only a snapshot that knows it: if the log it needs
      // is already compacted, the snapshot must come from after this change.
      this.snapshotForNewMember = true;
    }
    if (ctx !== undefined && ctx.requestId !== 0n) {
      this.waiters.resolve(ctx.requestId, {
        ok: true,
        response: this.membership.list(),
        revision: this.store.rev(),
      });
    }
    this.membershipListener();
    if (cc.type === ConfChangeType.ConfChangeRemoveNode && cc.nodeId === this.memberId) {
      // As etcd: answer the request that removed this member, let the other members
      // hear of the commit, then stop for good.
      this.logger.warn({}, memberRemovedMessage);
      this.removalTimer ??= this.clock.setTimeout(() => {
        this.fail(new MemberRemovedError());
      }, 10 * this.config.heartbeatIntervalMs);
    }
  }

  private onSoftState(state: SoftState): void {
    const wasLeader = this.leaderId === this.memberId;
    if (state.lead !== this.leaderId && state.lead !== 0) this.leaderChanges++;
    this.leaderId = state.lead;
    const isLeader = state.raftState === 'leader';
    if (isLeader && !wasLeader) {
      this.lessor.promote(this.config.electionTimeoutMs);
      this.logger.info({term: this.term}, 'became leader');
    } else if (!isLeader && wasLeader) {
      this.lessor.demote();
      this.logger.info({leader: state.lead.toString(16)}, 'lost leadership');
    }
  }

  private fail(error: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = error;
    // Writes not yet committed may hold part of an entry whose apply failed: none of them
    // may reach the disk. The WAL still holds every entry they came from.
    this.backendCommits.cancel();
    this.state.kv.backend.discardPending();
    if (error instanceof UnappliableEntryError) {
      this.logger.error({index: error.index, request: error.request}, error.message);
    } else {
      this.logger.error(
        {error: error instanceof Error ? error.stack : String(error)},
        'member stopped on a fatal error',
      );
    }
    const stopped = EtcdDomainError.of('stopped');
    this.waiters.rejectAll(stopped);
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
    this.backendCommits.cancel();
    this.leaseTimers.stop();
    this.clock.clearTimer(this.removalTimer);
    this.compactor.stop();
    this.authTokens.close();
    const stopped = EtcdDomainError.of('stopped');
    this.waiters.rejectAll(stopped);
    this.reads.failAll(stopped);
    await Promise.allSettled(this.pendingCompactions);
    await this.store.close();
    this.wal.close();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
