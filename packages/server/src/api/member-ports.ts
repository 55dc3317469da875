import type {ResponseHeader} from '@synod/proto';
import type {ConfChangeType} from '@synod/proto/raftpb';
import type {Backend, KvExecutor, Lessor, WatchableStore} from '@synod/storage';

import type {AuthStore, RequestAuth} from '../auth/auth-store.js';
import type {TokenProvider} from '../auth/token-provider.js';
import type {MemberConfig} from '../config/member-config.js';
import type {Alarms} from '../member/alarms.js';
import type {ApplyResult} from '../member/apply-result.js';
import type {InternalRequestBody} from '../member/member.js';
import type {Membership, MemberInfo} from '../member/membership.js';

/*
 * What each front-end service needs of the member, named by the service. `MemberCore`
 * satisfies every port structurally; a service sees only its port, so what it may touch is
 * written here, and a test or another front end (the gateway, ZooKeeper) can hand it
 * something smaller than a whole member.
 */

/** The header etcd puts on every response. */
export interface HeaderSource {
  header(revision?: number): ResponseHeader;
}

/** Proposes a request through Raft as a user and resolves once this member applied it. */
export interface Proposer {
  propose(body: InternalRequestBody, auth?: RequestAuth): Promise<ApplyResult>;
}

/** Who leads, as this member knows it (0: no leader known). */
export interface LeaderView {
  readonly leader: number;
  readonly isLeader: boolean;
}

/** Waits until this member has applied everything the leader had committed when asked. */
export interface LinearizableReader {
  linearizableRead(): Promise<void>;
}

/** What the leader watchdog of a stream reads. */
export interface WatchdogHost {
  readonly leader: number;
  readonly config: Pick<MemberConfig, 'electionTimeoutMs'>;
}

/** What the call guard (has-leader, learner, caller) reads of the member. */
export interface GuardHost {
  readonly leader: number;
  readonly isLearner: boolean;
  readonly appliedIndex: number;
  readonly config: Pick<MemberConfig, 'clientTls'>;
  readonly auth: Pick<AuthStore, 'revision' | 'checkAdmin'>;
  readonly authTokens: Pick<TokenProvider, 'issuedAt' | 'info'>;
}

/** The KV service's member: local reads, proposals and the quota in front of them. */
export interface KvBackend extends HeaderSource, Proposer, LinearizableReader {
  readonly executor: Pick<KvExecutor, 'range' | 'txn'>;
  readonly auth: Pick<AuthStore, 'checkRange' | 'checkTxn'>;
  checkQuota(): void;
}

/** The Lease service's member (and the peer-side lessor's, on the leader). */
export interface LeaseBackend extends HeaderSource, Proposer, LeaderView, WatchdogHost {
  readonly lessor: Pick<Lessor, 'exists' | 'timeToLive' | 'list'>;
  readonly auth: Pick<AuthStore, 'checkLeaseKeys'>;
  nextRequestId(): bigint;
  renewLease(id: bigint): number;
  checkQuota(): void;
}

/** The Watch service's member: its watch hub and what a stream's replies carry. */
export interface WatchBackend extends HeaderSource, WatchdogHost {
  readonly config: Pick<
    MemberConfig,
    'electionTimeoutMs' | 'watchProgressNotifyIntervalMs' | 'maxRequestBytes'
  >;
  readonly store: Pick<WatchableStore, 'newWatchStream' | 'progress'>;
  readonly auth: Pick<AuthStore, 'checkRange'>;
}

/** What etcd's concurrency recipes (Lock, Election) run on: txns, reads and watches. */
export interface ConcurrencyBackend extends HeaderSource, Proposer, LinearizableReader {
  readonly executor: Pick<KvExecutor, 'range'>;
  readonly store: Pick<WatchableStore, 'newWatchStream'>;
  readonly lessor: Pick<Lessor, 'exists'>;
  readonly auth: Pick<AuthStore, 'checkRange'>;
  nextRequestId(): bigint;
}

/** The Cluster service's member: membership, conf changes and the leader's view of followers. */
export interface ClusterBackend extends HeaderSource, LeaderView, LinearizableReader {
  readonly memberId: number;
  readonly clusterId: number;
  readonly config: Pick<MemberConfig, 'strictReconfigCheck' | 'initialClusterToken'>;
  readonly membership: Pick<
    Membership,
    'list' | 'get' | 'has' | 'withPeerUrl' | 'learners' | 'removedIds'
  >;
  proposeConfChange(
    type: ConfChangeType,
    id: number,
    info: MemberInfo | undefined,
  ): Promise<ApplyResult<MemberInfo[]>>;
  /** On the leader, how far member `id`'s log is known to match the leader's; else 0. */
  matchIndex(id: number): number;
}

/** The Maintenance service's member: status, alarms, the backend file, leadership. */
export interface MaintenanceBackend extends HeaderSource, Proposer, LeaderView, LinearizableReader {
  readonly memberId: number;
  readonly raftIndex: number;
  readonly term: number;
  readonly appliedIndex: number;
  readonly voters: readonly number[];
  readonly config: Pick<MemberConfig, 'quotaBackendBytes' | 'snapshotStallTimeoutMs'>;
  readonly alarms: Pick<Alarms, 'list'>;
  readonly store: Pick<WatchableStore, 'hashKV'>;
  readonly backend: Pick<
    Backend,
    'sizeBytes' | 'sizeInUseBytes' | 'defragment' | 'hash' | 'readView'
  >;
  transferLeadership(target: number): Promise<void>;
}

/** The Auth service's member: the auth store, read after a ReadIndex round. */
export interface AuthBackend extends HeaderSource, Proposer, LinearizableReader {
  readonly config: Pick<MemberConfig, 'maxRequestBytes' | 'bcryptCost'>;
  readonly auth: Pick<
    AuthStore,
    | 'checkAdmin'
    | 'checkPassword'
    | 'isEnabled'
    | 'revision'
    | 'userRoles'
    | 'userNames'
    | 'hasRole'
    | 'rolePermissions'
    | 'roleNames'
  >;
}

/** What the health checks (gRPC Health, `/health`) read of the member. */
export interface HealthHost extends LinearizableReader {
  readonly leader: number;
  readonly fatalError: unknown;
  readonly isPublished: boolean;
  readonly alarms: Pick<Alarms, 'list'>;
  readonly config: Pick<MemberConfig, 'heartbeatIntervalMs'>;
}

/** What forwarding a call to the leader reads: who leads and where it listens. */
export interface ForwarderHost {
  readonly leader: number;
  readonly membership: Pick<Membership, 'get'>;
  readonly config: Pick<MemberConfig, 'electionTimeoutMs' | 'heartbeatIntervalMs'>;
}
