import {describe, expect, it} from 'vitest';

import {ZkConfigNode, formatEnsembleConfig, zkClientAddressOf} from './zk-ensemble-config.js';
import type {ZkEnsemble} from './zk-ensemble-config.js';
import {statOf} from './znode-record.js';
import type {ZnodeRecord} from './znode-record.js';

describe('formatEnsembleConfig', () => {
  it('writes one server line per member and the version in hex, with no newline at the end', () => {
    expect(
      formatEnsembleConfig({
        version: 28,
        members: [
          {
            id: 2,
            peerUrl: 'http://127.0.0.1:2381',
            isLearner: false,
            zkClientAddress: '127.0.0.1:2182',
          },
          {
            id: 1,
            peerUrl: 'http://127.0.0.1:2380',
            isLearner: false,
            zkClientAddress: '127.0.0.1:2181',
          },
        ],
      }),
    ).toBe(
      'server.1=127.0.0.1:2380:0:participant;127.0.0.1:2181\n' +
        'server.2=127.0.0.1:2381:0:participant;127.0.0.1:2182\n' +
        'version=1c',
    );
  });

  it('lists a learner as an observer and a member without a ZooKeeper port without a client address', () => {
    expect(
      formatEnsembleConfig({
        version: 0,
        members: [
          {id: 1, peerUrl: 'https://m1.example:2380', isLearner: false},
          {id: 3, peerUrl: 'http://[::1]:2390', isLearner: true, zkClientAddress: '[::1]:2181'},
        ],
      }),
    ).toBe(
      'server.1=m1.example:2380:0:participant\n' +
        'server.3=[::1]:2390:0:observer;[::1]:2181\n' +
        'version=0',
    );
  });

  it("orders large ids as Java's HashMap<Long, ...> iterates them: by hash bucket", () => {
    // Long.hashCode(x) = (int)(x ^ x >>> 32), spread by h ^ h >>> 16, then masked by 15:
    // 0x10000 -> bucket 1, 0x2 -> bucket 2, 0x100000003 -> 3 ^ 1 = bucket 2, 0x3 -> bucket 3.
    const members = [0x3, 0x100000003, 0x2, 0x10000].map(id => ({
      id,
      peerUrl: 'http://127.0.0.1:1',
      isLearner: false,
    }));
    const ids = formatEnsembleConfig({version: 1, members})
      .split('\n')
      .filter(line => line.startsWith('server.'))
      .map(line => line.slice('server.'.length, line.indexOf('=')));
    expect(ids).toEqual(['65536', '2', '4294967299', '3']);
  });
});

describe('zkClientAddressOf', () => {
  it('brackets an IPv6 host, as Java writes a socket address', () => {
    expect(zkClientAddressOf({host: '127.0.0.1', port: 2181})).toBe('127.0.0.1:2181');
    expect(zkClientAddressOf({host: '::1', port: 2181})).toBe('[::1]:2181');
  });
});

describe('ZkConfigNode', () => {
  // /zookeeper/config as the first write stores it: zxids and times 0, empty.
  const record: ZnodeRecord = {
    data: new Uint8Array(),
    version: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    ctimeMs: 0,
    mtimeMs: 0,
    mzxid: 0,
    container: false,
    ttlMs: 0,
    acl: [],
  };
  const counters = {cversion: 0, pzxid: 0, numChildren: 0};
  const stored = {
    path: '/zookeeper/config',
    czxid: 0,
    record,
    counters,
    stat: statOf(0, record, counters),
  };
  const member = (id: number) => ({
    id,
    peerUrl: `http://127.0.0.1:${2379 + id}`,
    isLearner: false,
    zkClientAddress: `127.0.0.1:${2180 + id}`,
  });

  it('gives the stat ZooKeeper gives a configuration taken on: mzxid its version, version -1, mtime when taken on', () => {
    let ensemble: ZkEnsemble = {version: 0x1c, members: [member(1), member(2)]};
    let nowMs = 1_000;
    const node = new ZkConfigNode(
      () => ensemble,
      () => nowMs,
    );
    const first = node.serve(stored).stat;
    expect(first).toEqual({
      ...stored.stat,
      mzxid: 0x1c,
      mtime: 1_000,
      version: -1,
      dataLength: Buffer.byteLength(formatEnsembleConfig(ensemble)),
    });

    ensemble = {version: 0x2a, members: [member(1), member(2), member(3)]};
    nowMs = 2_000;
    expect(node.refresh()).toBe(true);
    expect(node.serve(stored).stat).toMatchObject({czxid: 0, ctime: 0, mzxid: 0x2a, mtime: 2_000});
  });

  it('serves a single member the stored node, as a standalone ZooKeeper serves it', () => {
    const node = new ZkConfigNode(
      () => ({version: 7, members: [member(1)]}),
      () => 1_000,
    );
    expect(node.serve(stored)).toBe(stored);
  });
});
