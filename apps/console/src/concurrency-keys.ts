import {displayText} from './bytes.js';

/** A key as the console lists it: its bytes and the metadata that places it in line. */
export interface ContenderKey {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  /** The lease id, as the gateway gives it: a decimal string. */
  readonly lease: string;
}

/** One lock or election: who is first in line, and who waits. */
export interface Contest {
  /** The lock's or election's name: the key before `/<lease in hex>`. */
  readonly name: string;
  /** The holder of the lock, or the leader of the election: the oldest key by create revision. */
  readonly owner: ContenderKey;
  /** The others, oldest first: the order in which they will own it. */
  readonly waiting: readonly ContenderKey[];
}

/**
 * The locks and elections among `keys`, found by the key layout of etcd's `concurrency`
 * package, which `etcdctl lock`, `etcdctl elect`, etcd's Lock and Election services and
 * Synod's recipes all use: each contender writes `<name>/<its lease id in hex>` under that
 * lease, and the contender whose key has the lowest create revision holds the lock or leads
 * the election (an election's value is the leader's proposal). A key counts only when the
 * hex after its last `/` is exactly the lease it is attached to.
 */
export function findContests(keys: readonly ContenderKey[]): Contest[] {
  const byName = new Map<string, ContenderKey[]>();
  for (const kv of keys) {
    if (kv.lease === '' || kv.lease === '0') continue;
    const text = displayText(kv.key);
    const cut = text.lastIndexOf('/');
    if (cut <= 0) continue;
    const suffix = text.slice(cut + 1);
    if (!/^[0-9a-f]+$/.test(suffix) || BigInt(`0x${suffix}`) !== BigInt(kv.lease)) continue;
    const name = text.slice(0, cut);
    const list = byName.get(name) ?? [];
    list.push(kv);
    byName.set(name, list);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, list]) => {
      const [owner, ...waiting] = [...list].sort((a, b) => a.createRevision - b.createRevision);
      return {name, owner: owner as ContenderKey, waiting};
    });
}
