import {ZooKeeperClient} from './zookeeper-client.js';
import type {Acl, Stat} from './zookeeper-jute.js';

/**
 * A listing of every znode a ZooKeeper server (ZooKeeper's or Synod's ZooKeeper port) serves,
 * one line per node in path order: path, data, ACL, version, cversion, aversion, numChildren,
 * whether it is ephemeral, ctime, mtime, and czxid, mzxid, pzxid as their rank among the zxids
 * of the listing (`z1` the oldest, 0 as 0). Two servers holding the same tree give the same
 * listing whatever their zxids are, so a migration is verified with `diff` (`npm run
 * zk:listing`, tools/zk-listing.ts). A node the connection may not read prints as
 * `(no read access)`: authenticate as the super user to list everything.
 */
/** Where to list from, and the `addauth`s to make first. */
export interface ListingOptions {
  readonly host: string;
  readonly port: number;
  /** `scheme:credentials`, e.g. `digest:super:secret`. */
  readonly auth?: readonly string[];
}

interface Row {
  readonly path: string;
  readonly text: string;
  readonly stat?: Stat;
}

/** Lists the whole tree: one line per node, zxids as ranks. */
export async function zkListing(options: ListingOptions): Promise<string[]> {
  const zk = await ZooKeeperClient.connect({
    host: options.host,
    port: options.port,
    replyTimeoutMs: 10_000,
  });
  try {
    for (const a of options.auth ?? []) {
      const colon = a.indexOf(':');
      const reply = await zk.auth(a.slice(0, colon), a.slice(colon + 1));
      if (reply.kind !== 'reply' || reply.err !== 0) throw new Error(`addauth ${a} failed`);
    }
    const rows: Row[] = [];
    const queue = ['/'];
    for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
      const data = await zk.getData(path);
      if (data.kind !== 'reply') throw new Error(`getData ${path}: no reply`);
      if (data.err !== 0 || data.value === undefined) {
        rows.push({path, text: data.err === -102 ? '(no read access)' : `error ${data.err}`});
        continue;
      }
      const acl = await zk.getACL(path);
      const children = await zk.getChildren(path);
      const names = children.kind === 'reply' && children.value ? children.value.children : [];
      for (const name of [...names].sort())
        queue.push(path === '/' ? `/${name}` : `${path}/${name}`);
      const s = data.value.stat;
      const fields = [
        `data=${show(data.value.data)}`,
        `acl=${acl.kind === 'reply' && acl.value ? showAcl(acl.value.acl) : `error ${acl.kind === 'reply' ? acl.err : acl.kind}`}`,
        `version=${s.version}`,
        `cversion=${s.cversion}`,
        `aversion=${s.aversion}`,
        `numChildren=${s.numChildren}`,
        `ephemeralOwner=${s.ephemeralOwner === 0n ? '0' : 'session'}`,
        `ctime=${s.ctime}`,
        `mtime=${s.mtime}`,
      ];
      rows.push({path, text: fields.join(' '), stat: s});
    }
    const zxids = [
      ...new Set(rows.flatMap(r => (r.stat ? [r.stat.czxid, r.stat.mzxid, r.stat.pzxid] : []))),
    ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const rank = (z: bigint): string => (z === 0n ? '0' : `z${zxids.indexOf(z) + 1}`);
    return rows
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map(r =>
        r.stat === undefined
          ? `${r.path} ${r.text}`
          : `${r.path} ${r.text} czxid=${rank(r.stat.czxid)} mzxid=${rank(r.stat.mzxid)} pzxid=${rank(r.stat.pzxid)}`,
      );
  } finally {
    await zk.close();
  }
}

function show(data: Buffer | null): string {
  if (data === null) return 'null';
  const text = data.toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${data.toString('hex')}`;
}

function showAcl(acl: readonly Acl[]): string {
  return `[${acl.map(a => `${a.scheme}:${a.id}:${a.perms}`).join(',')}]`;
}
