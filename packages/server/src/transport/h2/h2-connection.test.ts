import {Duplex} from 'node:stream';

import {describe, expect, it} from 'vitest';

import {FrameFlag, FrameType} from '../http2-frame-header.js';
import {HpackDecoder} from './hpack-decoder.js';
import {encodeHeaderBlock} from './hpack-encoder.js';
import {H2Connection} from './h2-connection.js';
import type {H2ConnectionOptions} from './h2-connection.js';
import {H2ErrorCode, H2Setting} from './h2-protocol.js';
import type {H2Stream} from './h2-stream.js';

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A socket stand-in: what the test pushes is read by the connection; writes are recorded. */
class FakeTransport extends Duplex {
  readonly writes: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push(chunk);
    done();
  }
  frames(): Frame[] {
    const bytes = Buffer.concat(this.writes);
    const out: Frame[] = [];
    for (let at = 0; at + 9 <= bytes.length; ) {
      const length = bytes.readUIntBE(at, 3);
      out.push({
        type: bytes[at + 3] ?? 0,
        flags: bytes[at + 4] ?? 0,
        streamId: bytes.readUInt32BE(at + 5),
        payload: bytes.subarray(at + 9, at + 9 + length),
      });
      at += 9 + length;
    }
    return out;
  }
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)) {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

const request = encodeHeaderBlock([
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', '/etcdserverpb.KV/Range'],
  [':authority', 'localhost'],
  ['content-type', 'application/grpc'],
]);

const turn = () => new Promise<void>(resolve => setImmediate(resolve));

function open(options?: Partial<H2ConnectionOptions>) {
  const transport = new FakeTransport();
  const streams: H2Stream[] = [];
  const connection = new H2Connection(transport, undefined, stream => streams.push(stream), {
    maxConcurrentStreams: 100,
    maxHeaderListBytes: 64 * 1024,
    streamWindowBytes: 1024 * 1024,
    connectionWindowBytes: 16 * 1024 * 1024,
    ...options,
  });
  connection.start(Buffer.concat([preface, frame(FrameType.settings, 0, 0)]));
  // Emitted at once, as a socket's read is: the test sees each frame's effect synchronously.
  const send = (...frames: Buffer[]) => transport.emit('data', Buffer.concat(frames));
  return {transport, streams, connection, send};
}

function goaway(frames: Frame[]): {lastStreamId: number; code: number} | undefined {
  const f = frames.find(x => x.type === FrameType.goaway);
  return f && {lastStreamId: f.payload.readUInt32BE(0), code: f.payload.readUInt32BE(4)};
}

function resets(frames: Frame[]): [number, number][] {
  return frames
    .filter(f => f.type === FrameType.rstStream)
    .map(f => [f.streamId, f.payload.readUInt32BE(0)]);
}

describe('H2Connection', () => {
  it('opens with its SETTINGS and a larger connection window, then acks the client', async () => {
    const {transport} = open();
    await turn();
    const frames = transport.frames();
    expect(frames.map(f => [f.type, f.flags])).toEqual([
      [FrameType.settings, 0],
      [FrameType.windowUpdate, 0],
      [FrameType.settings, FrameFlag.ack],
    ]);
    const settings = frames[0]?.payload ?? Buffer.alloc(0);
    expect(settings.readUInt16BE(6)).toBe(H2Setting.initialWindowSize);
    expect(settings.readUInt32BE(8)).toBe(1024 * 1024);
  });

  it('answers a PING with its payload, and ignores unknown frame types and PRIORITY', async () => {
    const {transport, send} = open();
    send(
      frame(0xfa, 0, 0, Buffer.from('x')),
      frame(FrameType.priority, 0, 3, Buffer.alloc(5)),
      frame(FrameType.ping, 0, 0, Buffer.from('12345678')),
    );
    await turn();
    const ping = transport.frames().find(f => f.type === FrameType.ping);
    expect(ping?.flags).toBe(FrameFlag.ack);
    expect(ping?.payload.toString()).toBe('12345678');
    expect(goaway(transport.frames())).toBeUndefined();
  });

  it('reads a padded, prioritised HEADERS with CONTINUATION, and padded DATA', () => {
    const {streams, send} = open();
    const headers = Buffer.concat([
      Buffer.from([2]),
      Buffer.alloc(5),
      request.subarray(0, 4),
      Buffer.alloc(2),
    ]);
    send(
      frame(FrameType.headers, FrameFlag.padded | FrameFlag.priority, 1, headers),
      frame(FrameType.continuation, FrameFlag.endHeaders, 1, request.subarray(4)),
    );
    expect(streams).toHaveLength(1);
    const stream = streams[0] as H2Stream;
    expect(stream.path).toBe('/etcdserverpb.KV/Range');
    const chunks: string[] = [];
    let ended = false;
    stream.readRequest(
      c => chunks.push(c.toString()),
      () => (ended = true),
    );
    send(
      frame(
        FrameType.data,
        FrameFlag.padded | FrameFlag.endStream,
        1,
        Buffer.from('\x03abc\0\0\0', 'latin1'),
      ),
    );
    expect(chunks).toEqual(['abc']);
    expect(ended).toBe(true);
    expect(stream.state).toBe('halfClosedRemote');
  });

  it('ends the connection with GOAWAY PROTOCOL_ERROR on a frame between HEADERS and CONTINUATION', async () => {
    const {transport, send} = open();
    send(
      frame(FrameType.headers, 0, 1, request.subarray(0, 3)),
      frame(FrameType.ping, 0, 0, Buffer.alloc(8)),
    );
    await turn();
    expect(goaway(transport.frames())).toEqual({lastStreamId: 0, code: H2ErrorCode.protocolError});
  });

  it('refuses HEADERS on an even stream, DATA on an idle one, and a decreasing stream id', async () => {
    for (const bad of [
      frame(FrameType.headers, FrameFlag.endHeaders, 2, request),
      frame(FrameType.data, 0, 5, Buffer.from('x')),
    ]) {
      const {transport, send} = open();
      send(bad);
      await turn();
      expect(goaway(transport.frames())?.code).toBe(H2ErrorCode.protocolError);
    }
    const {transport, send} = open();
    send(
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 5, request),
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 3, request),
    );
    await turn();
    expect(goaway(transport.frames())).toEqual({lastStreamId: 5, code: H2ErrorCode.protocolError});
  });

  it('resets DATA after the client half-closed with STREAM_CLOSED', async () => {
    const {transport, send} = open();
    send(
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 1, request),
      frame(FrameType.data, 0, 1, Buffer.from('x')),
    );
    await turn();
    expect(resets(transport.frames())).toEqual([[1, H2ErrorCode.streamClosed]]);
  });

  it('resets a request with an upper-case header or no :path with PROTOCOL_ERROR', async () => {
    const {transport, send} = open();
    const upper = encodeHeaderBlock([
      [':method', 'POST'],
      [':path', '/a'],
      ['X-Upper', '1'],
    ]);
    const noPath = encodeHeaderBlock([[':method', 'POST']]);
    send(
      frame(FrameType.headers, FrameFlag.endHeaders, 1, upper),
      frame(FrameType.headers, FrameFlag.endHeaders, 3, noPath),
    );
    await turn();
    expect(resets(transport.frames())).toEqual([
      [1, H2ErrorCode.protocolError],
      [3, H2ErrorCode.protocolError],
    ]);
  });

  it('refuses streams past SETTINGS_MAX_CONCURRENT_STREAMS with REFUSED_STREAM', async () => {
    const {transport, send, streams} = open({maxConcurrentStreams: 1});
    send(
      frame(FrameType.headers, FrameFlag.endHeaders, 1, request),
      frame(FrameType.headers, FrameFlag.endHeaders, 3, request),
    );
    await turn();
    expect(streams).toHaveLength(1);
    expect(resets(transport.frames())).toEqual([[3, H2ErrorCode.refusedStream]]);
  });

  it('gives consumed DATA back to the client in WINDOW_UPDATEs, per stream and connection', async () => {
    const {transport, send} = open({streamWindowBytes: 100, connectionWindowBytes: 65_535});
    send(
      frame(FrameType.headers, FrameFlag.endHeaders, 1, request),
      frame(FrameType.data, 0, 1, Buffer.alloc(60)),
    );
    await turn();
    const updates = transport.frames().filter(f => f.type === FrameType.windowUpdate);
    expect(updates.map(f => [f.streamId, f.payload.readUInt32BE(0)])).toEqual([[1, 60]]);
    send(frame(FrameType.data, 0, 1, Buffer.alloc(101)));
    await turn();
    expect(goaway(transport.frames())).toBeUndefined();
    expect(resets(transport.frames())).toEqual([[1, H2ErrorCode.flowControlError]]);
  });

  it('sends no more DATA than the client’s window, and the trailers after the rest', async () => {
    const {transport, send, streams} = open();
    const windowSetting = Buffer.alloc(6);
    windowSetting.writeUInt16BE(H2Setting.initialWindowSize, 0);
    windowSetting.writeUInt32BE(10, 2);
    send(
      frame(FrameType.settings, 0, 0, windowSetting),
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 1, request),
    );
    const stream = streams[0] as H2Stream;
    stream.sendHeaders(undefined);
    expect(stream.sendMessage(Buffer.alloc(20, 1))).toBe(false);
    stream.sendStatus(0, '', undefined);
    await turn();
    const data = () => transport.frames().filter(f => f.type === FrameType.data);
    expect(data().map(f => f.payload.length)).toEqual([10]);
    expect(transport.frames().filter(f => f.type === FrameType.headers)).toHaveLength(1);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(100, 0);
    send(frame(FrameType.windowUpdate, 0, 1, increment));
    await turn();
    expect(data().map(f => f.payload.length)).toEqual([10, 15]);
    const trailers = transport.frames().filter(f => f.type === FrameType.headers)[1];
    expect(trailers?.flags).toBe(FrameFlag.endHeaders | FrameFlag.endStream);
    const decoded = new HpackDecoder().decode(trailers?.payload ?? Buffer.alloc(0));
    expect(decoded).toEqual(['grpc-status', '0']);
    expect(stream.state).toBe('closed');
  });

  it('resets a stream the client still sends on with NO_ERROR after the status', async () => {
    const {transport, send, streams} = open();
    send(frame(FrameType.headers, FrameFlag.endHeaders, 1, request));
    const stream = streams[0] as H2Stream;
    stream.sendTrailersOnly(12, 'unknown method');
    await turn();
    const frames = transport.frames().filter(f => f.streamId === 1);
    expect(frames.map(f => f.type)).toEqual([FrameType.headers, FrameType.rstStream]);
    expect(resets(frames)).toEqual([[1, H2ErrorCode.noError]]);
  });

  it('writes the answers of one turn in one socket write', async () => {
    const {transport, send, streams} = open();
    await turn();
    transport.writes.length = 0;
    send(
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 1, request),
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 3, request),
      frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream, 5, request),
    );
    for (const stream of streams) {
      stream.sendHeaders(undefined);
      stream.sendMessage(Buffer.from('reply'));
      stream.sendStatus(0, '', undefined);
    }
    await turn();
    expect(transport.writes).toHaveLength(1);
    expect(transport.frames().filter(f => f.type === FrameType.data)).toHaveLength(3);
  });

  it('closes the streams on RST_STREAM from the client, which the call sees', () => {
    const {send, streams} = open();
    send(frame(FrameType.headers, FrameFlag.endHeaders, 1, request));
    let closed = false;
    streams[0]?.onClose(() => (closed = true));
    send(frame(FrameType.rstStream, 0, 1, Buffer.from([0, 0, 0, 8])));
    expect(closed).toBe(true);
    expect(streams[0]?.state).toBe('closed');
  });
});
