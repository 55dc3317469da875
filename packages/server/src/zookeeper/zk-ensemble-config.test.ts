import {describe, expect, it} from 'vitest';

import {formatEnsembleConfig, zkClientAddressOf} from './zk-ensemble-config.js';

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
