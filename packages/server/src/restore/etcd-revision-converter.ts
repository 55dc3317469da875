import type {BboltBucket} from '@synod/storage';

/**
 * Converts etcd's `key` bucket (revision key -> `mvccpb.KeyValue`) into Synod's (16-byte
 * revision key -> Synod record, see `encodeRecord`), one entry at a time, straight from the
 * bbolt page into two reused buffers: no Buffer, KeyValue or bigint per revision. This is the
 * hot loop of a restore; with the generated decoder and a record object per revision,
 * garbage collection alone was a fifth of it.
 *
 * Example: etcd's `00..07 5f 00..00` (revision 7.0) holding `0a 01 61 10 02 18 07 20 03
 * 2a 01 76` (key `a`, create 2, mod 7, version 3, value `v`) becomes Synod's `00..07 00..00`
 * holding flags 0, create 2, mod 7, version 3, lease 0, key length 1, `a`, `v`.
 */
export class EtcdRevisionConverter {
  /** The highest main revision converted so far (0 for none). */
  revision = 0;
  /** Revisions (puts and deletions) converted so far. */
  revisions = 0;

  private readonly synodKey = Buffer.alloc(SYNOD_REVISION_KEY_BYTES);
  private record = Buffer.alloc(64 * 1024);
  private recordView = this.record.subarray(0, 0);
  private readonly fields = new KeyValueFields();

  constructor(
    /** Says what is wrong with the entry under `key` by throwing. */
    private readonly fail: (key: Uint8Array, problem: string) => never,
  ) {}

  /** Converts every entry of `bucket`, handing each to `append` (key, record) in order. */
  convert(bucket: BboltBucket, append: (key: Buffer, record: Buffer) => void): void {
    bucket.forEachValue('mvccpb.KeyValue values', (page, keyStart, keyEnd, valueEnd) => {
      append(this.synodKey, this.convertOne(page, keyStart, keyEnd, valueEnd));
    });
  }

  private convertOne(page: Buffer, keyStart: number, keyEnd: number, valueEnd: number): Buffer {
    const keyBytes = keyEnd - keyStart;
    const tombstone = keyBytes === ETCD_REVISION_KEY_BYTES + 1 && page[keyEnd - 1] === TOMBSTONE;
    if ((keyBytes !== ETCD_REVISION_KEY_BYTES && !tombstone) || page[keyStart + 8] !== SEPARATOR) {
      this.failAt(page, keyStart, keyEnd, NOT_A_REVISION_KEY);
    }
    const main = readU64BE(page, keyStart);
    const sub = readU64BE(page, keyStart + 9);
    if (main < 0 || sub < 0) {
      const m = page.readBigUInt64BE(keyStart);
      const s = page.readBigUInt64BE(keyStart + 9);
      this.failAt(
        page,
        keyStart,
        keyEnd,
        `revision ${m}.${s} is past 2^53, beyond what Synod keeps`,
      );
    }
    // Byte by byte: Buffer.copy's checks cost more than 16 bytes do.
    const synodKey = this.synodKey;
    for (let i = 0; i < 8; i++) {
      synodKey[i] = page[keyStart + i] as number;
      synodKey[8 + i] = page[keyStart + 9 + i] as number;
    }

    const kv = this.fields;
    const problem = kv.decode(page, keyEnd, valueEnd);
    if (problem !== undefined) {
      this.failAt(page, keyStart, keyEnd, `value is not an mvccpb.KeyValue: ${problem}`);
    }
    if (!tombstone) {
      if (kv.modRevision !== main) {
        this.failAt(
          page,
          keyStart,
          keyEnd,
          `mod_revision ${kv.modRevisionText()} is not the revision ${main} it is stored under`,
        );
      }
      // Written so that a number that did not fit (NaN) fails too.
      if (!(kv.createRevision >= 1 && kv.createRevision <= kv.modRevision && kv.version >= 1)) {
        this.failAt(
          page,
          keyStart,
          keyEnd,
          `create_revision ${kv.createRevisionText()} and version ${kv.versionText()} do not fit mod_revision ${kv.modRevisionText()}`,
        );
      }
    }
    const key = kv.keyEnd - kv.keyStart;
    const value = kv.valueEnd - kv.valueStart;
    const size = RECORD_HEAD_BYTES + key + value;
    if (size > this.record.length) this.record = Buffer.alloc(size * 2);
    const out = this.record;
    out[0] = tombstone ? RECORD_TOMBSTONE : 0;
    writeU64BE(out, 1, tombstone ? 0 : kv.createRevision);
    writeU64BE(out, 9, main);
    writeU64BE(out, 17, tombstone ? 0 : kv.version);
    if (tombstone || kv.lease === 0n) out.fill(0, 25, 33);
    else out.writeBigInt64BE(kv.lease, 25);
    out.writeUInt32BE(key, 33);
    page.copy(out, RECORD_HEAD_BYTES, kv.keyStart, kv.keyEnd);
    page.copy(out, RECORD_HEAD_BYTES + key, kv.valueStart, kv.valueEnd);
    if (main > this.revision) this.revision = main;
    this.revisions++;
    // The view of the last record again when this one has its size (values of one size):
    // no Buffer per revision.
    let view = this.recordView;
    if (view.length !== size || view.buffer !== out.buffer) {
      view = this.recordView = out.subarray(0, size);
    }
    return view;
  }

  private failAt(page: Buffer, keyStart: number, keyEnd: number, problem: string): never {
    return this.fail(page.subarray(keyStart, keyEnd), problem);
  }
}

