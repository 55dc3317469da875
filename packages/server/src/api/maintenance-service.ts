import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {mkdir, mkdtemp, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {AlarmMember, MaintenanceServiceImplementation} from '@synod/proto';
import {AlarmRequest_AlarmAction, EtcdErrors} from '@synod/proto';
import {Backend, BACKEND_FILE} from '@synod/storage';

import type {MemberCore} from '../member/member.js';
import {writeEtcdSnapshot} from '../restore/write-etcd-snapshot.js';
import {etcdError, requireLeaderIfAsked, unwrap} from './errors.js';
import {requestAuth, requireRootForMaintenance} from './request-auth.js';
import {toRevision} from './wire.js';

/** The etcd API version Synod implements, reported where etcd reports its own version. */
export const etcdApiVersion = '3.5.0';

const snapshotChunkBytes = 32 * 1024;
const snapshotHashBytes = 32;

/** The Maintenance service: status, alarms, hashes, defragmentation, leader transfer. */
export function maintenanceService(member: MemberCore): MaintenanceServiceImplementation {
  return {
    async alarm(request, context) {
      requireLeaderIfAsked(context, member.leader);
      // etcd's Alarm answers carry no header.
      if (request.action === AlarmRequest_AlarmAction.GET) {
        await member.linearizableRead();
        return {alarms: member.alarms.list()};
      }
      const auth = await requestAuth(member, context);
      const {response} = unwrap(await member.propose({$case: 'alarm', value: request}, auth));
      return response as {alarms: AlarmMember[]};
    },

    status() {
      const backend = member.store.kv.backend;
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

    async defragment(_request, context) {
      await requireRootForMaintenance(member, context);
      await member.store.kv.backend.defragment();
      // etcd answers a defragmentation with an empty response, no header.
      return {};
    },

    async hash(_request, context) {
      await requireRootForMaintenance(member, context);
      return {header: member.header(), hash: member.store.kv.backend.hash()};
    },

    async hashKV(request, context) {
      await requireRootForMaintenance(member, context);
      try {
        const r = await member.store.hashKV(toRevision(request.revision));
        return {
          header: member.header(),
          hash: r.hash,
          compactRevision: BigInt(r.compactRevision),
          hashRevision: BigInt(r.hashRevision),
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
     * encodings) in 32 KiB chunks, then its SHA-256 as a last 32-byte chunk, as
     * etcd does: `etcdctl snapshot save` writes the stream to a file that
     * `etcdctl snapshot status` and `snapshot restore` (and `synod snapshot
     * restore`) read. The file is built from a consistent LMDB copy of the
     * backend, so the member keeps applying while it is converted.
     */
    async *snapshot(_request, context) {
      await requireRootForMaintenance(member, context);
      const dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-'));
      try {
        const copyDir = join(dir, 'copy');
        await mkdir(copyDir, {mode: 0o700});
        await member.store.kv.backend.copyTo(join(copyDir, BACKEND_FILE), true);
        const copy = Backend.open(copyDir);
        const file = join(dir, 'snapshot.db');
        try {
          await writeEtcdSnapshot(copy, file);
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
          yield {
            header: member.header(),
            remainingBytes: BigInt(remaining),
            blob: chunk,
            version: '',
          };
        }
        yield {
          header: member.header(),
          remainingBytes: 0n,
          blob: hash.digest(),
          version: etcdApiVersion,
        };
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
