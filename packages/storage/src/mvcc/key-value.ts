/**
 * A key's state at one revision, as the store returns it. Mapped to the wire's
 * `mvccpb.KeyValue` by the server (revisions become int64, lease stays a bigint).
 */
export interface KeyValue {
  readonly key: Uint8Array;
  /** Revision of the put that created this generation of the key. */
  readonly createRevision: number;
  /** Revision of the last change to the key. */
  readonly modRevision: number;
  /** Puts since creation; 1 on create, reset by delete. */
  readonly version: number;
  readonly value: Uint8Array;
  /** Attached lease id, 0n for none. */
  readonly lease: bigint;
}

/** A change to a key, as watchers see it. */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  /** For delete: only `key` and `modRevision` (the deletion revision) are set. */
  readonly kv: KeyValue;
  /** The key before this event, when the watcher asked for it and history still has it. */
  readonly prevKv?: KeyValue;
}

const EMPTY = new Uint8Array(0);

const TOMBSTONE = 1;
const HEAD_BYTES = 1 + 8 * 4 + 4;

/**
 * Backend record of one revision: flags (bit 0 = tombstone), create, mod, version (u64 BE),
 * lease (i64 BE), key length (u32 BE), key, value.
 */
export function encodeRecord(kv: KeyValue, tombstone: boolean): Buffer {
  const out = Buffer.allocUnsafe(HEAD_BYTES + kv.key.length + kv.value.length);
  out[0] = tombstone ? TOMBSTONE : 0;
  writeNum(out, 1, kv.createRevision);
  writeNum(out, 9, kv.modRevision);
  writeNum(out, 17, kv.version);
  out.writeBigInt64BE(kv.lease, 25);
  out.writeUInt32BE(kv.key.length, 33);
  out.set(kv.key, HEAD_BYTES);
  out.set(kv.value, HEAD_BYTES + kv.key.length);
  return out;
}

export function decodeRecord(buf: Uint8Array): {kv: KeyValue; tombstone: boolean} {
  const b: Buffer =
    buf instanceof Buffer
      ? (buf as Buffer)
      : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const keyLen = b.readUInt32BE(33);
  const key = b.subarray(HEAD_BYTES, HEAD_BYTES + keyLen);
  return {
    tombstone: ((b[0] as number) & TOMBSTONE) !== 0,
    kv: {
      key,
      createRevision: readNum(b, 1),
      modRevision: readNum(b, 9),
      version: readNum(b, 17),
      lease: b.readBigInt64BE(25),
      value: b.length > HEAD_BYTES + keyLen ? b.subarray(HEAD_BYTES + keyLen) : EMPTY,
    },
  };
}

function writeNum(b: Buffer, offset: number, n: number): void {
  b.writeUInt32BE(Math.floor(n / 0x100000000), offset);
  b.writeUInt32BE(n >>> 0, offset + 4);
}

function readNum(b: Buffer, offset: number): number {
  return b.readUInt32BE(offset) * 0x100000000 + b.readUInt32BE(offset + 4);
}