/** etcd's revision key: main (u64 BE), '_', sub (u64 BE), and 't' for a deletion. */
const ETCD_REVISION_KEY_BYTES = 17;
const SEPARATOR = 0x5f;
const TOMBSTONE = 0x74;
const NOT_A_REVISION_KEY = `not a revision key (17 bytes main '_' sub, or 18 with a trailing 't')`;
/** Synod's: main and sub, u64 BE each. */
const SYNOD_REVISION_KEY_BYTES = 16;
/** Synod's record head: flags, create, mod, version, lease, key length (see `encodeRecord`). */
const RECORD_HEAD_BYTES = 1 + 8 * 4 + 4;
const RECORD_TOMBSTONE = 1;

/** A u64 BE as a number, or -1 when it is past 2^53. */
function readU64BE(b: Buffer, at: number): number {
  const high = b.readUInt32BE(at);
  if (high >= 0x200000) return -1;
  return high * 0x100000000 + b.readUInt32BE(at + 4);
}

function writeU64BE(b: Buffer, at: number, n: number): void {
  b.writeUInt32BE(Math.floor(n / 0x100000000), at);
  b.writeUInt32BE(n >>> 0, at + 4);
}

/**
 * The fields of one `mvccpb.KeyValue`, decoded where it lies: the key and value as
 * positions, the numbers as numbers (NaN when one does not fit below 2^53), the lease as a
 * bigint only when it is set. Fields it does not know (a newer etcd's) are skipped, as
 * protobuf does; a repeated field's last value counts.
 */
class KeyValueFields {
  keyStart = 0;
  keyEnd = 0;
  valueStart = 0;
  valueEnd = 0;
  createRevision = 0;
  modRevision = 0;
  version = 0;
  lease = 0n;
  private raw: Buffer = Buffer.alloc(0);
  private rawCreate = -1;
  private rawMod = -1;
  private rawVersion = -1;
  private at = 0;

  /** Decodes `b[start, end)`; returns what is wrong, or undefined. */
  decode(b: Buffer, start: number, end: number): string | undefined {
    this.keyStart = this.keyEnd = this.valueStart = this.valueEnd = start;
    this.createRevision = this.modRevision = this.version = 0;
    this.rawCreate = this.rawMod = this.rawVersion = -1;
    this.lease = 0n;
    this.raw = b;
    this.at = start;
    while (this.at < end) {
      const tag = this.varint(end);
      if (Number.isNaN(tag)) return 'truncated field tag';
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) return 'illegal field number 0';
      if (wire === 0) {
        const at = this.at;
        const n = this.varint(end);
        if (Number.isNaN(n) && this.at > end) return `truncated varint in field ${field}`;
        if (field === 2) {
          this.createRevision = n;
          this.rawCreate = at;
        } else if (field === 3) {
          this.modRevision = n;
          this.rawMod = at;
        } else if (field === 4) {
          this.version = n;
          this.rawVersion = at;
        } else if (field === 6) {
          this.lease = this.bigVarint(at);
        }
        if (field === 1 || field === 5) return `field ${field} has wire type 0, not 2`;
      } else if (wire === 2) {
        const length = this.varint(end);
        if (Number.isNaN(length) || this.at + length > end) {
          return `field ${field} runs past the end`;
        }
        if (field >= 2 && field <= 4) return `field ${field} has wire type 2, not 0`;
        if (field === 6) return `field 6 has wire type 2, not 0`;
        if (field === 1) {
          this.keyStart = this.at;
          this.keyEnd = this.at + length;
        } else if (field === 5) {
          this.valueStart = this.at;
          this.valueEnd = this.at + length;
        }
        this.at += length;
      } else if (wire === 1 || wire === 5) {
        if (field <= 6) return `field ${field} has wire type ${wire}`;
        this.at += wire === 1 ? 8 : 4;
        if (this.at > end) return `field ${field} runs past the end`;
      } else {
        return `unknown wire type ${wire} in field ${field}`;
      }
    }
    return undefined;
  }

  createRevisionText(): string {
    return this.text(this.createRevision, this.rawCreate);
  }

  modRevisionText(): string {
    return this.text(this.modRevision, this.rawMod);
  }

  versionText(): string {
    return this.text(this.version, this.rawVersion);
  }

  /** A number field for a message: as int64, exactly, also when it did not fit a number. */
  private text(n: number, at: number): string {
    return Number.isNaN(n) ? BigInt.asIntN(64, this.bigVarintAt(at)).toString() : String(n);
  }

  /**
   * A varint below 2^53 at `this.at`, moving past it; NaN when it is bigger (its bytes still
   * skipped, `at` past them) or runs past `end` (`at` then past `end`).
   */
  private varint(end: number): number {
    const b = this.raw;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= end) {
        this.at = end + 1;
        return Number.NaN;
      }
      const byte = b[this.at++] as number;
      n += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return n <= Number.MAX_SAFE_INTEGER ? n : Number.NaN;
    }
    return Number.NaN;
  }

  /** The int64 varint at `at`, as protobuf reads it. */
  private bigVarint(at: number): bigint {
    return BigInt.asIntN(64, this.bigVarintAt(at));
  }

  private bigVarintAt(at: number): bigint {
    let v = 0n;
    for (let i = 0, shift = 0n; i < 10; i++, shift += 7n) {
      const byte = this.raw[at + i] ?? 0;
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    return BigInt.asUintN(64, v);
  }
}
