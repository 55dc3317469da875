/**
 * ZooKeeper's jute encoding, as its 3.8 server reads and writes it: big-endian ints and
 * longs, one-byte booleans, buffers and strings as an int length (-1 for null) followed by
 * the bytes, vectors as an int count followed by the elements, records as their fields in
 * declaration order. Frames on the wire are a 4-byte length followed by the record bytes.
 *
 * Example: a `GetDataRequest` for `/a` with a watch is
 * `new JuteWriter().int(xid).int(OpCode.getData).string('/a').bool(true).frame()`.
 */

import {ZkErrorCode, ZkProtocol} from '@synod/proto';

/** Request types (`ZooDefs.OpCode`). */
export const OpCode = ZkProtocol.op;

/** Error codes a reply header carries (`KeeperException.Code`), by name. */
export const ErrorCode = ZkErrorCode;

const errorNames = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

/** `noNode(-101)` for -101: the name a reader recognises, and the number to look up. */
export function errorName(code: number): string {
  return `${errorNames.get(code) ?? 'unknown'}(${code})`;
}

/** Watch event types (`Watcher.Event.EventType`). */
export const EventType = ZkProtocol.eventType;

const eventNames = new Map<number, string>(
  Object.entries(EventType).map(([name, code]) => [code, name]),
);

/** The name of a watch event type, or `event(<n>)` for one ZooKeeper does not define. */
export function eventName(type: number): string {
  return eventNames.get(type) ?? `event(${type})`;
}

/** `CreateMode` flags of create requests. */
export const CreateMode = ZkProtocol.createMode;

/** `addWatch` modes. */
export const AddWatchMode = ZkProtocol.addWatchMode;

/** `WatcherType` of removeWatches and checkWatches. */
export const WatcherType = ZkProtocol.watcherType;

/** The `Stat` record, fields in wire order. */
export interface Stat {
  readonly czxid: bigint;
  readonly mzxid: bigint;
  readonly ctime: bigint;
  readonly mtime: bigint;
  readonly version: number;
  readonly cversion: number;
  readonly aversion: number;
  readonly ephemeralOwner: bigint;
  readonly dataLength: number;
  readonly numChildren: number;
  readonly pzxid: bigint;
}

/** One ACL entry: permission bits and an id `scheme:id`. */
export interface Acl {
  readonly perms: number;
  readonly scheme: string;
  readonly id: string;
}

/** `ZooDefs.Ids.OPEN_ACL_UNSAFE`: everyone may do everything. */
export const openAcl: readonly Acl[] = [{perms: 31, scheme: 'world', id: 'anyone'}];

/** Appends jute values to a growing buffer. */
export class JuteWriter {
  private readonly chunks: Buffer[] = [];

  int(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.chunks.push(b);
    return this;
  }

  long(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    this.chunks.push(b);
    return this;
  }

  bool(value: boolean): this {
    this.chunks.push(Buffer.from([value ? 1 : 0]));
    return this;
  }

  buffer(value: Buffer | null): this {
    if (value === null) return this.int(-1);
    this.int(value.length);
    this.chunks.push(value);
    return this;
  }

  string(value: string | null): this {
    return this.buffer(value === null ? null : Buffer.from(value, 'utf8'));
  }

  strings(values: readonly string[]): this {
    this.int(values.length);
    for (const value of values) this.string(value);
    return this;
  }

  acls(values: readonly Acl[]): this {
    this.int(values.length);
    for (const acl of values) this.int(acl.perms).string(acl.scheme).string(acl.id);
    return this;
  }

  /** Bytes written by another writer, as they are. */
  raw(bytes: Buffer): this {
    this.chunks.push(bytes);
    return this;
  }

  /** The record's bytes, without a length prefix. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The record as a frame: its length, then its bytes. */
  frame(): Buffer {
    const body = this.bytes();
    const length = Buffer.alloc(4);
    length.writeInt32BE(body.length);
    return Buffer.concat([length, body]);
  }
}

/** Reads jute values from one frame; reading past its end throws. */
export class JuteReader {
  private offset = 0;

  constructor(private readonly data: Buffer) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private take(count: number): Buffer {
    if (count < 0 || this.offset + count > this.data.length) {
      throw new RangeError(
        `jute record ends at byte ${this.data.length}, read of ${count} at ${this.offset}`,
      );
    }
    const slice = this.data.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }

  int(): number {
    return this.take(4).readInt32BE();
  }

  long(): bigint {
    return this.take(8).readBigInt64BE();
  }

  bool(): boolean {
    return this.take(1)[0] !== 0;
  }

  buffer(): Buffer | null {
    const length = this.int();
    return length < 0 ? null : Buffer.from(this.take(length));
  }

  string(): string | null {
    return this.buffer()?.toString('utf8') ?? null;
  }

  strings(): string[] {
    const count = this.int();
    return Array.from({length: Math.max(count, 0)}, () => this.string() ?? '');
  }

  acls(): Acl[] {
    const count = this.int();
    return Array.from({length: Math.max(count, 0)}, () => ({
      perms: this.int(),
      scheme: this.string() ?? '',
      id: this.string() ?? '',
    }));
  }

  /** Every byte not read yet. */
  rest(): Buffer {
    return Buffer.from(this.take(this.remaining));
  }

  stat(): Stat {
    return {
      czxid: this.long(),
      mzxid: this.long(),
      ctime: this.long(),
      mtime: this.long(),
      version: this.int(),
      cversion: this.int(),
      aversion: this.int(),
      ephemeralOwner: this.long(),
      dataLength: this.int(),
      numChildren: this.int(),
      pzxid: this.long(),
    };
  }
}
