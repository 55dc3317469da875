import {describe, expect, it} from 'vitest';

import {JuteDecodeError, JuteReader} from './jute-reader.js';
import {JuteWriter} from './jute-writer.js';
import {PacketFramer} from './packet-framer.js';
import {zkPathError} from './zk-path.js';
import {ZkWire} from './zk-wire.js';

describe('jute encoding', () => {
  it('writes a ConnectRequest as ZooKeeper lays it out', () => {
    // ConnectRequest{int protocolVersion, long lastZxidSeen, int timeOut, long sessionId,
    // buffer passwd, boolean readOnly}, behind its 4-byte length.
    const packet = new JuteWriter()
      .int(0)
      .long(0x1234n)
      .int(30_000)
      .long(0n)
      .buffer(Buffer.alloc(16))
      .bool(false)
      .packet();
    expect(packet.toString('hex')).toBe(
      '0000002d' + // 45 bytes follow
        '00000000' +
        '0000000000001234' +
        '00007530' +
        '0000000000000000' +
        '00000010' +
        '00'.repeat(16) +
        '00',
    );
  });

  it('writes a null buffer and string as length -1, and reads them back as null', () => {
    const bytes = new JuteWriter().buffer(null).string(null).string('é').bytes();
    expect(bytes.toString('hex')).toBe('ffffffff' + 'ffffffff' + '00000002c3a9');
    const r = new JuteReader(bytes);
    expect(r.buffer()).toBeNull();
    expect(r.string()).toBeNull();
    expect(r.string()).toBe('é');
    expect(r.remaining).toBe(0);
  });

  it('writes Stat in its wire order: czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid', () => {
    const w = new JuteWriter();
    ZkWire.writeStat(w, {
      czxid: 1,
      mzxid: 2,
      ctime: 3,
      mtime: 4,
      version: 5,
      cversion: 6,
      aversion: 7,
      ephemeralOwner: 8n,
      dataLength: 9,
      numChildren: 10,
      pzxid: 11,
    });
    const r = new JuteReader(w.bytes());
    expect([r.long(), r.long(), r.long(), r.long()]).toEqual([1n, 2n, 3n, 4n]);
    expect([r.int(), r.int(), r.int()]).toEqual([5, 6, 7]);
    expect(r.long()).toBe(8n);
    expect([r.int(), r.int()]).toEqual([9, 10]);
    expect(r.long()).toBe(11n);
    expect(w.bytes().length).toBe(68);
  });

  it('refuses a record that ends early or lies about a length', () => {
    expect(() => new JuteReader(Buffer.from([0, 0, 0])).int()).toThrow(JuteDecodeError);
    expect(() => new JuteReader(Buffer.from([0, 0, 0, 9, 1])).buffer()).toThrow(JuteDecodeError);
    expect(() => new JuteReader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).buffer()).toThrow(
      /negative length/,
    );
    expect(() => new JuteReader(Buffer.from([0x7f, 0, 0, 0])).strings()).toThrow(/overruns/);
  });
});

describe('packet framing', () => {
  it('splits a stream into packets however it is cut', () => {
    const a = new JuteWriter().int(1).packet();
    const b = new JuteWriter().string('hello').packet();
    const stream = Buffer.concat([a, b]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new PacketFramer(100);
      const out = [...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut))];
      expect(out.map(p => p.toString('hex'))).toEqual(['00000001', '0000000568656c6c6f']);
      expect(framer.pendingBytes).toBe(0);
    }
  });

  it('refuses a negative length and one above jute.maxbuffer before buffering the body', () => {
    expect(() => new PacketFramer(0xfffff).push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(
      JuteDecodeError,
    );
    expect(() => new PacketFramer(0xfffff).push(Buffer.from([0, 0x10, 0, 0]))).toThrow(
      /outside 0\.\.1048575/,
    );
    expect(new PacketFramer(0xfffff).push(Buffer.from([0, 0x0f, 0xff, 0xff]))).toEqual([]);
  });
});

describe('ZooKeeper paths', () => {
  it.each([
    ['/', undefined],
    ['/a/b', undefined],
    ['/a.b/..c', undefined],
    ['', 'Path length must be > 0'],
    ['a', 'Path must start with / character'],
    ['/a/', 'Path must not end with / character'],
    ['/a//b', 'empty node name specified @3'],
    ['/a/./b', 'relative paths not allowed @3'],
    ['/a/../b', 'relative paths not allowed @4'],
    ['/a\u0000', 'null character not allowed @2'],
    ['/a\u0007', 'invalid character @2'],
    ['/\u{1f600}', 'invalid character @1'],
  ])('%j: %s', (path, reason) => {
    expect(zkPathError(path)).toBe(reason);
  });

  it('checks a sequential prefix with a digit after it', () => {
    expect(zkPathError('/queue/', true)).toBeUndefined();
    expect(zkPathError('/queue/', false)).toBe('Path must not end with / character');
  });
});
