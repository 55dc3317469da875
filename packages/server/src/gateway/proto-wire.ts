/**
 * Protobuf's wire format at the level the JSON transcoder works at: varints, length-delimited
 * records and skipping, without a schema (the transcoder brings its own, see `json-schema.ts`).
 */

/** Protobuf bytes written front to back into a buffer that grows as needed. */
export class ProtoWriter {
  private buffer = Buffer.allocUnsafe(256);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.length++] = b;
  }

  /** Protobuf's varint of a 64-bit value; a negative one as its two's complement (10 bytes). */
  varint(value: bigint | number): void {
    this.reserve(10);
    if (typeof value === 'number' && value >= 0 && value < 2 ** 31) {
      let v = value;
      while (v >= 0x80) {
        this.buffer[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buffer[this.length++] = v;
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  get size(): number {
    return this.length;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads protobuf's records from a span of bytes. */
export class ProtoReader {
  constructor(
    private readonly bytes: Uint8Array,
    private pos: number,
    private readonly end: number,
  ) {}

  get position(): number {
    return this.pos;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  advance(n: number): void {
    this.pos += n;
  }

  varint(): bigint {
    // Most values fit in 28 bits: read those with numbers, the rest with bigints.
    let small = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.bytes[this.pos + i];
      if (b === undefined) throw new Error('json transcoder: truncated varint');
      small |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        this.pos += i + 1;
        return BigInt(small);
      }
    }
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.bytes[this.pos++];
      if (b === undefined) throw new Error('json transcoder: truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else if (wireType === 2) this.pos += Number(this.varint());
    else throw new Error(`json transcoder: wire type ${wireType} in a response`);
  }
}
