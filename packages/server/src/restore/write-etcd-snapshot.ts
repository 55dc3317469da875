import {User, Role} from '@synod/proto';
import type {Backend, BackendReadView, BboltItem, BboltWriteResult, Bucket} from '@synod/storage';
import {streamBboltFile, writeBboltFile} from '@synod/storage';

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

/**
 * Writes Synod's backend as the bbolt file etcd 3.4 keeps, at `file`: the database that
 * `etcdctl snapshot save` stores (the caller appends the SHA-256); see
 * {@link streamEtcdSnapshot}. The file is fsynced unless `sync` is false.
 */
export async function writeEtcdSnapshot(
  backend: Pick<Backend, 'readView'>,
  file: string,
  options: {readonly sync?: boolean} = {},
): Promise<BboltWriteResult> {
  const view = await backend.readView();
  try {
    return await writeBboltFile(
      file,
      etcdBuckets(view),
      options.sync === false ? {sync: false} : {},
    );
  } finally {
    view.close();
  }
}

/**
 * Synod's backend as the bbolt file etcd 3.4 keeps, in chunks of about 1 MiB, built as they
 * are taken from one read transaction of the live backend, so the member keeps applying
 * meanwhile: the database that `Maintenance.Snapshot` sends and `etcdctl snapshot save`
 * stores (the caller appends the SHA-256). Every revision of every key with its create and mod
 * revision, version and lease; the compaction revisions and the consistent index; leases
 * with their TTLs; members and removed members; alarms; the auth flag and revision, users and
 * roles. What only Synod keeps (conf changes refused at apply, entries skipped by an
 * operator) is left out: it belongs to Synod's own log.
 *
 * The `key` bucket is read twice (once to measure the pages, once to write them) and never
 * held in memory; the others are read into memory first. The read transaction ends when the
 * file is built, when the iteration is stopped, or when the backend closes (the iteration
 * then throws). `onMeasured` is told the file's size before the first chunk. A chunk is
 * filled again once the next has been taken: send or copy it before asking for the next.
 *
 * `stop` ends the building from outside while the reader holds the iteration, between two
 * chunks: the read transaction is released at once (the builder is the one reading it), and
 * the reader's next request throws after the chunks already built.
 */
export async function* streamEtcdSnapshot(
  backend: Pick<Backend, 'readView'>,
  onMeasured?: (file: BboltWriteResult) => void,
  stop?: AbortSignal,
): AsyncGenerator<Buffer, BboltWriteResult> {
  const view = await backend.readView();
  let buckets: BboltItem[];
  try {
    buckets = etcdBuckets(view);
  } catch (error) {
    view.close();
    throw error;
  }
  return yield* streamBboltFile(buckets, {
    signal: stop === undefined ? view.signal : AbortSignal.any([view.signal, stop]),
    reuseChunks: true,
    onBuilt: () => {
      view.close();
    },
    ...(onMeasured === undefined ? {} : {onMeasured}),
  });
}

/** What a snapshot is read from: a read view of the backend. */
type Source = Pick<BackendReadView, 'range' | 'transientRange' | 'get'>;

/** etcd's top-level buckets, in order, read from `source`. */
function etcdBuckets(source: Source): BboltItem[] {
  const buckets: Record<Exclude<EtcdBucket, 'key'>, BboltItem[]> = {
    alarm: copyBucket(source, 'alarm'),
    auth: copyBucket(source, 'auth'),
    authRoles: byName(source, 'authRoles', v => Role.decode(v).name),
    authUsers: byName(source, 'authUsers', v => User.decode(v).name),
    cluster: [{key: Buffer.from('clusterVersion'), value: Buffer.from(CLUSTER_VERSION)}],
    lease: leases(source),
    members: members(source),
    members_removed: removedMembers(source),
    meta: meta(source),
  };
  return ETCD_BUCKETS.map(name =>
    name === 'key'
      ? {key: Buffer.from(name), fill: fillEtcdRevisions(source.transientRange('key'))}
      : {key: Buffer.from(name), bucket: buckets[name]},
  );
}

function copyBucket(source: Source, bucket: 'alarm' | 'auth'): BboltItem[] {
  return [...source.range(bucket)].map(({key, value}) => ({key, value}));
}

/** Users or roles keyed by their full names, as etcd keys them. */
function byName(
  source: Source,
  bucket: 'authUsers' | 'authRoles',
  nameOf: (value: Uint8Array) => Buffer,
): BboltItem[] {
  const items = [...source.range(bucket)].map(({value}) => ({key: nameOf(value), value}));
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

function leases(source: Source): BboltItem[] {
  return [...source.range('lease')].map(({key, value}) => {
    const id = Buffer.from(key).readBigInt64BE(0);
    const {ttlSeconds, remainingTtlSeconds} = decodeSynodLease(value);
    return {key, value: encodeEtcdLease({id, ttlSeconds, remainingTtlSeconds})};
  });
}

/** Membership reads the members bucket through `range` only. */
function membership(source: Source): Membership {
  const reader = {range: (bucket: Bucket) => source.range(bucket)};
  return new Membership(reader as unknown as Backend);
}

function members(source: Source): BboltItem[] {
  const items = membership(source)
    .list()
    .map(m => ({
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

function removedMembers(source: Source): BboltItem[] {
  const items = membership(source)
    .removedIds()
    .map(id => ({key: Buffer.from(id.toString(16)), value: Buffer.from('removed')}));
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

/** consistent_index, finishedCompactRev, scheduledCompactRev: already in byte order. */
function meta(source: Source): BboltItem[] {
  const items: BboltItem[] = [];
  const index = source.get('meta', Buffer.from(META_CONSISTENT_INDEX));
  if (index !== undefined) items.push({key: Buffer.from(META_CONSISTENT_INDEX), value: index});
  const compaction = (synodKey: string, etcdKey: string): void => {
    const v = source.get('meta', Buffer.from(synodKey));
    if (v === undefined) return;
    const main = Number(Buffer.from(v).readBigUInt64BE(0));
    items.push({key: Buffer.from(etcdKey), value: etcdRevisionKey(main, 0, false)});
  };
  compaction(SYNOD_META_FINISHED_COMPACT, META_FINISHED_COMPACT);
  compaction(SYNOD_META_SCHEDULED_COMPACT, META_SCHEDULED_COMPACT);
  return items;
}
