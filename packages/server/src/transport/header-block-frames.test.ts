import {describe, expect, it} from 'vitest';

import {HeaderBlockFrames} from './header-block-frames.js';
import {encodeFrameHeader, FrameFlag, FrameType, readFrameHeader} from './http2-frame-header.js';

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  return Buffer.concat([
    encodeFrameHeader({length: payload.length, type, flags, streamId}),
    payload,
  ]);
}

function start(f: Buffer): HeaderBlockFrames | undefined {
  return HeaderBlockFrames.start(readFrameHeader(f), f);
}

/** The frames of an encoded byte run, as [type, flags, payload length]. */
function framesOf(bytes: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let at = 0; at < bytes.length; ) {
    const header = readFrameHeader(bytes, at);
    out.push([header.type, header.flags, header.length]);
    at += 9 + header.length;
  }
  return out;
}

const priorityFields = Buffer.from('8000000310', 'hex');

describe('a header block across HEADERS and CONTINUATION frames', () => {
  it('drops padding and priority fields from the block, and keeps the frames as they came', () => {
    const headers = frame(
      FrameType.headers,
      FrameFlag.padded | FrameFlag.priority | FrameFlag.endStream,
      3,
      Buffer.concat([
        Buffer.from([2]),
        priorityFields,
        Buffer.from('8286', 'hex'),
        Buffer.alloc(2),
      ]),
    );
    const continuation = frame(
      FrameType.continuation,
      FrameFlag.endHeaders,
      3,
      Buffer.from('84', 'hex'),
    );
    const block = start(headers);
    expect(block?.complete).toBe(false);
    expect(block?.continueWith(readFrameHeader(continuation), continuation)).toBe(true);
    expect(block?.complete).toBe(true);
    expect(block?.block()).toEqual(Buffer.from('828684', 'hex'));
    expect(block?.frames).toEqual([headers, continuation]);
    expect(block?.sizeBytes).toBe(headers.length + continuation.length);
  });

  it('frames a rewritten block again with END_STREAM and priority, without padding', () => {
    const block = start(
      frame(
        FrameType.headers,
        FrameFlag.padded | FrameFlag.priority | FrameFlag.endStream | FrameFlag.endHeaders,
        3,
        Buffer.concat([
          Buffer.from([1]),
          priorityFields,
          Buffer.from('82', 'hex'),
          Buffer.alloc(1),
        ]),
      ),
    );
    const encoded = block?.encode(Buffer.from('828684', 'hex')) ?? Buffer.alloc(0);
    expect(encoded).toEqual(
      frame(
        FrameType.headers,
        FrameFlag.priority | FrameFlag.endStream | FrameFlag.endHeaders,
        3,
        Buffer.concat([priorityFields, Buffer.from('828684', 'hex')]),
      ),
    );
  });

  it('splits a block larger than a frame into CONTINUATION frames', () => {
    const block = start(
      frame(FrameType.headers, FrameFlag.priority | FrameFlag.endHeaders, 5, priorityFields),
    );
    const big = Buffer.alloc(40_000, 0x82);
    const encoded = block?.encode(big) ?? Buffer.alloc(0);
    expect(framesOf(encoded)).toEqual([
      [FrameType.headers, FrameFlag.priority, 16_384],
      [FrameType.continuation, 0, 16_384],
      [FrameType.continuation, FrameFlag.endHeaders, 40_000 - 16_379 - 16_384],
    ]);
    expect(readFrameHeader(encoded, 16_393).streamId).toBe(5);
  });

  it('frames an empty block as one HEADERS frame', () => {
    const block = start(frame(FrameType.headers, FrameFlag.endHeaders, 1, Buffer.alloc(0)));
    expect(block?.block()).toEqual(Buffer.alloc(0));
    expect(framesOf(block?.encode(Buffer.alloc(0)) ?? Buffer.alloc(0))).toEqual([
      [FrameType.headers, FrameFlag.endHeaders, 0],
    ]);
  });

  it('takes no CONTINUATION of another stream, nor any once the block ended', () => {
    const block = start(frame(FrameType.headers, 0, 1, Buffer.from('82', 'hex')));
    const other = frame(FrameType.continuation, FrameFlag.endHeaders, 3, Buffer.from('84', 'hex'));
    expect(block?.continueWith(readFrameHeader(other), other)).toBe(false);
    const own = frame(FrameType.continuation, FrameFlag.endHeaders, 1, Buffer.from('84', 'hex'));
    expect(block?.continueWith(readFrameHeader(own), own)).toBe(true);
    expect(block?.continueWith(readFrameHeader(own), own)).toBe(false);
  });

  it.each([
    ['padding longer than the payload', FrameFlag.padded, Buffer.from([5, 0x82])],
    ['a padded frame with no payload', FrameFlag.padded, Buffer.alloc(0)],
    ['priority fields cut short', FrameFlag.priority, Buffer.from('800000', 'hex')],
  ])('refuses %s', (_case, flags, payload) => {
    expect(start(frame(FrameType.headers, flags, 1, payload))).toBeUndefined();
  });
});
