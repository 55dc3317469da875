import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {mkdir, mkdtemp, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {
  AlarmMember,
  MaintenanceDefinition,
  MaintenanceServiceImplementation,
} from '@synod/proto';
import {AlarmRequest_AlarmAction, EtcdErrors} from '@synod/proto';
import {Backend, BACKEND_FILE} from '@synod/storage';

import {toRevision} from '../member/wire-requests.js';
import {writeEtcdSnapshot} from '../restore/write-etcd-snapshot.js';
import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {etcdError, unwrap} from './errors.js';
import type {MaintenanceBackend} from './member-ports.js';

/** The etcd API version Synod implements, reported where etcd reports its own version. */
export const etcdApiVersion = '3.5.0';

/**
 * etcd streams 32 KiB at a time; Synod's snapshot costs about a fifth less of the member's CPU
 * in messages of 1 MiB (200,000 keys of 256 B: 2.6 s against 3.3 s, medians of 6 saves each),
 * and 1 MiB is well under the 4 MiB that gRPC clients accept by default.
 */
const snapshotChunkBytes = 1024 * 1024;
const snapshotHashBytes = 32;

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

/** The Maintenance service: status, alarms, hashes, defragmentation, leader transfer. */
export function maintenanceService(member: MaintenanceBackend): MaintenanceServiceImplementation {
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
      await member.backend.defragment();
      // etcd answers a defragmentation with an empty response, no header.
      return {};
    },

    hash() {
      return Promise.resolve({header: member.header(), hash: member.backend.hash()});
    },

    async hashKV(request) {
      try {
        const r = await member.store.hashKV(toRevision(request.revision));
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
     * Streams the store as etcd's backend file (bbolt, etcd 3.4's buckets and
     * encodings) in 1 MiB chunks, then its SHA-256 as a last 32-byte chunk, as
     * etcd does (in 32 KiB chunks), with no response header, as etcd 3.4 sends none:
     * `etcdctl snapshot save` writes the stream to a file that
     * `etcdctl snapshot status` and `snapshot restore` (and `synod snapshot
     * restore`) read. The file is built from a consistent LMDB copy of the
     * backend, so the member keeps applying while it is converted.
     */
    async *snapshot(_request, context) {
      const dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-'));
      try {
        const copyDir = join(dir, 'copy');
        await mkdir(copyDir, {mode: 0o700});
        await member.backend.copyTo(join(copyDir, BACKEND_FILE), true);
        const copy = Backend.open(copyDir);
        const file = join(dir, 'snapshot.db');
        try {
          // Read back at once and deleted: no need to wait for the disk.
          await writeEtcdSnapshot(copy, file, {sync: false});
        } finally {
          await copy.close();
        }
        const size = (await stat(file)).size;
        const hash = createHash('sha256');
        let remaining = size + snapshotHashBytes;
        const stream = createReadStream(file, {highWaterMark: snapshotChunkBytes});
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (context.signal.aborted) return;
          hash.update(chunk);
          remaining -= chunk.length;
          yield {header: undefined, remainingBytes: BigInt(remaining), blob: chunk, version: ''};
        }
        yield {header: undefined, remainingBytes: 0n, blob: hash.digest(), version: etcdApiVersion};
      } finally {
        await rm(dir, {recursive: true, force: true});
      }
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
