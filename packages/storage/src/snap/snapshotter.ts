import * as path from 'node:path';
import {ConfState} from '@synod/proto/raftpb';
import type {FileSystem} from '../fs/file-system.js';
import {NodeFileSystem} from '../fs/node-file-system.js';
import {crc32c} from '../wal/crc32c.js';

/** A state-machine snapshot with the raft position it was taken at. */
export interface SnapshotFile {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
  readonly data: Uint8Array;
}

const MAGIC = Buffer.from('SYNSNAP1');
/** magic(8) index(8) term(8) confLen(4) dataLen(8) ... conf data ... crc(4) */
const HEAD_BYTES = 36;
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

const snapName = (term: number, index: number): string =>
  `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;

/**
 * Snapshot files `<term>-<index>.snap` in one directory. Each is written to a `.tmp` file,
 * fsynced, renamed into place and the directory fsynced, so a crash leaves either the old
 * set or the new file complete. The content ends with a CRC-32C over everything before it;
 * a file that fails it is renamed `.broken` and the next older one is used.
 */
export class Snapshotter {
  private readonly fs: FileSystem;

  constructor(
    private readonly dir: string,
    fs?: FileSystem,
  ) {
    this.fs = fs ?? new NodeFileSystem();
    this.fs.mkdirp(dir);
  }

  /** Writes `snap` durably. */
  save(snap: SnapshotFile): void {
    const conf = ConfState.encode(snap.confState).finish();
    const body = new Uint8Array(HEAD_BYTES + conf.length + snap.data.length + 4);
    const view = new DataView(body.buffer);
    body.set(MAGIC, 0);
    view.setBigUint64(8, BigInt(snap.index), true);
    view.setBigUint64(16, BigInt(snap.term), true);
    view.setUint32(24, conf.length, true);
    view.setBigUint64(28, BigInt(snap.data.length), true);
    body.set(conf, HEAD_BYTES);
    body.set(snap.data, HEAD_BYTES + conf.length);
    view.setUint32(body.length - 4, crc32c(0, body.subarray(0, body.length - 4)), true);

    const name = snapName(snap.term, snap.index);
    const tmp = path.join(this.dir, `${name}.tmp`);
    const fh = this.fs.open(tmp, true);
    try {
      fh.write(body, 0);
      fh.sync();
    } finally {
      fh.close();
    }
    this.fs.rename(tmp, path.join(this.dir, name));
    this.fs.syncDir(this.dir);
  }

  /** Newest snapshot that passes its checksum, or undefined if there is none. */
  loadNewest(): SnapshotFile | undefined {
    for (const name of this.names().reverse()) {
      const file = path.join(this.dir, name);
      const snap = decode(this.fs.readFile(file));
      if (snap !== undefined) return snap;
      this.fs.rename(file, `${file}.broken`);
      this.fs.syncDir(this.dir);
    }
    return undefined;
  }

  /** Deletes all but the newest `keep` snapshot files, and leftover temporary files. */
  purge(keep: number): void {
    const names = this.names();
    const doomed = names.slice(0, Math.max(0, names.length - keep));
    for (const n of this.fs.list(this.dir)) if (n.endsWith('.snap.tmp')) doomed.push(n);
    for (const n of doomed) this.fs.unlink(path.join(this.dir, n));
    if (doomed.length > 0) this.fs.syncDir(this.dir);
  }

  /** Snapshot file names, oldest first (ordered by index, then term). */
  names(): string[] {
    const parsed = this.fs
      .list(this.dir)
      .map(n => NAME_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(m => ({name: m[0], term: parseInt(m[1] ?? '', 16), index: parseInt(m[2] ?? '', 16)}));
    parsed.sort((a, b) => a.index - b.index || a.term - b.term);
    return parsed.map(p => p.name);
  }
}

function decode(buf: Uint8Array): SnapshotFile | undefined {
  if (buf.length < HEAD_BYTES + 4) return undefined;
  if (!Buffer.from(buf.subarray(0, 8)).equals(MAGIC)) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const confLen = view.getUint32(24, true);
  const dataLen = Number(view.getBigUint64(28, true));
  if (HEAD_BYTES + confLen + dataLen + 4 !== buf.length) return undefined;
  if (crc32c(0, buf.subarray(0, buf.length - 4)) !== view.getUint32(buf.length - 4, true)) {
    return undefined;
  }
  return {
    index: Number(view.getBigUint64(8, true)),
    term: Number(view.getBigUint64(16, true)),
    confState: ConfState.decode(buf.subarray(HEAD_BYTES, HEAD_BYTES + confLen)),
    data: buf.slice(HEAD_BYTES + confLen, HEAD_BYTES + confLen + dataLen),
  };
}
