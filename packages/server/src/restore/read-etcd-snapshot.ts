import {Role, User} from '@synod/proto';
import type {Backend, BboltBucket, BboltReader} from '@synod/storage';

import {authBucketKey} from '../auth/auth-bucket-key.js';
import {EtcdRevisionConverter} from './etcd-revision-converter.js';
import type {EtcdBucket} from './etcd-schema.js';
import {
  decodeEtcdLease,
  encodeSynodLease,
  ETCD_BUCKETS,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
  parseEtcdRevisionKey,
  SYNOD_META_FINISHED_COMPACT,
  SYNOD_META_SCHEDULED_COMPACT,
  u64be,
} from './etcd-schema.js';

/** What {@link readEtcdSnapshot} copied into Synod's backend. */
export interface EtcdImportResult {
  /** The highest revision in the `key` bucket (0 for none). */
  readonly revision: number;
  /** Revisions (puts and deletions) copied. */
  readonly revisions: number;
  /** The compaction revision, -1 when the store was never compacted. */
  readonly compactRevision: number;
  readonly leases: number;
  readonly users: number;
  readonly roles: number;
}

/** Writes are committed in batches of this many, to bound what the backend buffers. */
const COMMIT_EVERY = 10_000;

/**
 * Copies an etcd 3.4 / 3.5 backend (a bbolt file, the database of an `etcdctl snapshot
 * save` file) into Synod's `backend`, converting each bucket to Synod's encoding: every
 * revision of every key (puts and deletions, with create and mod revision, version, value
 * and lease), the compaction revisions, leases (TTL and checkpointed remaining TTL),
 * alarms, the auth flag and revision, users and roles. Members, removed members and the
 * cluster version are not copied, nor the consistent index, raft term and conf state of
 * etcd 3.5: a restore starts a new cluster with its own membership and log.
 *
 * Refuses a file with a bucket etcd does not have, or a record that is not etcd's, with
 * one line naming the file, the bucket and key, and the fault; the file's structure is
 * checked by the reader as it goes.
 */
export async function readEtcdSnapshot(
  reader: BboltReader,
  backend: Backend,
): Promise<EtcdImportResult> {
  const result = {revision: 0, revisions: 0, compactRevision: -1, leases: 0, users: 0, roles: 0};
  let pending = 0;
  const put = async (
    bucket: Parameters<Backend['put']>[0],
    key: Uint8Array,
    value: Uint8Array,
  ): Promise<void> => {
    backend.put(bucket, key, value);
    if (++pending % COMMIT_EVERY === 0) await backend.commit();
  };
  // Every bucket name first: a file with one etcd does not write is refused before
  // anything is converted.
  const known = new Set<string>(ETCD_BUCKETS);
  const tops: {name: string; bucket: BboltBucket}[] = [];
  for (const top of reader.root().entries()) {
    const name = top.key.toString('latin1');
    if (top.bucket === undefined || !known.has(name)) {
      throw new Error(
        `${reader.path}: unknown bucket ${JSON.stringify(name)}: an etcd 3.4 or 3.5 backend holds only ${ETCD_BUCKETS.join(', ')}`,
      );
    }
    tops.push({name, bucket: top.bucket});
  }
  for (const {name, bucket} of tops) {
    const fail: (key: Uint8Array, problem: string) => never = (key, problem) => {
      throw new Error(
        `${reader.path}: bucket ${name}, key 0x${Buffer.from(key).toString('hex')}: ${problem}`,
      );
    };
    switch (name as EtcdBucket) {
      case 'key': {
        // Everything so far on disk first: the revisions go in bulk, past the Map of
        // buffered writes.
        await backend.commit();
        const converter = new EtcdRevisionConverter(fail);
        backend.loadSync(append => {
          converter.convert(bucket, (key, record) => {
            append('key', key, record);
          });
        });
        result.revision = converter.revision;
        result.revisions = converter.revisions;
        break;
      }
      case 'meta':
        for (const {key, value} of values(bucket, fail)) {
          const k = key.toString('latin1');
          const synodKey =
            k === META_SCHEDULED_COMPACT
              ? SYNOD_META_SCHEDULED_COMPACT
              : k === META_FINISHED_COMPACT
                ? SYNOD_META_FINISHED_COMPACT
                : undefined;
          // consistent_index, term, confState: the old cluster's log, which a restore leaves.
          if (synodKey === undefined) continue;
          const rev = parseEtcdRevisionKey(value);
          if (typeof rev === 'string') fail(key, `value: ${rev}`);
          await put('meta', Buffer.from(synodKey), u64be(rev.main));
          if (synodKey === SYNOD_META_SCHEDULED_COMPACT) result.compactRevision = rev.main;
        }
        break;
      case 'lease':
        for (const {key, value} of values(bucket, fail)) {
          if (key.length !== 8) fail(key, 'a lease key is 8 bytes, the lease id');
          const lease = decodeEtcdLease(value);
          if (typeof lease === 'string') fail(key, `value is not a leasepb.Lease: ${lease}`);
          if (lease.ttlSeconds < 1n || lease.ttlSeconds > BigInt(Number.MAX_SAFE_INTEGER)) {
            fail(key, `lease TTL ${lease.ttlSeconds} is out of range`);
          }
          const remaining = lease.remainingTtlSeconds < 0n ? 0n : lease.remainingTtlSeconds;
          await put('lease', key, encodeSynodLease(Number(lease.ttlSeconds), Number(remaining)));
          result.leases++;
        }
        break;
      case 'authUsers':
        for (const {key, value} of values(bucket, fail)) {
          const user = decodeAuth(
            () => User.decode(value),
            m => fail(key, `not an authpb.User: ${m}`),
          );
          if (!user.name.equals(key)) fail(key, 'the user record names another user');
          await put('authUsers', authBucketKey(user.name), value);
          result.users++;
        }
        break;
      case 'authRoles':
        for (const {key, value} of values(bucket, fail)) {
          const role = decodeAuth(
            () => Role.decode(value),
            m => fail(key, `not an authpb.Role: ${m}`),
          );
          if (!role.name.equals(key)) fail(key, 'the role record names another role');
          await put('authRoles', authBucketKey(role.name), value);
          result.roles++;
        }
        break;
      case 'auth':
      case 'alarm':
        // Synod keeps these as etcd does: the same keys and values.
        for (const {key, value} of values(bucket, fail))
          await put(name as 'auth' | 'alarm', key, value);
        break;
      case 'members':
      case 'members_removed':
      case 'cluster':
        // The old cluster's membership: a restore replaces it. Read through all the same, so
        // that a damaged page anywhere in the file is found.
        readThrough(bucket);
        break;
    }
  }
  await backend.commit();
  return result;
}

/** Reads every entry of `bucket`, for the checks the reader makes on the way; counts them. */
function readThrough(bucket: BboltBucket): number {
  let entries = 0;
  for (const e of bucket.entries()) if (e.key.length > 0) entries++;
  return entries;
}

/** The plain entries of a top-level bucket; etcd nests no buckets inside them. */
function* values(
  bucket: BboltBucket,
  fail: (key: Uint8Array, problem: string) => never,
): Generator<{key: Buffer; value: Buffer}> {
  for (const e of bucket.entries()) {
    if (e.bucket !== undefined) fail(e.key, 'a nested bucket, which etcd does not write');
    yield {key: e.key, value: e.value};
  }
}

function decodeAuth<T>(decode: () => T, fail: (message: string) => never): T {
  try {
    return decode();
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}
