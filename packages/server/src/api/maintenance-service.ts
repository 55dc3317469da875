import {createHash} from 'node:crypto';

import type {
  AlarmMember,
  MaintenanceDefinition,
  MaintenanceServiceImplementation,
} from '@synod/proto';
import type {SnapshotResponse} from '@synod/proto';
import {AlarmRequest_AlarmAction, EtcdErrors} from '@synod/proto';
import {varintSize, writeVarint} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';

import {toRevision} from '../member/wire-requests.js';
import type {StorageMetrics} from '../metrics/storage-metrics.js';
import {streamEtcdSnapshot} from '../restore/write-etcd-snapshot.js';
import type {WithEncodedTail} from '../transport/grpc-service.js';
import {encodedTail} from '../transport/grpc-service.js';
import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {etcdError, unwrap} from './errors.js';
import type {MaintenanceBackend} from './member-ports.js';

const noBytes = Buffer.alloc(0);

/** SnapshotResponse's field 3 (`blob`, bytes): its tag and the varint of `length`. */
function blobFieldHead(length: number): Buffer {
  const head = Buffer.allocUnsafe(1 + varintSize(length));
  head[0] = (3 << 3) | 2;
  writeVarint(head, 1, length);
  return head;
}

/**
 * What a snapshot client that left a message unread for `stallMs` gets, if it reads again: the
 * snapshot was stopped when the bound passed and its read transaction released.
 */
function snapshotStalled(stallMs: number): ServerError {
  return new ServerError(
    Status.UNAVAILABLE,
    `snapshot stopped: the client took no message for ${stallMs} ms (--snapshot-stall-timeout-ms); save it again`,
  );
}

/** The etcd API version Synod implements, reported where etcd reports its own version. */
export const etcdApiVersion = '3.5.0';

/**
 * Reading alarms needs no user, raising or disarming one does; Defragment, Hash, HashKV and
 * Snapshot need root, refused in etcd's unconverted form. A learner answers only Status.
 */
export const maintenanceGuards: ServiceGuards<typeof MaintenanceDefinition> = {
  alarm: {
    hasLeader: true,
    caller: request => (request.action === AlarmRequest_AlarmAction.GET ? 'none' : 'user'),
  },
  status: {onLearner: true, caller: 'none'},
  defragment: {caller: 'root-maintenance'},
  hash: {caller: 'root-maintenance'},
  hashKV: {caller: 'root-maintenance'},
  snapshot: {caller: 'root-maintenance'},
  moveLeader: {caller: 'none'},
  downgrade: {caller: 'none'},
};

/**
 * The Maintenance service: status, alarms, hashes, defragmentation, leader transfer. `metrics`
 * times the hashes, defragmentations and snapshots, as etcd's do.
 */
