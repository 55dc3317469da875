import type net from 'node:net';

/**
 * The wire format of a Raft stream, the connection over which one member sends
 * Raft messages to another (see `peerpb/peer.proto`):
 *
 * ```
 * "SYNRAFT1"                        8-byte preface: tells the peer port this is no gRPC call
 * [u32 big-endian n][n bytes]       a PeerFrame: the hello first, then message batches
 * [u32 big-endian n][n bytes]       ...
 * ```
 *
 * The receiver writes back at most one frame, a PeerRefusal, and then closes.
 * A frame of zero messages is a keep-alive.
 *
 * This is a plain TCP stream rather than a gRPC call because every Raft message
 * crosses it twice per write (append out, acknowledgement back): grpc-js's
 * HTTP/2 and stream machinery cost twice the CPU and latency of the bytes
 * themselves on every message.
 */
export const raftStreamPreface = Buffer.from('SYNRAFT1', 'latin1');

/** Bytes of the length prefix in front of every frame. */
const lengthBytes = 4;

/**
 * Frames up to this size are copied behind their prefix and written in one `socket.write`:
 * a corked prefix and payload take Node's buffered path (`clearBuffer`, `writev`). Two
 * processes sending 200-byte frames back and forth used 0.94 of the CPU per round trip this
 * way (5 alternating runs of 40,000: 15.9–16.9 µs against 16.6–18.4); larger frames are not
 * copied.
 */
const copyFrameMaxBytes = 16 * 1024;

/**
 * Writes one length-prefixed frame; returns what `socket.write` returned (false: buffer
 * full). `onWritten` is called once the frame has been handed to the kernel.
 */
export function writeFrame(
  socket: net.Socket,
  payload: Uint8Array,
  onWritten?: () => void,
): boolean {
  if (payload.length <= copyFrameMaxBytes) {
    const frame = Buffer.allocUnsafe(lengthBytes + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.set(payload, lengthBytes);
    return socket.write(frame, onWritten);
  }
  const head = Buffer.allocUnsafe(lengthBytes);
  head.writeUInt32BE(payload.length, 0);
  socket.cork();
  socket.write(head);
  const ok = socket.write(payload, onWritten);
  socket.uncork();
  return ok;
}

/** A frame longer than the receiver accepts; the stream is unusable after it. */
export class FrameTooLargeError extends Error {
  constructor(bytes: number, maxBytes: number) {
    super(`raft stream frame of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Cuts a byte stream into frames. Chunks are kept as they arrive and joined
 * once a whole frame is there, so a large frame arriving in many small chunks
 * is copied once, not once per chunk.
 *
 * Example: `push(<00 00 00 02 aa>)` returns `[]`; `push(<bb 00 00 00 00>)` then
 * returns `[<aa bb>, <>]` (a two-byte frame and an empty one).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the next frame needs in all (prefix included), or 0 while its prefix is unread. */
  private frameBytes = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds a chunk and returns every frame it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= Math.max(this.frameBytes, lengthBytes)) {
      const data = this.joined();
      if (this.frameBytes === 0) {
        const length = data.readUInt32BE(0);
        if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
        this.frameBytes = lengthBytes + length;
        if (this.buffered < this.frameBytes) break;
      }
      frames.push(data.subarray(lengthBytes, this.frameBytes));
      const rest = data.subarray(this.frameBytes);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.frameBytes = 0;
    }
    return frames;
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] as Buffer;
  }
}
