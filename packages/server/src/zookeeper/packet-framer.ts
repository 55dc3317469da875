import {JuteDecodeError} from './jute-reader.js';

/**
 * Splits a TCP stream into ZooKeeper's length-prefixed packets: a 4-byte
 * big-endian length, then that many bytes. A negative length or one above
 * `maxBytes` (`jute.maxbuffer`) is refused before any of it is buffered, as
 * ZooKeeper's server closes such a connection ("Len error").
 */
export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes received but not yet part of a whole packet. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** The first 4 bytes of the stream so far, if that many arrived (to spot a four-letter word). */
  peekHead(): Buffer | undefined {
    if (this.buffered < 4) return undefined;
    return this.take(4, false);
  }

  /** Adds received bytes; returns the whole packets they complete, in order. */
  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const out: Buffer[] = [];
    while (this.buffered >= 4) {
      const len = this.take(4, false).readInt32BE(0);
      if (len < 0 || len > this.maxBytes) {
        throw new JuteDecodeError(`packet length ${len} outside 0..${this.maxBytes}`);
      }
      if (this.buffered < 4 + len) break;
      this.take(4, true);
      out.push(this.take(len, true));
    }
    return out;
  }

  private take(n: number, consume: boolean): Buffer {
    const head = this.chunks[0];
    let out: Buffer;
    if (head !== undefined && head.length >= n) {
      out = head.subarray(0, n);
    } else {
      const joined = Buffer.concat(this.chunks);
      this.chunks = [joined];
      out = joined.subarray(0, n);
    }
    if (consume) {
      const first = this.chunks[0] as Buffer;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
    }
    return out;
  }
}
