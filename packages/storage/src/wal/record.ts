import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {crc32c} from './crc32c.js';

/**
 * Kinds of WAL records. Zero is reserved: a zero record header marks the end of the data in
 * a preallocated (zero-filled) segment.
 */
export enum RecordType {
  /** Opaque bytes the WAL was created with (member and cluster ids); first in each segment. */
  Metadata = 1,
  /** One raft entry (see {@link RecordEncoder.appendEntry} for the payload layout). */
  Entry = 2,
  /** A raft `HardState`, protobuf-encoded. */
  HardState = 3,
  /** Index and term of a snapshot (two little-endian u64). */
  Snapshot = 4,
  /** The rolling CRC at the end of the previous segment; first record of every segment. */
  Crc = 5,
}

const RECORD_TYPES: readonly RecordType[] = [
  RecordType.Metadata,
  RecordType.Entry,
  RecordType.HardState,
  RecordType.Snapshot,
  RecordType.Crc,
];

/** Bytes before the payload: an 8-byte head (length, type, padding) and a 4-byte CRC. */
export const RECORD_HEADER_BYTES = 12;
/** Largest payload accepted; a length above it is treated as damage, never allocated. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** Frame size of a payload: header + payload, padded to 8 bytes. */
export function frameBytes(payloadBytes: number): number {
  return (RECORD_HEADER_BYTES + payloadBytes + 7) & ~7;
}

/**
 * Appends records into one buffer with chained CRCs.
 *
 * Frame layout (8-byte aligned, so the 8-byte head never straddles a 512-byte sector and
 * cannot be torn on a disk that writes sectors atomically):
 *
 * ```
 * 0         4      5     6     7   8         12            12+len   align8
 * | len u32 | type | pad | end | 0 | crc u32 | payload ... | zeros |
 * ```
 *
 * `end` is 1 on the last record of a batch. Replay applies a batch only when it has read
 * that record, which makes each batch all-or-nothing even when a crash tears it between two
 * records.
 *
 * `crc` is CRC-32C over the 8-byte head and the payload, seeded with the previous record's
 * `crc`, so a record is valid only in its place in the chain. A {@link RecordType.Crc}
 * record is seeded with 0 and carries the chain value in its payload.
 */
export class RecordEncoder {
  /** Frames written so far occupy `buf[0, len)`; grown by doubling. */
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  /**
   * @param expectedBytes - what the frames will take, if known (see {@link entryFrameBytes}):
   * the buffer starts at that size and is never grown and copied. A batch of 256 puts took
   * 4 KiB, then 8, 16, 32, 64 and 128 KiB, each copied into the next.
   */
  constructor(
    private crc: number,
    expectedBytes = 4096,
  ) {
    this.buf = new Uint8Array(expectedBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get rollingCrc(): number {
    return this.crc;
  }

  get length(): number {
    return this.len;
  }

  append(type: RecordType, payload: Uint8Array, endsBatch = false): void {
    const at = this.reserve(type, payload.length, endsBatch);
    this.buf.set(payload, at + RECORD_HEADER_BYTES);
    this.seal(type, at, payload.length);
  }

  /**
   * Appends a raft entry record. Payload: term (u64 LE), index (u64 LE), type (u32 LE), data;
   * written straight into the frame, with no intermediate encoding buffer.
   */
  appendEntry(e: Entry, endsBatch: boolean): void {
    const len = ENTRY_HEAD_BYTES + e.data.length;
    const at = this.reserve(RecordType.Entry, len, endsBatch);
    const p = at + RECORD_HEADER_BYTES;
    writeU64(this.view, p, e.term);
    writeU64(this.view, p + 8, e.index);
    this.view.setUint32(p + 16, e.type, true);
    this.buf.set(e.data, p + ENTRY_HEAD_BYTES);
    this.seal(RecordType.Entry, at, len);
  }

  appendCrc(chainCrc: number): void {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, chainCrc, true);
    this.append(RecordType.Crc, payload);
  }

  /**
   * Concatenated frames, handed over without a copy; the encoder starts a fresh buffer (the
   * CRC chain continues).
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    // Most encoders are dropped after one take: the next buffer is made when a frame needs it.
    this.buf = new Uint8Array(0);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
    return out;
  }

  /** Writes the head of a frame for `payloadBytes` at the end; returns the frame offset. */
  private reserve(type: RecordType, payloadBytes: number, endsBatch: boolean): number {
    if (payloadBytes > MAX_RECORD_BYTES) {
      throw new Error(
        `WAL record of ${payloadBytes} bytes exceeds the limit of ${MAX_RECORD_BYTES} bytes`,
      );
    }
    const total = frameBytes(payloadBytes);
    const at = this.len;
    if (at + total > this.buf.length) {
      let size = Math.max(this.buf.length * 2, 4096);
      while (size < at + total) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(0, at));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    // Zero the head and the padding (the buffer may hold bytes of an earlier batch).
    this.buf.fill(0, at, at + RECORD_HEADER_BYTES);
    this.buf.fill(0, at + RECORD_HEADER_BYTES + payloadBytes, at + total);
    this.view.setUint32(at, payloadBytes, true);
    this.buf[at + 4] = type;
    this.buf[at + 5] = total - RECORD_HEADER_BYTES - payloadBytes;
    this.buf[at + 6] = endsBatch ? 1 : 0;
    this.len = at + total;
    return at;
  }

  /** Computes and stores the CRC of the frame at `at` once its payload is in place. */
  private seal(type: RecordType, at: number, payloadBytes: number): void {
    const seed = type === RecordType.Crc ? 0 : this.crc;
    const head = crc32c(seed, this.buf.subarray(at, at + 8));
    const p = at + RECORD_HEADER_BYTES;
    const crc = crc32c(head, this.buf.subarray(p, p + payloadBytes));
    this.view.setUint32(at + 8, crc, true);
    this.crc = type === RecordType.Crc ? this.view.getUint32(p, true) : crc;
  }
}

/** Bytes of an entry record's payload before the entry data. */
const ENTRY_HEAD_BYTES = 20;

/** Bytes the record of an entry with `dataBytes` of data takes, framed. */
export function entryFrameBytes(dataBytes: number): number {
  return frameBytes(ENTRY_HEAD_BYTES + dataBytes);
}

/** Decodes the payload of a {@link RecordType.Entry} record (copying the data out). */
export function decodeEntry(payload: Uint8Array): Entry {
  if (payload.length < ENTRY_HEAD_BYTES) throw new Error('entry record too short');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    term: readU64(view, 0),
    index: readU64(view, 8),
    type: entryType(view.getUint32(16, true)),
    data: Buffer.from(payload.subarray(ENTRY_HEAD_BYTES)),
  };
}

