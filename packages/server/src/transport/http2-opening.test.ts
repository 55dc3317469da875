import net from 'node:net';

import {describe, expect, it} from 'vitest';

import {encodeFrameHeader, FrameFlag, FrameType} from './http2-frame-header.js';
import type {Http2Opening} from './http2-opening.js';
import {http2ClientPreface, readHttp2Opening, scanHttp2Opening} from './http2-opening.js';

function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  return Buffer.concat([
    encodeFrameHeader({length: payload.length, type, flags, streamId}),
    payload,
  ]);
}

const clientSettings = frame(FrameType.settings, 0, 0, Buffer.from('000300000064', 'hex'));
const windowUpdate = frame(FrameType.windowUpdate, 0, 0, Buffer.from('0000ffff', 'hex'));
const settingsAck = frame(FrameType.settings, FrameFlag.ack, 0);
const ping = frame(FrameType.ping, 0, 0, Buffer.alloc(8));

/** A GET whose `:authority` is `authority`, literal with incremental indexing. */
function request(authority: string, flags = FrameFlag.endHeaders | FrameFlag.endStream): Buffer {
  const value = Buffer.from(authority, 'latin1');
  return headers(
    Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x41, value.length]), value]),
    flags,
  );
}

/** A HEADERS frame on stream 1 with the given header block. */
function headers(block: Buffer, flags = FrameFlag.endHeaders | FrameFlag.endStream): Buffer {
  return frame(FrameType.headers, flags, 1, block);
}

/** `:method: POST`, `:scheme: http`, `:authority: a`, and a `:path` without its slash. */
const pathWithoutSlash = Buffer.from('8386010161440178', 'hex');
/** `:method: POST`, `:path: /x`, `:authority: a`, and no `:scheme`. */
const noScheme = Buffer.from('830402 2f78 010161'.replace(/ /g, ''), 'hex');

const opening = Buffer.concat([http2ClientPreface, clientSettings, windowUpdate]);

describe('the opening of an HTTP/2 connection, up to its first request', () => {
  it('waits for the whole client preface, and hands on at once what is not one', () => {
    expect(scanHttp2Opening(http2ClientPreface.subarray(0, 10))).toEqual({
      complete: false,
      prefaceSeen: false,
    });
    const other = Buffer.from('PRI * HTTP/1.1\r\n');
    expect(scanHttp2Opening(other)).toEqual({
      complete: true,
      replay: other,
      needsRewriting: false,
    });
  });

  it('waits for the acknowledgement of its SETTINGS and for the first request', () => {
    expect(scanHttp2Opening(opening)).toEqual({complete: false, prefaceSeen: true});
    expect(scanHttp2Opening(Buffer.concat([opening, settingsAck]))).toEqual({
      complete: false,
      prefaceSeen: true,
    });
    expect(scanHttp2Opening(Buffer.concat([opening, request('localhost')]))).toEqual({
      complete: false,
      prefaceSeen: true,
    });
  });

  it('hands on an acceptable request without the acknowledgement', () => {
    const first = request('127.0.0.1:2379');
    expect(scanHttp2Opening(Buffer.concat([opening, first, settingsAck]))).toEqual({
      complete: true,
      replay: Buffer.concat([opening, first]),
      needsRewriting: false,
    });
  });

  it('finds a URL :authority refused, across a CONTINUATION frame', () => {
    const headers = request('http://127.0.0.1:2379', FrameFlag.endStream);
    const continuation = frame(
      FrameType.continuation,
      FrameFlag.endHeaders,
      1,
      Buffer.from('90', 'hex'),
    );
    const bytes = Buffer.concat([opening, settingsAck, headers, continuation]);
    const scan = scanHttp2Opening(bytes);
    expect(scan).toMatchObject({complete: true, needsRewriting: true});
    expect((scan as Http2Opening).replay).toEqual(Buffer.concat([opening, headers, continuation]));
    expect(scanHttp2Opening(bytes.subarray(0, bytes.length - 1))).toEqual({
      complete: false,
      prefaceSeen: true,
    });
  });

  it('finds a :path without its slash or a missing :scheme refused on plaintext only', () => {
    for (const block of [pathWithoutSlash, noScheme]) {
      const bytes = Buffer.concat([opening, settingsAck, headers(block)]);
      expect(scanHttp2Opening(bytes)).toMatchObject({complete: true, needsRewriting: true});
      // Over TLS etcd resets these requests too.
      expect(scanHttp2Opening(bytes, {secure: true})).toMatchObject({
        complete: true,
        needsRewriting: false,
      });
    }
  });

  it('finds a request without :authority refused, and one with host accepted', () => {
    // Static entry 38 is `host`; without indexing, its 4-bit prefix spells 38 as 0f 17.
    const withoutAuthority = headers(Buffer.from('828684', 'hex'));
    const withHost = headers(Buffer.from('828684 0f17 0168'.replace(/ /g, ''), 'hex'));
    for (const secure of [false, true]) {
      expect(
        scanHttp2Opening(Buffer.concat([opening, settingsAck, withoutAuthority]), {secure}),
      ).toMatchObject({needsRewriting: true});
      expect(
        scanHttp2Opening(Buffer.concat([opening, settingsAck, withHost]), {secure}),
      ).toMatchObject({needsRewriting: false});
    }
  });

  it('hands on before any request when a frame wants the server, once acknowledged', () => {
    expect(scanHttp2Opening(Buffer.concat([opening, ping]))).toEqual({
      complete: false,
      prefaceSeen: true,
    });
    expect(scanHttp2Opening(Buffer.concat([opening, ping, settingsAck]))).toEqual({
      complete: true,
      replay: Buffer.concat([opening, ping]),
      needsRewriting: false,
    });
  });

  it('hands on past 256 KiB whatever it holds', () => {
    const bytes = Buffer.concat([opening, frame(FrameType.data, 0, 1, Buffer.alloc(256 * 1024))]);
    expect(scanHttp2Opening(bytes)).toEqual({
      complete: true,
      replay: bytes,
      needsRewriting: false,
    });
  });

  it('sends an empty SETTINGS frame once the preface is in, then reads the rest', async () => {
    const server = net.createServer({pauseOnConnect: true});
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      const [socket] = (await Promise.all([
        new Promise(resolve => server.once('connection', resolve)),
        new Promise(resolve => client.once('connect', resolve)),
      ])) as [net.Socket, unknown];
      const decided = new Promise<Http2Opening>(resolve => {
        readHttp2Opening(socket, Buffer.alloc(0), resolve);
      });
      client.write(opening);
      const fromServer = await new Promise<Buffer>(resolve => client.once('data', resolve));
      expect(fromServer).toEqual(frame(FrameType.settings, 0, 0));
      const first = request('http://a/');
      client.write(Buffer.concat([settingsAck, first]));
      const result = await decided;
      expect(result).toMatchObject({
        needsRewriting: true,
        replay: Buffer.concat([opening, first]),
      });
      expect(socket.isPaused()).toBe(true);
      socket.destroy();
    } finally {
      client.destroy();
      server.close();
    }
  });
});
