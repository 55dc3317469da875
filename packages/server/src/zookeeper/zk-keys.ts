/**
 * Where ZooKeeper's tree lives in the MVCC keyspace. Everything is under the
 * reserved, printable prefix `__synod/zk/`, so `etcdctl get --prefix __synod/zk/n/`
 * and any etcd watch can read it:
 *
 * - `__synod/zk/n/<depth><path>`: one key per znode (its data, versions, times,
 *   ACL, ephemeral owner; see {@link ZnodeRecord}). Depth first, so the children
 *   of `/a` are exactly the keys with prefix `__synod/zk/n/2/a/`, one range read.
 *   The root is `__synod/zk/n/0/`; `/a/b` is `__synod/zk/n/2/a/b`. An ephemeral's
 *   key carries its session's lease.
 * - `__synod/zk/c<path>`: a znode's child counters (cversion, pzxid, numChildren),
 *   absent until its first child change: a create or delete below a node rewrites
 *   this small key, never the parent's data.
 * - `__synod/zk/s/<session id, 16 hex digits>`: a session (its timeout), on the
 *   session's lease.
 */
export const ZkKeys = {
  prefix: '__synod/zk/',
  nodePrefix: '__synod/zk/n/',
  metaPrefix: '__synod/zk/c',
  sessionPrefix: '__synod/zk/s/',

  depth(path: string): number {
    if (path === '/') return 0;
    let d = 0;
    for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) d++;
    return d;
  },

  node(path: string): Buffer {
    return Buffer.from(`${ZkKeys.nodePrefix}${ZkKeys.depth(path)}${path}`, 'utf8');
  },

  /** The range [start, end) holding the keys of `path`'s children. */
  children(path: string): {start: Buffer; end: Buffer} {
    const base = path === '/' ? '/' : `${path}/`;
    const start = Buffer.from(`${ZkKeys.nodePrefix}${ZkKeys.depth(path) + 1}${base}`, 'utf8');
    return {start, end: prefixEnd(start)};
  },

  /** The range of keys of the nodes `depth` levels below the root under `path`. */
  atDepth(path: string, depth: number): {start: Buffer; end: Buffer} {
    const base = path === '/' ? '/' : `${path}/`;
    const start = Buffer.from(`${ZkKeys.nodePrefix}${depth}${base}`, 'utf8');
    return {start, end: prefixEnd(start)};
  },

  meta(path: string): Buffer {
    return Buffer.from(`${ZkKeys.metaPrefix}${path}`, 'utf8');
  },

  session(id: bigint): Buffer {
    return Buffer.from(
      `${ZkKeys.sessionPrefix}${BigInt.asUintN(64, id).toString(16).padStart(16, '0')}`,
    );
  },

  /** The znode path of a node key, or undefined for any other key. */
  pathOfNode(key: Uint8Array): string | undefined {
    const s = Buffer.from(key).toString('utf8');
    if (!s.startsWith(ZkKeys.nodePrefix)) return undefined;
    const slash = s.indexOf('/', ZkKeys.nodePrefix.length);
    return slash < 0 ? undefined : s.slice(slash);
  },
} as const;

/** The end of the range of keys that start with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
