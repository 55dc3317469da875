import {closeSync, ftruncateSync, openSync, writeSync} from 'node:fs';

import {ZkProtocol} from '@synod/proto';

import {JuteWriter} from '../zookeeper/jute-writer.js';
import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import {adler32} from './adler32.js';
import type {StatPersisted, TxnBody, TxnHeader} from './zk-data-files.js';
import {FILE_FORMAT_VERSION, SNAPSHOT_MAGIC, TXNLOG_MAGIC} from './zk-data-files.js';

/**
 * @internal Writes ZooKeeper 3.8's snapshot and transaction-log formats (as described in
 * `zk-data-files.ts`), for the import benchmark and tests, which need ZooKeeper data dirs far
 * larger than driving a real ZooKeeper could make in test time. The real ZooKeeper loads what
 * this writes in `zk-import-writer.test.ts`.
 */

/** A node to write: a snapshot's node with its ACL as a reference into the ACL cache. */
export interface NodeToWrite {
  /** `""` for the root, then `/a`, ...: parents before children. */
  readonly path: string;
  readonly data: Uint8Array | null;
  /** -1n for world:anyone:cdrwa, else a key of the ACL cache. */
  readonly aclRef: bigint;
  readonly stat: StatPersisted;
}

/** Writes bytes to a file in large chunks, keeping the running Adler-32 of all of them. */
class ChecksummedFile {
  private readonly fd: number;
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  private checksum = 1;
  private written = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }

  push(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const bytes = Buffer.concat(this.chunks, this.pendingBytes);
    this.checksum = adler32(bytes, this.checksum);
    writeSync(this.fd, bytes);
    this.written += bytes.length;
    this.chunks = [];
    this.pendingBytes = 0;
  }

  /** `SnapStream.sealStream`: the Adler-32 of every byte so far, then `"/"`. */
  seal(): void {
    this.flush();
    this.push(new JuteWriter(16).long(BigInt(this.checksum)).string('/').bytes());
  }

  close(padToBytes = 0): void {
    this.flush();
    if (padToBytes > this.written) ftruncateSync(this.fd, padToBytes);
    closeSync(this.fd);
  }
}

/** Writes `snapshot.<zxid>` content: sessions, ACL cache, nodes, seal, empty digest, seal. */
export function writeZkSnapshot(
  file: string,
  contents: {
    readonly sessions?: ReadonlyMap<bigint, number>;
    readonly acls?: ReadonlyMap<bigint, readonly ZkAclEntry[]>;
    readonly nodes: Iterable<NodeToWrite>;
  },
): void {
  const out = new ChecksummedFile(file);
  try {
    const head = new JuteWriter(256).int(SNAPSHOT_MAGIC).int(FILE_FORMAT_VERSION).long(-1n);
    const sessions = contents.sessions ?? new Map<bigint, number>();
    head.int(sessions.size);
    for (const [id, timeoutMs] of sessions) head.long(id).int(timeoutMs);
    const acls = contents.acls ?? new Map<bigint, readonly ZkAclEntry[]>();
    head.int(acls.size);
    for (const [ref, acl] of acls) {
      head.long(ref);
      writeAcl(head, acl);
    }
    out.push(head.bytes());
    for (const n of contents.nodes) {
      const s = n.stat;
      const w = new JuteWriter(96 + n.path.length + (n.data?.length ?? 0));
      w.string(n.path)
        .buffer(n.data)
        .long(n.aclRef)
        .long(s.czxid)
        .long(s.mzxid)
        .long(s.ctime)
        .long(s.mtime)
        .int(s.version)
        .int(s.cversion)
        .int(s.aversion)
        .long(s.ephemeralOwner)
        .long(s.pzxid);
      out.push(w.bytes());
    }
    out.push(new JuteWriter(8).string('/').bytes());
    out.seal();
    // ZooKeeper 3.6+ with digests on: an empty ZxidDigest (zxid 0: "no digest"), sealed again.
    out.push(new JuteWriter(24).long(0n).int(2).long(0n).bytes());
    out.seal();
  } finally {
    out.close();
  }
}

/**
 * Writes `log.<zxid>` content: the header, each record (Adler-32, length, txn, 'B'), then
 * zeros up to `preallocateBytes`, as ZooKeeper preallocates its logs.
 */
export function writeZkTxnLog(
  file: string,
  records: Iterable<{readonly header: TxnHeader; readonly body: TxnBody}>,
  preallocateBytes = 64 * 1024,
): void {
  const out = new ChecksummedFile(file);
  try {
    out.push(new JuteWriter(16).int(TXNLOG_MAGIC).int(FILE_FORMAT_VERSION).long(0n).bytes());
    for (const {header, body} of records) {
      const txn = new JuteWriter(128);
      txn
        .long(header.clientId)
        .int(header.cxid)
        .long(header.zxid)
        .long(header.timeMs)
        .int(header.type);
      encodeBody(txn, header.type, body);
      const bytes = txn.bytes();
      out.push(
        new JuteWriter(12)
          .long(BigInt(adler32(bytes)))
          .int(bytes.length)
          .bytes(),
      );
      out.push(bytes);
      out.push(END_OF_RECORD);
    }
  } finally {
    out.close(preallocateBytes);
  }
}

const END_OF_RECORD = Buffer.from('B');

function writeAcl(w: JuteWriter, acl: readonly ZkAclEntry[]): void {
  w.int(acl.length);
  for (const a of acl) w.int(a.perms).string(a.scheme).string(a.id);
}

const op = ZkProtocol.op;

function encodeBody(w: JuteWriter, type: number, body: TxnBody): void {
  switch (body.kind) {
    case 'create':
      w.string(body.path).buffer(body.data);
      writeAcl(w, body.acl);
      if (type === op.createTTL) {
        const ttl = BigInt.asUintN(64, body.ownerOverride ?? 0n) & 0x000000ffffffffffn;
        w.int(body.parentCVersion).long(ttl);
      } else if (type === op.createContainer) {
        w.int(body.parentCVersion);
      } else {
        w.bool(body.ephemeral).int(body.parentCVersion);
      }
      return;
    case 'delete':
      w.string(body.path);
      return;
    case 'setData':
      w.string(body.path).buffer(body.data).int(body.version);
      return;
    case 'setACL':
      w.string(body.path);
      writeAcl(w, body.acl);
      w.int(body.version);
      return;
    case 'error':
      w.int(body.err);
      return;
    case 'check':
      throw new Error('a check is written inside a multi only, with its path and version');
    case 'createSession':
      w.int(body.timeoutMs);
      return;
    case 'closeSession':
      w.strings(body.paths ?? []);
      return;
    case 'multi':
      w.int(body.ops.length);
      for (const o of body.ops) {
        const sub = new JuteWriter(64);
        encodeBody(sub, o.type, o.body);
        w.int(o.type).buffer(sub.bytes());
      }
      return;
  }
}
