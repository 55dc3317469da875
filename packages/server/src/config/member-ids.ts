import {createHash} from 'node:crypto';

/**
 * Synod's member and cluster ids are below 2^53 so that the same value can be
 * a Raft node id (a JavaScript number inside the consensus core) and an etcd
 * member id (a uint64 on the etcd API). They are derived the way etcd derives
 * its ids — from the sorted peer URLs and the cluster token, and from the
 * sorted member ids — and then cut to 53 bits.
 */
const idMask = (1n << 53n) - 1n;

function idFromDigest(parts: readonly (string | Uint8Array)[]): number {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  const digest = hash.digest();
  const id = Number(digest.readBigUInt64BE(0) & idMask);
  // 0 means "no member" to Raft; a digest that lands there is astronomically
  // unlikely, but it must still give a usable id.
  return id === 0 ? 1 : id;
}

/**
 * A member's id from its peer URLs and the cluster token. `addedAtMs` is set
 * for members added to a running cluster, so that a member removed and added
 * back with the same URLs gets a new id, as in etcd.
 */
export function memberIdFor(
  peerUrls: readonly URL[],
  clusterToken: string,
  addedAtMs?: number,
): number {
  const urls = peerUrls.map(u => u.origin).sort();
  const parts: string[] = [...urls, clusterToken];
  if (addedAtMs !== undefined) parts.push(String(addedAtMs));
  return idFromDigest(parts);
}

/** A cluster's id from the ids of its founding members. */
export function clusterIdFor(memberIds: readonly number[]): number {
  const sorted = [...memberIds].sort((a, b) => a - b);
  const bytes = new Uint8Array(8 * sorted.length);
  const view = new DataView(bytes.buffer);
  sorted.forEach((id, i) => {
    view.setBigUint64(8 * i, BigInt(id));
  });
  return idFromDigest([bytes]);
}
