/** The fixed header every HTTP/2 frame starts with (RFC 9113 §4.1). */
export interface Http2FrameHeader {
  /** The payload's length, not counting these 9 octets. */
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  /** The stream identifier, its reserved bit cleared; 0 for the connection. */
  readonly streamId: number;
}

export const frameHeaderBytes = 9;

/** The frame types a client sends (RFC 9113 §6). */
export const FrameType = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

/** The frame flags this module reads or writes (RFC 9113 §6). */
export const FrameFlag = {
  endStream: 0x1,
  /** SETTINGS and PING: this frame acknowledges the peer's. */
  ack: 0x1,
  endHeaders: 0x4,
  padded: 0x8,
  priority: 0x20,
} as const;

/**
 * The largest frame payload any HTTP/2 peer accepts: SETTINGS_MAX_FRAME_SIZE starts here
 * and may only grow (RFC 9113 §6.5.2).
 */
export const defaultMaxFramePayloadBytes = 16_384;

/** Reads the frame header at `offset`; the caller makes sure 9 octets are there. */
export function readFrameHeader(bytes: Buffer, offset = 0): Http2FrameHeader {
  return {
    length: bytes.readUIntBE(offset, 3),
    type: bytes.readUInt8(offset + 3),
    flags: bytes.readUInt8(offset + 4),
    streamId: bytes.readUInt32BE(offset + 5) & 0x7fff_ffff,
  };
}

/** Encodes a frame header. */
export function encodeFrameHeader(header: Http2FrameHeader): Buffer {
  const out = Buffer.alloc(frameHeaderBytes);
  out.writeUIntBE(header.length, 0, 3);
  out.writeUInt8(header.type, 3);
  out.writeUInt8(header.flags, 4);
  out.writeUInt32BE(header.streamId, 5);
  return out;
}