export function maintenanceService(
  member: MaintenanceBackend,
  metrics?: StorageMetrics,
): MaintenanceServiceImplementation {
  const nowMs = () => performance.now();
  return {
    async alarm(request, context) {
      // etcd's Alarm answers carry no header.
      if (request.action === AlarmRequest_AlarmAction.GET) {
        await member.linearizableRead();
        return {alarms: member.alarms.list()};
      }
      const {response} = unwrap(
        await member.propose({$case: 'alarm', value: request}, callerOf(context)),
      );
      return response as {alarms: AlarmMember[]};
    },

    status() {
      const backend = member.backend;
      return Promise.resolve({
        header: member.header(),
        version: etcdApiVersion,
        dbSize: BigInt(backend.sizeBytes()),
        leader: BigInt(member.leader),
        raftIndex: BigInt(member.raftIndex),
        raftTerm: BigInt(member.term),
        raftAppliedIndex: BigInt(member.appliedIndex),
        errors: member.alarms.list().map(a => `memberID:${a.memberID} alarm:${a.alarm}`),
        dbSizeInUse: BigInt(backend.sizeInUseBytes()),
        isLearner: false,
        storageVersion: '',
        dbSizeQuota: BigInt(member.config.quotaBackendBytes),
        downgradeInfo: undefined,
      });
    },

    async defragment() {
      const done = member.backend.defragment();
      metrics?.defragmenting(done, nowMs);
      await done;
      // etcd answers a defragmentation with an empty response, no header.
      return {};
    },

    hash() {
      const startedMs = nowMs();
      const hash = member.backend.hash();
      metrics?.hashed(nowMs() - startedMs);
      return Promise.resolve({header: member.header(), hash});
    },

    async hashKV(request) {
      try {
        const startedMs = nowMs();
        const r = await member.store.hashKV(toRevision(request.revision));
        metrics?.hashedByRevision(nowMs() - startedMs);
        return {
          header: member.header(),
          hash: r.hash,
          compactRevision: BigInt(r.compactRevision),
          // etcd 3.4 and 3.5 know no hash_revision (3.6 added it): left 0, as they leave it.
          hashRevision: 0n,
        };
      } catch (error) {
        if (error instanceof Error && error.message.includes('future revision')) {
          throw etcdError(EtcdErrors.futureRev);
        }
        if (error instanceof Error && error.message.includes('compacted')) {
          throw etcdError(EtcdErrors.compacted);
        }
        throw error;
      }
    },

    /**
     * Streams the store as etcd's backend file (bbolt, etcd 3.4's buckets and encodings) in
     * chunks of about 1 MiB, then its SHA-256 as a last 32-byte chunk, as etcd does (in 32 KiB
     * chunks), with no response header, as etcd 3.4 sends none: `etcdctl snapshot save` writes
     * the stream to a file that `etcdctl snapshot status` and `snapshot restore` (and `synod
     * snapshot restore`) read. The pages are built as they are sent, from one read
     * transaction of the live backend, so the member keeps applying meanwhile; nothing is
     * written to disk.
     */
    async *snapshot(_request, context) {
      const startedMs = nowMs();
      const hash = createHash('sha256');
      let remaining = 0;
      const stalled = new AbortController();
      const stallMs = member.config.snapshotStallTimeoutMs;
      const chunks = streamEtcdSnapshot(
        member.backend,
        file => (remaining = file.sizeBytes),
        stalled.signal,
      );
      let stallTimer: NodeJS.Timeout | undefined;
      try {
        // Leaving the loop early (the call ended) stops the building.
        for await (const chunk of chunks) {
          clearTimeout(stallTimer);
          if (context.signal.aborted) return;
          if (stalled.signal.aborted) throw snapshotStalled(stallMs);
          hash.update(chunk);
          // As etcd counts: the database's bytes after this message (the hash's message: 0).
          remaining -= chunk.length;
          const response: SnapshotResponse & WithEncodedTail = {
            header: undefined,
            remainingBytes: BigInt(remaining),
            blob: noBytes,
            version: '',
            // The blob as its encoded field after the rest: one copy of the megabyte into the
            // message, where the generated encoder made three.
            [encodedTail]: [blobFieldHead(chunk.length), chunk],
          };
          // The stream waits for the client to take a message before asking for the next: a
          // client that stops reading would hold the read transaction for as long as its
          // connection lives, keeping every page it reads alive and holding up defragmentation.
          stallTimer = setTimeout(() => {
            stalled.abort(snapshotStalled(stallMs));
          }, stallMs);
          yield response;
        }
      } catch (error) {
        if (stalled.signal.aborted) throw snapshotStalled(stallMs);
        throw error;
      } finally {
        clearTimeout(stallTimer);
      }
      metrics?.backendSnapshotted(nowMs() - startedMs);
      yield {header: undefined, remainingBytes: 0n, blob: hash.digest(), version: etcdApiVersion};
    },

    async moveLeader(request) {
      if (!member.isLeader) throw etcdError(EtcdErrors.notLeader);
      const target = Number(request.targetID);
      if (!member.voters.includes(target) || target === member.memberId) {
        throw etcdError(EtcdErrors.badLeaderTransferee);
      }
      await member.transferLeadership(target);
      return {header: member.header()};
    },

    downgrade() {
      return Promise.reject(etcdError(EtcdErrors.notCapable));
    },
  };
}
