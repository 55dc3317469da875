import type {JuteReader} from './jute-reader.js';
import type {JuteWriter} from './jute-writer.js';
import type {ZkAclEntry, ZkStat} from './znode-record.js';

/**
 * The jute records shared by many ZooKeeper requests and replies: `Stat` (in its
 * wire order, which differs from the docs' order) and `ACL` (`perms`, then
 * `Id{scheme, id}`).
 */
export const ZkWire = {
  writeStat(w: JuteWriter, s: ZkStat): void {
    w.long(s.czxid)
      .long(s.mzxid)
      .long(s.ctime)
      .long(s.mtime)
      .int(s.version)
      .int(s.cversion)
      .int(s.aversion)
      .long(s.ephemeralOwner)
      .int(s.dataLength)
      .int(s.numChildren)
      .long(s.pzxid);
  },

  readAcls(r: JuteReader): ZkAclEntry[] {
    const out: ZkAclEntry[] = [];
    for (let n = r.count(12); n > 0; n--) {
      out.push({perms: r.int(), scheme: r.string() ?? '', id: r.string() ?? ''});
    }
    return out;
  },

  writeAcls(w: JuteWriter, acl: readonly ZkAclEntry[]): void {
    w.int(acl.length);
    for (const a of acl) w.int(a.perms).string(a.scheme).string(a.id);
  },

  /** `ReplyHeader{xid, zxid, err}`. */
  writeReplyHeader(w: JuteWriter, xid: number, zxid: number | bigint, err: number): void {
    w.int(xid).long(zxid).int(err);
  },
} as const;
