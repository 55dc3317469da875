import {Counter, Gauge} from 'prom-client';
import type {Registry} from 'prom-client';

import type {MemberCore} from '../member/member.js';

/** What the scraped gauges read of the member. */
export type ScrapedMember = Pick<
  MemberCore,
  | 'leaderChanges'
  | 'leader'
  | 'isLeader'
  | 'isLearner'
  | 'raftIndex'
  | 'appliedIndex'
  | 'pendingProposals'
  | 'store'
  | 'auth'
  | 'walBytesWritten'
  | 'memberId'
  | 'peers'
  | 'config'
  | 'snapshotsInstalled'
>;

/**
 * Registers the gauges and counters etcd reads from its server's state at each scrape: leader,
 * proposals, the backend's size, the store's revisions and watchers, peers, versions. Each is
 * absent until `core()` returns a member; `isPeerConnected()` is the peer transport's view of
 * its streams, once it is attached.
 */
export function registerMemberStateMetrics(
  registry: Registry,
  core: () => ScrapedMember | undefined,
  isPeerConnected: () => ((id: number) => boolean) | undefined,
  serverVersion: string,
): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (core: ScrapedMember) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const c = core();
        if (c !== undefined) this.set(read(c));
      },
    });
  const labelled = (
    name: string,
    help: string,
    label: string,
    read: (c: ScrapedMember) => string,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        const c = core();
        if (c === undefined) return;
        this.reset();
        this.set({[label]: read(c)}, 1);
      },
    });
  // A counter the core keeps: the exported one is moved up to it at each scrape.
  let leaderChangesExported = 0;
  new Counter({
    name: 'etcd_server_leader_changes_seen_total',
    help: 'The number of leader changes seen.',
    registers,
    collect() {
      const seen = core()?.leaderChanges ?? 0;
      if (seen > leaderChangesExported) this.inc(seen - leaderChangesExported);
      leaderChangesExported = Math.max(seen, leaderChangesExported);
    },
  });
  gauge(
    'etcd_server_has_leader',
    'Whether or not a leader exists. 1 is existence, 0 is not.',
    core => (core.leader === 0 ? 0 : 1),
  );
  gauge(
    'etcd_server_is_leader',
    'Whether or not this member is a leader. 1 if is, 0 otherwise.',
    core => (core.isLeader ? 1 : 0),
  );
  gauge(
    'etcd_server_is_learner',
    'Whether or not this member is a learner. 1 if is, 0 otherwise.',
    core => (core.isLearner ? 1 : 0),
  );
  gauge(
    'etcd_server_proposals_committed_total',
    'The total number of consensus proposals committed.',
    core => core.raftIndex,
  );
  gauge(
    'etcd_server_proposals_applied_total',
    'The total number of consensus proposals applied.',
    core => core.appliedIndex,
  );
  gauge(
    'etcd_server_proposals_pending',
    'The current number of pending proposals to commit.',
    core => core.pendingProposals,
  );
  for (const name of [
    'etcd_mvcc_db_total_size_in_bytes',
    'etcd_debugging_mvcc_db_total_size_in_bytes',
  ]) {
    gauge(name, 'Total size of the underlying database physically allocated in bytes.', core =>
      core.store.kv.backend.sizeBytes(),
    );
  }
  gauge(
    'etcd_debugging_mvcc_compact_revision',
    'The revision of the last compaction in store.',
    core => Math.max(0, core.store.firstRev()),
  );
  gauge('etcd_debugging_auth_revision', 'The current revision of auth store.', core =>
    Number(core.auth.revision),
  );
  // A gauge in etcd 3.4 (a counter from 3.5 on): bytes of WAL records this process wrote.
  gauge(
    'etcd_disk_wal_write_bytes_total',
    'Total number of bytes written in WAL.',
    core => core.walBytesWritten,
  );
  new Gauge({
    name: 'etcd_network_active_peers',
    help: 'The current number of active peer connections.',
    labelNames: ['Local', 'Remote'],
    registers,
    collect() {
      const c = core();
      const connected = isPeerConnected();
      if (c === undefined || connected === undefined) return;
      this.reset();
      const local = c.memberId.toString(16);
      for (const m of c.peers()) {
        if (m.id === c.memberId) continue;
        this.set({Local: local, Remote: m.id.toString(16)}, connected(m.id) ? 1 : 0);
      }
    },
  });
  gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
    core => core.store.kv.backend.sizeInUseBytes(),
  );
  gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
    core => core.config.quotaBackendBytes,
  );
  labelled(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    'server_id',
    core => core.memberId.toString(16),
  );
  labelled(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
    'server_version',
    () => serverVersion,
  );
  labelled(
    'etcd_cluster_version',
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    'cluster_version',
    () => serverVersion.split('.').slice(0, 2).join('.'),
  );
  gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', core =>
    core.store.kv.indexedKeys(),
  );
  gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.', core =>
    core.store.rev(),
  );
  gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', core => {
    const c = core.store.watcherCounts();
    return c.synced + c.unsynced + c.victims;
  });
  gauge(
    'etcd_debugging_mvcc_slow_watcher_total',
    'Total number of unsynced slow watchers.',
    core => {
      const c = core.store.watcherCounts();
      return c.unsynced + c.victims;
    },
  );
  gauge(
    'synod_server_snapshots_installed_total',
    'Snapshots of the store received from a leader and installed.',
    core => core.snapshotsInstalled,
  );
}
