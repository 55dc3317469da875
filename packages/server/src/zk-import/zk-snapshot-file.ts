import {OPEN_ACL, OPEN_ACL_REF, SNAPSHOT_MAGIC} from './zk-data-files.js';
import type {SnapshotContents, SnapshotNode, StatPersisted} from './zk-data-files.js';
import {JuteDecodeError} from '../zookeeper/jute-reader.js';
import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import {adler32} from './adler32.js';
import {FileReader} from './zk-data-file-reader.js';

/**
 * Reads a whole snapshot file, handing each node to `visit` in file order, and checks its
 * end marker and Adler-32 seal (and the digest's second seal when there is one).
 * `visit` may throw a `ZkDataFileError` of its own (a node without a parent).
 */
export function readSnapshot(
  file: string,
  bytes: Buffer,
  visit: (node: SnapshotNode, offset: number) => void,
): SnapshotContents {
  const f = new FileReader(file, bytes, 0);
  const dbid = f.header(SNAPSHOT_MAGIC, 'snapshot');
  const sessions = new Map<bigint, number>();
  for (let n = f.read('session count', r => r.count(12)); n > 0; n--) {
    const id = f.read('session', r => r.long());
    sessions.set(
      id,
      f.read('session', r => r.int()),
    );
  }
  const acls = new Map<bigint, ZkAclEntry[]>();
  for (let n = f.read('ACL cache size', r => r.count(12)); n > 0; n--) {
    const ref = f.read('ACL cache entry', r => r.long());
    acls.set(ref, f.acl('ACL cache entry'));
  }
  const r = f.jute;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  for (;;) {
    const at = f.offset;
    const path = f.path('node path');
    if (path === '/') break;
    // The hot loop of a large import: the fields are read directly, and only a fault goes
    // back over them to say which one.
    let node: SnapshotNode | undefined;
    try {
      const data = r.buffer();
      const aclRef = r.long();
      const czxid = r.long();
      const mzxid = r.long();
      const ctime = r.long();
      const mtime = r.long();
      const version = r.int();
      const cversion = r.int();
      const aversion = r.int();
      const ephemeralOwner = r.long();
      const pzxid = r.long();
      const acl = aclRef === OPEN_ACL_REF ? OPEN_ACL : acls.get(aclRef);
      if (
        acl !== undefined &&
        czxid >= 0n &&
        czxid <= max &&
        mzxid >= 0n &&
        mzxid <= max &&
        pzxid >= 0n &&
        pzxid <= max &&
        ctime >= -max &&
        ctime <= max &&
        mtime >= -max &&
        mtime <= max
      ) {
        const stat: StatPersisted = {
          czxid: Number(czxid),
          mzxid: Number(mzxid),
          ctime: Number(ctime),
          mtime: Number(mtime),
          version,
          cversion,
          aversion,
          ephemeralOwner,
          pzxid: Number(pzxid),
        };
        node = {path, data, acl, stat};
      }
    } catch (error) {
      if (!(error instanceof JuteDecodeError)) throw error;
    }
    if (node === undefined) {
      // Read the node again field by field for the exact fault and offset.
      const again = new FileReader(file, bytes.subarray(at), at);
      again.path('node path');
      again.read(`node ${path || '/'} data`, j => j.buffer());
      const aclRef = again.read(`node ${path || '/'} ACL`, j => j.long());
      const what = `node ${path || '/'} stat`;
      again.zxid(`${what} czxid`);
      again.zxid(`${what} mzxid`);
      again.time(`${what} ctime`);
      again.time(`${what} mtime`);
      for (let i = 0; i < 3; i++) again.read(what, j => j.int());
      again.read(what, j => j.long());
      again.zxid(`${what} pzxid`);
      return f.fail(
        `node ${path || '/'} names ACL ${aclRef}, which the ACL cache does not hold`,
        at,
      );
    }
    visit(node, at);
  }
  checkSeal(f, bytes);
  if (f.jute.remaining > 0) {
    // ZooKeeper 3.6+: the digest of the tree and a second seal.
    f.read('snapshot digest', r => r.long());
    const digestVersion = f.read('snapshot digest', r => r.int());
    if (digestVersion < 2) f.read('snapshot digest', r => r.string());
    else f.read('snapshot digest', r => r.long());
    checkSeal(f, bytes);
  }
  if (f.jute.remaining > 0) f.fail(`${f.jute.remaining} bytes after the snapshot's end`);
  return {dbid, sessions, acls};
}

function checkSeal(f: FileReader, bytes: Buffer): void {
  const at = f.offset;
  const expected = f.read('checksum', r => r.long());
  const marker = f.read('checksum', r => r.string());
  if (marker !== '/') f.fail(`the checksum is not followed by the end marker "/"`, at);
  const actual = BigInt(adler32(bytes.subarray(0, at)));
  if (expected !== actual) {
    f.fail(
      `Adler-32 checksum mismatch: the file says 0x${BigInt.asUintN(64, expected).toString(16)}, its bytes give 0x${actual.toString(16)}`,
      at,
    );
  }
}
