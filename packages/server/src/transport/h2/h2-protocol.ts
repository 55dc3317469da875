/** HTTP/2 error codes (RFC 9113 §7), as RST_STREAM and GOAWAY carry them. */
export const H2ErrorCode = {
  noError: 0x0,
  protocolError: 0x1,
  internalError: 0x2,
  flowControlError: 0x3,
  settingsTimeout: 0x4,
  streamClosed: 0x5,
  frameSizeError: 0x6,
  refusedStream: 0x7,
  cancel: 0x8,
  compressionError: 0x9,
  connectError: 0xa,
  enhanceYourCalm: 0xb,
  inadequateSecurity: 0xc,
  http11Required: 0xd,
} as const;

/** SETTINGS parameters (RFC 9113 §6.5.2). */
export const H2Setting = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
  maxHeaderListSize: 0x6,
} as const;

/** The flow-control window every stream and the connection start with (RFC 9113 §6.9.2). */
export const defaultWindowBytes = 65_535;
/** The largest a flow-control window may grow (RFC 9113 §6.9.1). */
export const largestWindowBytes = 2 ** 31 - 1;
/** The largest SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2). */
export const largestFramePayloadBytes = 2 ** 24 - 1;
