/** Room kept at the start of the buffer for the packet's length. */
const LENGTH_BYTES = 4;

/**
 * Writes ZooKeeper's jute binary encoding (`BinaryOutputArchive`): int as 4 bytes
 * and long as 8 bytes big-endian, boolean as one byte, a buffer or string as an int
 * length (-1 for null) and its bytes, a vector as an int count and its elements.
 * A record is its fields in declaration order; nothing is tagged.
 *
 * The first 4 bytes of the buffer are kept for a packet's length, so {@link packet} hands
 * out the bytes written without copying them: one allocation and no copy per reply.
 */
export class JuteWriter {
  private buf: Buffer;
  private pos = LENGTH_BYTES;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(LENGTH_BYTES + initialBytes);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  long(v: bigint | number): this {
    this.room(8);
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      // Every zxid, time and count in a reply is a safe integer: two 32-bit halves spare the
      // BigInt a conversion would allocate for each. floor() keeps a negative's high half.
      const high = Math.floor(v / 0x1_0000_0000);
      this.buf.writeInt32BE(high, this.pos);
      this.buf.writeUInt32BE(v - high * 0x1_0000_0000, this.pos + 4);
    } else {
      this.buf.writeBigInt64BE(BigInt(v), this.pos);
    }
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    this.room(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  buffer(v: Uint8Array | null): this {
    if (v === null) return this.int(-1);
    this.int(v.length);
    this.room(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  string(v: string | null): this {
    return this.buffer(v === null ? null : Buffer.from(v, 'utf8'));
  }

  strings(v: readonly string[]): this {
    this.int(v.length);
    for (const s of v) this.string(s);
    return this;
  }

  /** The bytes written so far. */
  bytes(): Buffer {
    return this.buf.subarray(LENGTH_BYTES, this.pos);
  }

  /**
   * The bytes written so far behind their 4-byte length: one packet on the wire. It shares
   * the writer's memory: write nothing more once it is taken.
   */
  packet(): Buffer {
    this.buf.writeInt32BE(this.pos - LENGTH_BYTES, 0);
    return this.buf.subarray(0, this.pos);
  }
}
