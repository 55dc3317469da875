import {AlarmType} from '@synod/proto';
import type {Entry} from '@synod/proto/raftpb';
import type {WatchableStore} from '@synod/storage';
import {KvExecutor, KvStore, Lessor} from '@synod/storage';

import {AuthStore} from '../auth/auth-store.js';
import type {TokenProvider} from '../auth/token-provider.js';
import type {MemberConfig} from '../config/member-config.js';
import {ZkStateMachine} from '../zookeeper/zk-state-machine.js';
import {Alarms} from './alarms.js';
import {Applier} from './applier.js';
import {applyPublishedAttributes} from './attribute-publisher.js';
import type {Clock} from './clock.js';
import {CountedStore, compactionObserverOf} from './counted-store.js';
import type {MemberObserver} from './member-observer.js';
import {timeBackendCommit} from './member-observer.js';
import type {MemberStorage} from './member-storage.js';
import {Membership} from './membership.js';
import {readSkippedEntries} from './skipped-entries.js';

/**
 * Everything applying entries changes, opened from one backend: replaced as a
 * whole when the member installs a snapshot from the leader.
 */
export interface AppliedState {
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

/** What the applied state is opened with, and the member's part in applying. */
export interface AppliedStateDeps {
  readonly dbDir: string;
  readonly config: MemberConfig;
  readonly clock: Clock;
  readonly observer: MemberObserver;
  readonly storage: MemberStorage;
  /** Auth tokens outlive the applied state: a snapshot install keeps them, like etcd's. */
  readonly authTokens: TokenProvider;
  /** Called for every committed conf change entry, in log order (see {@link Applier}). */
  applyConfChange(entry: Entry): void;
  /** The membership changed: the transport follows it. */
  membershipChanged(): void;
  /** A compaction was applied; `done` settles once it reached the backend. */
  onCompaction(done: Promise<void>): void;
}

/**
 * Opens the backend in the data directory and everything applying entries builds on it: the
 * MVCC store (counted for metrics), the lessor restored from the backend, the membership,
 * users and roles, alarms, ZooKeeper's tree and the applier over all of them.
 */
export function openAppliedState(deps: AppliedStateDeps): AppliedState {
  const {config, clock, observer} = deps;
  const minTtlSeconds = Math.ceil((1.5 * config.electionTimeoutMs) / 1000);
  const lessor = new Lessor({nowMs: () => clock.nowMs(), minTtlSeconds, observer});
  const kv = KvStore.open(deps.dbDir, {
    leaseHooks: lessor,
    schedule: step => {
      clock.soon(step);
    },
    onBackendCommit: landed => {
      timeBackendCommit(observer, clock, landed);
    },
    syncBackendCommits: deps.storage.syncBackendCommits,
    compactionObserver: compactionObserverOf(observer, clock),
  });
  lessor.restore(kv.backend);
  const store = new CountedStore(kv, observer, clock, {
    schedule: (step, delayMs) => {
      clock.setTimeout(step, delayMs);
    },
  });
  const membership = new Membership(kv.backend);
  const auth = new AuthStore(kv.backend, deps.authTokens);
  const alarms = new Alarms(kv.backend);
  const executor = new KvExecutor(store, {
    leaseExists: id => lessor.exists(id),
    maxTxnOps: config.maxTxnOps,
  });
  const zookeeper = new ZkStateMachine({
    store,
    lessor,
    noSpace: () => alarms.has(AlarmType.NOSPACE),
    x509Provider: () => membership.list().some(m => (m.zkSecureClientAddress ?? '') !== ''),
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
      overQuota: () => kv.backend.sizeBytes() > config.quotaBackendBytes,
      applyConfChange: entry => {
        deps.applyConfChange(entry);
      },
      publishAttributes: (record, index) => {
        if (applyPublishedAttributes(membership, record, index)) deps.membershipChanged();
      },
      onCompaction: done => {
        deps.onCompaction(done);
      },
    },
    readSkippedEntries(kv.backend),
  );
  return {kv, store, executor, lessor, membership, auth, alarms, applier, zookeeper};
}
