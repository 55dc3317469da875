import {Role, User} from '@synod/proto';
import type {Backend, BboltBucket, BboltReader} from '@synod/storage';

import {authBucketKey} from '../auth/auth-bucket-key.js';
import {EtcdRevisionConverter} from './etcd-revision-converter.js';
import type {EtcdBucket} from './etcd-schema.js';
import {
  decodeEtcdLease,
  encodeSynodLease,
  CLUSTER_DOWNGRADE,
  ETCD_BUCKETS,
  META_CONF_STATE,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
  META_TERM,
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
          if (k === META_TERM || k === META_CONF_STATE) {
            // etcd 3.5's raft term and membership: the old cluster's log, which a restore
            // leaves, as it leaves consistent_index. Checked all the same.
            const problem = k === META_TERM ? checkU64(value) : checkConfState(value);
            if (problem !== undefined) fail(key, problem);
            continue;
          }
          const synodKey =
            k === META_SCHEDULED_COMPACT
              ? SYNOD_META_SCHEDULED_COMPACT
              : k === META_FINISHED_COMPACT
                ? SYNOD_META_FINISHED_COMPACT
                : undefined;
          // consistent_index, and what a newer etcd adds (3.6's storageVersion).
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
      case 'cluster':
        // The old cluster's version and (etcd 3.5) downgrade state: a restore starts a new
        // cluster at Synod's version. A downgrade record is checked all the same.
        for (const {key, value} of values(bucket, fail)) {
          if (key.toString('latin1') !== CLUSTER_DOWNGRADE) continue;
          const problem = checkDowngrade(value);
          if (problem !== undefined) fail(key, problem);
        }
        break;
      case 'members':
      case 'members_removed':
        // The old cluster's membership: a restore replaces it. Read through all the same, so
        // that a damaged page anywhere in the file is found.
        readThrough(bucket);
        break;
    }
  }
  await backend.commit();
  return result;
}

/** etcd 3.5's `term`: a u64 BE. */
function checkU64(value: Buffer): string | undefined {
  return value.length === 8 ? undefined : `a raft term is 8 bytes, not ${value.length}`;
}

/** etcd 3.5's `confState`: Go's JSON of raftpb.ConfState, voters a list of member ids. */
function checkConfState(value: Buffer): string | undefined {
  const json = parseJson(value);
  if (typeof json === 'string') return `not a raftpb.ConfState in JSON: ${json}`;
  const voters = (json as {voters?: unknown}).voters;
  if (voters !== undefined && !Array.isArray(voters)) {
    return 'not a raftpb.ConfState in JSON: voters is not a list';
  }
  return undefined;
}

/** etcd 3.5's `downgrade`: JSON {"target-version": string, "enabled": bool}. */
function checkDowngrade(value: Buffer): string | undefined {
  const json = parseJson(value);
  if (typeof json === 'string') return `not etcd's downgrade info in JSON: ${json}`;
  const enabled = (json as {enabled?: unknown}).enabled;
  if (enabled !== undefined && typeof enabled !== 'boolean') {
    return "not etcd's downgrade info in JSON: enabled is not true or false";
  }
  return undefined;
}

/** A JSON object, or why the bytes are not one. */
function parseJson(value: Buffer): object | string {
  try {
    const json: unknown = JSON.parse(value.toString('utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not an object';
    return json;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
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