function entryType(n: number): EntryType {
  switch (n) {
    case 0:
      return EntryType.EntryNormal;
    case 1:
      return EntryType.EntryConfChange;
    default:
      return EntryType.UNRECOGNIZED;
  }
}

function writeU64(view: DataView, offset: number, n: number): void {
  view.setUint32(offset, n >>> 0, true);
  view.setUint32(offset + 4, Math.floor(n / 0x100000000), true);
}

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x100000000;
}

/** Result of decoding one frame at an offset. */
export type DecodeResult =
  | {
      readonly kind: 'record';
      readonly type: RecordType;
      readonly payload: Uint8Array;
      readonly crc: number;
      /** Offset just past this frame. */
      readonly end: number;
      /** Whether this record closes its batch. */
      readonly endsBatch: boolean;
    }
  | {readonly kind: 'end'}
  | {readonly kind: 'bad'; readonly reason: string; readonly frameEnd: number};

/** Decodes the frame at `offset` of `buf`, checking it against the chain value `prevCrc`. */
export function decodeRecord(buf: Uint8Array, offset: number, prevCrc: number): DecodeResult {
  if (offset + 8 > buf.length) {
    return offset >= buf.length || isZero(buf, offset, buf.length)
      ? {kind: 'end'}
      : {kind: 'bad', reason: 'record head cut short by end of file', frameEnd: offset + 8};
  }
  if (isZero(buf, offset, offset + 8)) return {kind: 'end'};
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = view.getUint32(offset, true);
  const type = buf[offset + 4] as number;
  const pad = buf[offset + 5] as number;
  if (len > MAX_RECORD_BYTES) {
    return {
      kind: 'bad',
      reason: `record length ${len} exceeds limit`,
      frameEnd: Number.MAX_SAFE_INTEGER,
    };
  }
  const frameEnd = offset + frameBytes(len);
  if (frameEnd > buf.length) {
    return {kind: 'bad', reason: `record of ${len} bytes runs past end of file`, frameEnd};
  }
  const flag = buf[offset + 6] as number;
  if (
    pad !== frameEnd - offset - RECORD_HEADER_BYTES - len ||
    type < 1 ||
    type > 5 ||
    flag > 1 ||
    buf[offset + 7] !== 0
  ) {
    return {kind: 'bad', reason: 'malformed record head', frameEnd};
  }
  const payload = buf.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + len);
  const seed = type === (RecordType.Crc as number) ? 0 : prevCrc;
  const crc = crc32c(crc32c(seed, buf.subarray(offset, offset + 8)), payload);
  if (crc !== view.getUint32(offset + 8, true)) {
    return {kind: 'bad', reason: 'checksum mismatch', frameEnd};
  }
  if (type === (RecordType.Crc as number) && len !== 4) {
    return {kind: 'bad', reason: 'malformed crc record', frameEnd};
  }
  return {
    kind: 'record',
    type: RECORD_TYPES[type - 1] as RecordType,
    payload,
    crc,
    end: frameEnd,
    endsBatch: flag === 1,
  };
}

/** True if every byte of `buf[from, to)` is zero. */
export function isZero(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}
