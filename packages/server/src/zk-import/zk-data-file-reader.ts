import {JuteDecodeError, JuteReader} from '../zookeeper/jute-reader.js';
import type {ZkAclEntry} from '../zookeeper/znode-record.js';
import {FILE_FORMAT_VERSION, ZkDataFileError} from './zk-data-files.js';

/**
 * A jute reader over part of a file that turns every decode fault into a
 * {@link ZkDataFileError} at the file offset where it happened: what the snapshot and log
 * readers read every field through.
 */
export class FileReader {
  readonly jute: JuteReader;

  constructor(
    readonly file: string,
    private readonly bytes: Buffer,
    private readonly base: number,
  ) {
    this.jute = new JuteReader(bytes);
  }

  get offset(): number {
    return this.base + this.bytes.length - this.jute.remaining;
  }

  fail(problem: string, at = this.offset): never {
    throw new ZkDataFileError(this.file, at, problem);
  }

  /** Runs `read`, reporting a short or impossible field as truncated at its offset. */
  read<T>(what: string, read: (r: JuteReader) => T): T {
    const at = this.offset;
    try {
      return read(this.jute);
    } catch (error) {
      if (!(error instanceof JuteDecodeError)) throw error;
      const truncated = error.message.startsWith('record truncated');
      return this.fail(
        truncated
          ? `${what} is cut short (the file ends or the record is too short)`
          : `${what}: ${error.message}`,
        Math.max(at, this.offset),
      );
    }
  }

  zxid(what: string): number {
    const at = this.offset;
    const v = this.read(what, r => r.long());
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER))
      this.fail(`${what} ${v} is out of range`, at);
    return Number(v);
  }

  time(what: string): number {
    const at = this.offset;
    const v = this.read(what, r => r.long());
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail(`${what} ${v} is out of range`, at);
    }
    return Number(v);
  }

  path(what: string): string {
    const at = this.offset;
    const p = this.read(what, r => r.string());
    if (p === null) this.fail(`${what} is null`, at);
    return p;
  }

  acl(what: string): ZkAclEntry[] {
    // Each ACL entry takes at least 12 bytes: perms and two string lengths.
    const n = this.read(what, r => r.count(12));
    const out: ZkAclEntry[] = [];
    for (let i = 0; i < n; i++) {
      const perms = this.read(what, r => r.int());
      const scheme = this.path(`${what} scheme`);
      const id = this.path(`${what} id`);
      out.push({perms, scheme, id});
    }
    return out;
  }

  header(magic: number, name: string): bigint {
    const got = this.read('file header', r => r.int());
    if (got !== magic) {
      this.fail(
        `not a ZooKeeper ${name}: magic 0x${(got >>> 0).toString(16).padStart(8, '0')}, expected 0x${magic.toString(16)}`,
        0,
      );
    }
    const version = this.read('file header', r => r.int());
    if (version !== FILE_FORMAT_VERSION) {
      this.fail(`unsupported file format version ${version} (ZooKeeper 3.x writes 2)`, 4);
    }
    return this.read('file header', r => r.long());
  }
}
