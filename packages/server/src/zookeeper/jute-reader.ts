/** A record ended before all of its fields were read, or a length was impossible. */
export class JuteDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JuteDecodeError';
  }
}

/**
 * Reads ZooKeeper's jute binary encoding (see {@link JuteWriter}) from one packet.
 * Every read checks the bytes are there: a short or lying packet throws
 * {@link JuteDecodeError}, which the connection answers by closing, as ZooKeeper
 * does with a record it cannot deserialize.
 */
export class JuteReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new JuteDecodeError(`record truncated: needs ${n} bytes at offset ${this.pos}`);
    }
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  /** A buffer; null for length -1. */
  buffer(): Buffer | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < 0) throw new JuteDecodeError(`negative length ${n}`);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A string; null (length -1) is read as null. */
  string(): string | null {
    const b = this.buffer();
    return b === null ? null : b.toString('utf8');
  }

  /** A vector of strings; null (-1) is read as empty. */
  strings(): string[] {
    const n = this.int();
    if (n < 0) return [];
    // Each element takes at least its 4-byte length: a count beyond that is a lie.
    if (n * 4 > this.remaining) throw new JuteDecodeError(`vector of ${n} strings overruns`);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.string() ?? '');
    return out;
  }

  /** A vector count, checked against the bytes left assuming `minElementBytes` each. */
  count(minElementBytes: number): number {
    const n = this.int();
    if (n < 0) return 0;
    if (n * minElementBytes > this.remaining) throw new JuteDecodeError(`vector of ${n} overruns`);
    return n;
  }
}
