import {describe, expect, it} from 'vitest';

import {zkSessionOf, znodePathOf} from './zk-sessions.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const int32 = (n: number) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, n);
  return bytes;
};

describe('ZooKeeper sessions in the keyspace', () => {
  it('reads a session record: id in hex without leading zeros, its lease in decimal, its timeout', () => {
    expect(zkSessionOf(utf8('__synod/zk/s/00000000000001a2'), int32(30_000))).toEqual({
      idHex: '1a2',
      lease: '418',
      timeoutMs: 30_000,
    });
  });

  it('keeps a 64-bit session id exact', () => {
    expect(zkSessionOf(utf8('__synod/zk/s/ffffffffffffffff'), int32(4000))?.lease).toBe(
      '18446744073709551615',
    );
  });

  it('ignores keys that are not session records, or records too short to hold a timeout', () => {
    expect(zkSessionOf(utf8('__synod/zk/s/xyz'), int32(1))).toBeUndefined();
    expect(zkSessionOf(utf8('__synod/zk/n/1/a'), int32(1))).toBeUndefined();
    expect(zkSessionOf(utf8('__synod/zk/s/0000000000000001'), new Uint8Array(2))).toBeUndefined();
  });

  it('gives the znode path of a node key, depth digits dropped', () => {
    expect(znodePathOf(utf8('__synod/zk/n/2/app/lock-0000000001'))).toBe('/app/lock-0000000001');
    expect(znodePathOf(utf8('__synod/zk/n/12/a/b/c/d/e/f/g/h/i/j/k/l'))).toBe(
      '/a/b/c/d/e/f/g/h/i/j/k/l',
    );
    expect(znodePathOf(utf8('__synod/zk/s/0000000000000001'))).toBeUndefined();
  });
});
