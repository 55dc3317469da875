import net from 'node:net';

import {afterEach, describe, expect, it} from 'vitest';

import {FrameDecoder, FrameTooLargeError, writeFrame} from './raft-stream.js';

function framed(payload: number[]): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, Buffer.from(payload)]);
}

describe('raft stream frames', () => {
  it('returns nothing until a frame is whole, then every frame a chunk completes', () => {
    const decoder = new FrameDecoder(1024);
    const bytes = Buffer.concat([framed([1, 2, 3]), framed([]), framed([9])]);
    expect(decoder.push(bytes.subarray(0, 2))).toEqual([]);
    expect(decoder.push(bytes.subarray(2, 6))).toEqual([]);
    const frames = decoder.push(bytes.subarray(6));
    expect(frames.map(f => [...f])).toEqual([[1, 2, 3], [], [9]]);
  });

  it('cuts frames the same way whatever the chunk boundaries', () => {
    const payloads = Array.from({length: 40}, (_, i) =>
      Array.from({length: (i * 37) % 300}, (_, j) => (i + j) % 256),
    );
    const stream = Buffer.concat(payloads.map(framed));
    for (const chunkBytes of [1, 3, 4, 5, 64, 1000, stream.length]) {
      const decoder = new FrameDecoder(1024);
      const frames: number[][] = [];
      for (let at = 0; at < stream.length; at += chunkBytes) {
        for (const f of decoder.push(stream.subarray(at, at + chunkBytes))) frames.push([...f]);
      }
      expect(frames).toEqual(payloads);
    }
  });

  it('refuses a frame longer than the limit as soon as its length is read', () => {
    const decoder = new FrameDecoder(100);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(101, 0);
    expect(() => decoder.push(head)).toThrow(FrameTooLargeError);
    expect(() =>
      new FrameDecoder(100).push(framed(Array.from({length: 100}, () => 0))),
    ).not.toThrow();
  });
});

describe('writeFrame over a socket', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it('delivers large frames and small ones around them intact and in order', async () => {
    const received: Buffer[] = [];
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    let done: () => void = () => undefined;
    const allIn = new Promise<void>(resolve => {
      done = resolve;
    });
    const server = net.createServer(socket => {
      socket.on('data', chunk => {
        received.push(...decoder.push(chunk));
        if (received.length === 5) done();
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    const {port} = server.address() as net.AddressInfo;
    const client = net.connect({port, host: '127.0.0.1'});
    closers.push(() => client.destroy());
    const big = Buffer.alloc(3 * 1024 * 1024, 0x5a);
    big[big.length - 1] = 7;
    // Frames up to 16 KiB are copied behind their prefix, larger ones written after it.
    const copied = Buffer.alloc(16 * 1024, 0x11);
    const notCopied = Buffer.alloc(16 * 1024 + 1, 0x22);
    writeFrame(client, Buffer.from('first'));
    writeFrame(client, big);
    writeFrame(client, copied);
    writeFrame(client, notCopied);
    writeFrame(client, Buffer.from('last'));
    await allIn;
    expect(received[0]?.toString()).toBe('first');
    expect(received[1]?.equals(big)).toBe(true);
    expect(received[2]?.equals(copied)).toBe(true);
    expect(received[3]?.equals(notCopied)).toBe(true);
    expect(received[4]?.toString()).toBe('last');
  });
});
