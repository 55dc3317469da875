import {
  defaultMaxFramePayloadBytes,
  encodeFrameHeader,
  FrameFlag,
  frameHeaderBytes,
  FrameType,
} from './http2-frame-header.js';
import type {Http2FrameHeader} from './http2-frame-header.js';

/** The stream dependency (4 octets) and weight (1) a HEADERS frame with PRIORITY carries. */
const priorityFieldsBytes = 5;

/**
 * One header block as a client sent it: a HEADERS frame and the CONTINUATION frames that
 * follow it up to END_HEADERS (RFC 9113 §4.3, §6.2, §6.10). Keeps the frames as they came,
 * to pass them on unchanged, and the block itself (the fragments joined, without padding
 * or priority fields), to rewrite it; then frames a rewritten block again.
 *
 * Example: HEADERS(PADDED|PRIORITY, pad length 2, priority fields, `82 86`, 2 padding
 * octets) then CONTINUATION(END_HEADERS, `84`) is the block `82 86 84`; {@link encode} of
 * that block gives HEADERS(PRIORITY|END_HEADERS, priority fields, `82 86 84`).
 */
export class HeaderBlockFrames {
  /** The frames as they came, headers included. */
  readonly frames: Buffer[] = [];
  private readonly fragments: Buffer[] = [];
  private ended = false;
  /** The octets of {@link frames}, headers included. */
  sizeBytes = 0;

  private constructor(
    readonly streamId: number,
    private readonly endStream: boolean,
    private readonly priorityFields: Buffer | undefined,
  ) {}

  /**
   * Starts a block with its HEADERS frame (`frame` holds header and payload); undefined when
   * the padding or priority fields do not fit in the payload, which the server refuses too.
   */
  static start(header: Http2FrameHeader, frame: Buffer): HeaderBlockFrames | undefined {
    const payload = frame.subarray(frameHeaderBytes);
    let start = 0;
    let end = payload.length;
    if ((header.flags & FrameFlag.padded) !== 0) {
      end -= payload[0] ?? payload.length + 1;
      start = 1;
    }
    let priorityFields: Buffer | undefined;
    if ((header.flags & FrameFlag.priority) !== 0) {
      priorityFields = Buffer.from(payload.subarray(start, start + priorityFieldsBytes));
      start += priorityFieldsBytes;
    }
    if (end < start) return undefined;
    const block = new HeaderBlockFrames(
      header.streamId,
      (header.flags & FrameFlag.endStream) !== 0,
      priorityFields,
    );
    block.add(header, frame, payload.subarray(start, end));
    return block;
  }

  /** Whether END_HEADERS has been seen. */
  get complete(): boolean {
    return this.ended;
  }

  /** Adds a CONTINUATION frame; false, adding nothing, when it does not continue this block. */
  continueWith(header: Http2FrameHeader, frame: Buffer): boolean {
    if (this.ended || header.type !== FrameType.continuation || header.streamId !== this.streamId) {
      return false;
    }
    this.add(header, frame, frame.subarray(frameHeaderBytes));
    return true;
  }

  /** The header block: the fragments joined. */
  block(): Buffer {
    return this.fragments.length === 1
      ? (this.fragments[0] ?? Buffer.alloc(0))
      : Buffer.concat(this.fragments);
  }

  /**
   * Frames `block` again for this block's stream: a HEADERS frame with the original
   * END_STREAM flag and priority fields, without padding, then as many CONTINUATION frames
   * as payloads of `maxPayloadBytes` need.
   */
  encode(block: Buffer, maxPayloadBytes = defaultMaxFramePayloadBytes): Buffer {
    const priority = this.priorityFields ?? Buffer.alloc(0);
    const out: Buffer[] = [];
    let offset = Math.min(block.length, maxPayloadBytes - priority.length);
    out.push(
      encodeFrameHeader({
        length: priority.length + offset,
        type: FrameType.headers,
        flags:
          (this.endStream ? FrameFlag.endStream : 0) |
          (this.priorityFields === undefined ? 0 : FrameFlag.priority) |
          (offset === block.length ? FrameFlag.endHeaders : 0),
        streamId: this.streamId,
      }),
      priority,
      block.subarray(0, offset),
    );
    while (offset < block.length) {
      const end = Math.min(block.length, offset + maxPayloadBytes);
      out.push(
        encodeFrameHeader({
          length: end - offset,
          type: FrameType.continuation,
          flags: end === block.length ? FrameFlag.endHeaders : 0,
          streamId: this.streamId,
        }),
        block.subarray(offset, end),
      );
      offset = end;
    }
    return Buffer.concat(out);
  }

  private add(header: Http2FrameHeader, frame: Buffer, fragment: Buffer): void {
    this.frames.push(frame);
    this.fragments.push(fragment);
    this.sizeBytes += frame.length;
    this.ended = (header.flags & FrameFlag.endHeaders) !== 0;
  }
}
