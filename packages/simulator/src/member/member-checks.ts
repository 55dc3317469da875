import type {SimMemberCluster} from './sim-member-cluster.js';

/** A put a client was told succeeded, with the revision it was told. */
export interface AckedPut {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

/**
 * Replicas at the same applied index must hold the same state: the same revision and the
 * same hash of every key revision (etcd's HashKV). Returns what differs, or undefined.
 */
export async function checkConverged(cluster: SimMemberCluster): Promise<string | undefined> {
  const seen: string[] = [];
  let first: string | undefined;
  for (const [i, core] of cluster.cores().entries()) {
    if (core === undefined) return `m${i + 1} is down after healing`;
    const {hash} = await core.store.hashKV(0);
    const state = `applied ${core.appliedIndex} rev ${core.store.rev()} hash ${hash}`;
    seen.push(`m${i + 1}: ${state}`);
    first ??= state;
    if (state !== first) return `replicas differ: ${seen.join('; ')}`;
  }
  return undefined;
}

/**
 * No acknowledged write may be lost: on every replica, the key a put wrote holds, at the
 * revision the put was acknowledged with, the value it wrote, written at that revision.
 */
export function checkAckedPuts(
  cluster: SimMemberCluster,
  acked: readonly AckedPut[],
): string | undefined {
  for (const [i, core] of cluster.cores().entries()) {
    if (core === undefined) continue;
    for (const put of acked) {
      let kv;
      try {
        kv = core.store.range(Buffer.from(put.key), undefined, {rev: put.revision}).kvs[0];
      } catch (error) {
        // A revision the replica never reached: the write is gone.
        return `m${i + 1} cannot read revision ${put.revision} of the acknowledged put ${put.key}=${put.value}: ${String(error)}`;
      }
      const value = kv === undefined ? undefined : Buffer.from(kv.value).toString('utf8');
      if (value !== put.value || kv?.modRevision !== put.revision) {
        return (
          `m${i + 1} lost the acknowledged put ${put.key}=${put.value} at revision ${put.revision}: ` +
          `it holds ${String(value)} written at ${String(kv?.modRevision)}`
        );
      }
    }
  }
  return undefined;
}

/**
 * Every request is applied once: clients put a value no other put writes, so a value at two
 * revisions of a key is one put applied twice (a proposal appended twice, say). Walks each
 * key's versions back from the newest on every replica. A put applied twice right after
 * itself changes no read, which is why linearizability alone misses most of them.
 */
export function checkAppliedOnce(
  cluster: SimMemberCluster,
  keys: readonly string[],
): string | undefined {
  for (const [i, core] of cluster.cores().entries()) {
    if (core === undefined) continue;
    for (const key of keys) {
      const writtenAt = new Map<string, number>();
      let rev = core.store.rev();
      while (rev > 0) {
        let kv;
        try {
          kv = core.store.range(Buffer.from(key), undefined, {rev}).kvs[0];
        } catch {
          // Compacted below this revision: nothing older to compare.
          break;
        }
        if (kv === undefined) break;
        const value = Buffer.from(kv.value).toString('utf8');
        const later = writtenAt.get(value);
        if (later !== undefined) {
          return `m${i + 1} applied the put ${key}=${value} twice: at revisions ${kv.modRevision} and ${later}`;
        }
        writtenAt.set(value, kv.modRevision);
        rev = kv.modRevision - 1;
      }
    }
  }
  return undefined;
}
