import {ServerError, Status} from 'nice-grpc-common';

/** What {@link GrpcMessageReader} found next in a request stream. */
export type GrpcRead =
  /** A whole message's bytes. */
  | {readonly kind: 'message'; readonly bytes: Buffer}
  /** Not enough bytes yet for the next message. */
  | {readonly kind: 'more'}
  /** A frame grpc-go refuses, with its status. */
  | {readonly kind: 'error'; readonly error: ServerError};

/** The 5-byte prefix of every gRPC message: a compressed flag and a 32-bit length. */
const prefixBytes = 5;

/**
 * Splits a gRPC request stream (gRPC's framing: a 1-byte compressed flag, a big-endian
 * 32-bit length, the message) into messages, refusing what grpc-go refuses, in its order and
 * words:
 * - a length over the limit: `RESOURCE_EXHAUSTED grpc: received message larger than max
 *   (<n> vs. <max>)`, told as soon as the prefix is read;
 * - then, once the message is whole, a compressed flag of 1 on a call without a
 *   `grpc-encoding` (Synod accepts no other): `INTERNAL grpc: compressed flag set with
 *   identity or empty encoding`, and any other flag but 0: `INTERNAL grpc: received
 *   unexpected payload format <n>`.
 *
 * Example: `00 00 00 00 03 0a 01 61` is one message `0a 01 61`; `02 00 00 00 00` is refused
 * with payload format 2.
 */
export class GrpcMessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Takes the next chunk of the request body. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next message, or that more bytes are needed, or the fault in the frame. As in
   * grpc-go, the length is checked as soon as the prefix is in, the flag only once the whole
   * message is.
   */
  next(): GrpcRead {
    if (this.buffered < prefixBytes) return {kind: 'more'};
    const head = this.peek(prefixBytes);
    const length = head.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      return refusal(
        Status.RESOURCE_EXHAUSTED,
        `grpc: received message larger than max (${length} vs. ${this.maxMessageBytes})`,
      );
    }
    if (this.buffered < prefixBytes + length) return {kind: 'more'};
    const flag = head[0] ?? 0;
    if (flag === 1) {
      return refusal(Status.INTERNAL, 'grpc: compressed flag set with identity or empty encoding');
    }
    if (flag !== 0) {
      return refusal(Status.INTERNAL, `grpc: received unexpected payload format ${flag}`);
    }
    const frame = this.take(prefixBytes + length);
    return {kind: 'message', bytes: frame.subarray(prefixBytes)};
  }

  /** Whether bytes of an unfinished message are waiting: at the end, a message cut short. */
  get hasPartial(): boolean {
    return this.buffered > 0;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const whole = this.peek(n);
    const taken = whole.subarray(0, n);
    const rest = whole.subarray(n);
    this.chunks = rest.length > 0 ? [rest, ...this.chunks.slice(1)] : this.chunks.slice(1);
    this.buffered -= n;
    return taken;
  }
}

function refusal(code: Status, message: string): GrpcRead {
  return {kind: 'error', error: new ServerError(code, message)};
}
