import {User, Role} from '@synod/proto';
import type {Backend, BboltItem, BboltItems, BboltWriteResult} from '@synod/storage';
import {writeBboltFile} from '@synod/storage';

import {Membership} from '../member/membership.js';
import {fillEtcdRevisions} from './etcd-revision-writer.js';
import type {EtcdBucket} from './etcd-schema.js';
import {
  CLUSTER_VERSION,
  decodeSynodLease,
  encodeEtcdLease,
  encodeEtcdMember,
  ETCD_BUCKETS,
  etcdRevisionKey,
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
  SYNOD_META_FINISHED_COMPACT,
  SYNOD_META_SCHEDULED_COMPACT,
} from './etcd-schema.js';

const EMPTY = new Uint8Array(0);

/**
 * Writes Synod's backend as the bbolt file etcd 3.4 keeps, at `file`: the database that
 * `etcdctl snapshot save` stores (the caller appends the SHA-256). Every revision of every
 * key with its create and mod revision, version and lease; the compaction revisions and
 * the consistent index; leases with their TTLs; members and removed members; alarms; the
 * auth flag and revision, users and roles. What only Synod keeps (conf changes refused at
 * apply, entries skipped by an operator) is left out: it belongs to Synod's own log.
 *
 * `backend` must not change while this runs (give it a copy, as `Maintenance.Snapshot`
 * does): the `key` bucket is streamed into the file rather than read into memory. The file
 * is fsynced unless `sync` is false.
 */
export async function writeEtcdSnapshot(
  backend: Backend,
  file: string,
  options: {readonly sync?: boolean} = {},
): Promise<BboltWriteResult> {
  // The key bucket is read from LMDB itself: what is buffered must be there.
  await backend.commit();
  const buckets: Record<Exclude<EtcdBucket, 'key'>, BboltItems> = {
    alarm: copyBucket(backend, 'alarm'),
    auth: copyBucket(backend, 'auth'),
    authRoles: byName(backend, 'authRoles', v => Role.decode(v).name),
    authUsers: byName(backend, 'authUsers', v => User.decode(v).name),
    cluster: [{key: Buffer.from('clusterVersion'), value: Buffer.from(CLUSTER_VERSION)}],
    lease: leases(backend),
    members: members(backend),
    members_removed: removedMembers(backend),
    meta: meta(backend),
  };
  return writeBboltFile(
    file,
    ETCD_BUCKETS.map(name =>
      name === 'key'
        ? {key: Buffer.from(name), fill: fillEtcdRevisions(backend.committedRange('key'))}
        : {key: Buffer.from(name), bucket: buckets[name]},
    ),
    options.sync === false ? {sync: false} : {},
  );
}

function* copyBucket(backend: Backend, bucket: 'alarm' | 'auth'): Generator<BboltItem> {
  for (const {key, value} of backend.range(bucket, EMPTY)) yield {key, value};
}

/** Users or roles keyed by their full names, as etcd keys them. */
function byName(
  backend: Backend,
  bucket: 'authUsers' | 'authRoles',
  nameOf: (value: Uint8Array) => Buffer,
): BboltItem[] {
  const items = [...backend.range(bucket, EMPTY)].map(({value}) => ({key: nameOf(value), value}));
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

function* leases(backend: Backend): Generator<BboltItem> {
  for (const {key, value} of backend.range('lease', EMPTY)) {
    const id = Buffer.from(key).readBigInt64BE(0);
    const {ttlSeconds, remainingTtlSeconds} = decodeSynodLease(value);
    yield {key, value: encodeEtcdLease({id, ttlSeconds, remainingTtlSeconds})};
  }
}

function members(backend: Backend): BboltItem[] {
  const items = new Membership(backend).list().map(m => ({
    key: Buffer.from(m.id.toString(16)),
    value: encodeEtcdMember({
      id: m.id,
      peerUrls: m.peerUrls,
      isLearner: m.isLearner,
      name: m.name,
      clientUrls: m.clientUrls,
    }),
  }));
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

function removedMembers(backend: Backend): BboltItem[] {
  const items = new Membership(backend)
    .removedIds()
    .map(id => ({key: Buffer.from(id.toString(16)), value: Buffer.from('removed')}));
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

/** consistent_index, finishedCompactRev, scheduledCompactRev: already in byte order. */
function meta(backend: Backend): BboltItem[] {
  const items: BboltItem[] = [];
  const index = backend.get('meta', Buffer.from(META_CONSISTENT_INDEX));
  if (index !== undefined) items.push({key: Buffer.from(META_CONSISTENT_INDEX), value: index});
  const compaction = (synodKey: string, etcdKey: string): void => {
    const v = backend.get('meta', Buffer.from(synodKey));
    if (v === undefined) return;
    const main = Number(Buffer.from(v).readBigUInt64BE(0));
    items.push({key: Buffer.from(etcdKey), value: etcdRevisionKey(main, 0, false)});
  };
  compaction(SYNOD_META_FINISHED_COMPACT, META_FINISHED_COMPACT);
  compaction(SYNOD_META_SCHEDULED_COMPACT, META_SCHEDULED_COMPACT);
  return items;
}
