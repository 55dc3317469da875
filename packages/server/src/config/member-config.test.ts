import {describe, expect, it} from 'vitest';

import {
  ConfigError,
  parseInitialCluster,
  parseRetention,
  resolveMemberConfig,
} from './member-config.js';
import {clusterIdFor, memberIdFor} from './member-ids.js';

describe('member configuration', () => {
  it('starts one member on 127.0.0.1:2379 (peer 2380) with data in default.synod when given nothing', () => {
    const c = resolveMemberConfig();
    expect(c.name).toBe('default');
    expect(c.dataDir).toBe('default.synod');
    expect(c.listenClientUrls.map(u => u.href)).toEqual(['http://127.0.0.1:2379/']);
    expect(c.listenPeerUrls.map(u => u.href)).toEqual(['http://127.0.0.1:2380/']);
    expect([...c.initialCluster.keys()]).toEqual(['default']);
    expect(c.initialClusterState).toBe('new');
    expect(c.maxRequestBytes).toBe(1_572_864);
    expect(c.maxTxnOps).toBe(128);
    expect(c.quotaBackendBytes).toBe(2 * 1024 ** 3);
    expect(c.electionTimeoutMs).toBe(1000);
    expect(c.heartbeatIntervalMs).toBe(100);
  });

  it('derives advertised URLs and the one-member cluster from the listen URLs', () => {
    const c = resolveMemberConfig({
      name: 'm1',
      listenClientUrls: 'http://127.0.0.1:23790',
      listenPeerUrls: 'http://127.0.0.1:23800',
    });
    expect(c.advertiseClientUrls.map(u => u.origin)).toEqual(['http://127.0.0.1:23790']);
    expect(c.initialCluster.get('m1')?.map(u => u.origin)).toEqual(['http://127.0.0.1:23800']);
    expect(c.dataDir).toBe('m1.synod');
  });

  it('parses a three-member initial cluster', () => {
    const cluster = parseInitialCluster(
      'a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://127.0.0.1:3,c=http://127.0.0.2:3',
    );
    expect([...cluster.keys()]).toEqual(['a', 'b', 'c']);
    expect(cluster.get('c')?.map(u => u.origin)).toEqual([
      'http://127.0.0.1:3',
      'http://127.0.0.2:3',
    ]);
  });

  it.each([
    [{listenClientUrls: 'http://localhost:2379'}, 'listen-client-urls'],
    [{listenClientUrls: 'tcp://127.0.0.1:2379'}, 'listen-client-urls'],
    [{listenPeerUrls: 'http://127.0.0.1'}, 'listen-peer-urls'],
    [{initialCluster: 'other=http://127.0.0.1:2380'}, 'initial-cluster'],
    [{initialCluster: 'default=http://127.0.0.1:9999'}, 'initial-cluster'],
    [{initialClusterState: 'joining'}, 'initial-cluster-state'],
    [{heartbeatIntervalMs: 500, electionTimeoutMs: 1000}, 'election-timeout'],
    [{electionTimeoutMs: 60_000}, 'election-timeout'],
    [{maxTxnOps: 0}, 'max-txn-ops'],
    [{snapshotCount: 1.5}, 'snapshot-count'],
    [{autoCompactionMode: 'daily'}, 'auto-compaction-mode'],
    [{autoCompactionRetention: 'soon'}, 'auto-compaction-retention'],
    [{logLevel: 'loud'}, 'log-level'],
  ])('refuses %o, naming --%s', (input, setting) => {
    expect(() => resolveMemberConfig(input)).toThrow(ConfigError);
    expect(() => resolveMemberConfig(input)).toThrow(`invalid --${setting}`);
  });

  it('reads retention as etcd does: hours by default, Go durations, revision counts', () => {
    expect(parseRetention('periodic', '1')).toBe(3_600_000);
    expect(parseRetention('periodic', '1h30m')).toBe(5_400_000);
    expect(parseRetention('periodic', '90s')).toBe(90_000);
    expect(parseRetention('periodic', '0')).toBe(0);
    expect(parseRetention('revision', '1000')).toBe(1000);
    expect(() => parseRetention('revision', '1h')).toThrow(ConfigError);
  });
});

describe('auth settings', () => {
  it('defaults to simple tokens living 300 s and bcrypt cost 10, as etcd', () => {
    const c = resolveMemberConfig({});
    expect(c.authToken).toEqual({kind: 'simple'});
    expect(c.authTokenTtlSeconds).toBe(300);
    expect(c.bcryptCost).toBe(10);
  });

  it("reads etcd's jwt options", () => {
    const c = resolveMemberConfig({
      authToken: 'jwt,pub-key=a.pem,priv-key=b.pem,sign-method=ES256,ttl=10m',
    });
    expect(c.authToken).toEqual({
      kind: 'jwt',
      signMethod: 'ES256',
      publicKeyFile: 'a.pem',
      privateKeyFile: 'b.pem',
      ttlMs: 600_000,
    });
  });

  it.each([
    ['oauth', 'is not simple or jwt'],
    ['jwt,priv-key=b.pem', 'sign-method'],
    ['jwt,sign-method=RS256', 'pub-key or priv-key'],
    ['jwt,priv-key=b.pem,sign-method=RS256,ttl=5', 'not a duration'],
    ['jwt,priv-key=b.pem,sign-method=RS256,colour=red', 'unknown jwt option'],
  ])('refuses --auth-token=%s', (value, message) => {
    expect(() => resolveMemberConfig({authToken: value})).toThrow(message);
  });

  it('refuses a bcrypt cost outside 4..31 and a zero token TTL', () => {
    expect(() => resolveMemberConfig({bcryptCost: 3})).toThrow('--bcrypt-cost');
    expect(() => resolveMemberConfig({authTokenTtlSeconds: 0})).toThrow('--auth-token-ttl');
  });
});

describe('member and cluster ids', () => {
  const urls = (...s: string[]) => s.map(x => new URL(x));

  it('gives the same member the same id whatever the order of its URLs', () => {
    expect(memberIdFor(urls('http://127.0.0.1:1', 'http://127.0.0.2:1'), 't')).toBe(
      memberIdFor(urls('http://127.0.0.2:1', 'http://127.0.0.1:1'), 't'),
    );
  });

  it("sweeps containers and TTL nodes on ZooKeeper's default clock unless told otherwise", () => {
    const defaults = resolveMemberConfig({});
    expect(defaults.zkContainerCheckIntervalMs).toBe(60_000);
    expect(defaults.zkContainerMaxPerMinute).toBe(10_000);
    expect(resolveMemberConfig({zkContainerCheckIntervalMs: 200}).zkContainerCheckIntervalMs).toBe(
      200,
    );
    expect(() => resolveMemberConfig({zkContainerCheckIntervalMs: 0})).toThrow(
      'zk-container-check-interval-ms',
    );
    expect(() => resolveMemberConfig({zkContainerMaxPerMinute: -1})).toThrow(
      'zk-container-max-per-minute',
    );
  });

  it('serves ZooKeeper over TLS on https:// zk URLs with the client certificates', () => {
    const certs = {certFile: 'cert.pem', keyFile: 'key.pem'};
    const zk = 'http://127.0.0.1:2181,https://127.0.0.1:2281';
    expect(resolveMemberConfig({listenZkUrls: 'http://127.0.0.1:2181'}).zkTls).toBeUndefined();
    expect(
      resolveMemberConfig({...certs, trustedCaFile: 'ca.pem', listenZkUrls: zk}).zkTls,
    ).toMatchObject({clientAuth: 'need', x509SuperUser: undefined, settings: {side: 'client'}});
    expect(
      resolveMemberConfig({
        ...certs,
        listenZkUrls: zk,
        zkSslClientAuth: 'none',
        zkX509Superuser: 'CN=admin',
      }).zkTls,
    ).toMatchObject({clientAuth: 'none', x509SuperUser: 'CN=admin'});
    // Its own certificates, ZooKeeper's key and trust stores, when the client port's differ.
    const own = resolveMemberConfig({
      listenZkUrls: zk,
      zkCertFile: 'zk.pem',
      zkKeyFile: 'zk-key.pem',
      zkTrustedCaFile: 'zk-ca.pem',
    }).zkTls;
    expect(own?.settings).toMatchObject({
      side: 'zk',
      certFile: 'zk.pem',
      keyFile: 'zk-key.pem',
      trustedCaFile: 'zk-ca.pem',
      clientCertAuth: true,
    });
    expect(() =>
      resolveMemberConfig({listenZkUrls: zk, zkCertFile: 'zk.pem', zkKeyFile: 'zk-key.pem'}),
    ).toThrow('--zk-trusted-ca-file');
    expect(() =>
      resolveMemberConfig({listenZkUrls: 'http://127.0.0.1:2181', zkCertFile: 'zk.pem'}),
    ).toThrow('need an https:// URL');
    expect(() => resolveMemberConfig({listenZkUrls: zk})).toThrow(
      'https ZooKeeper URLs need a certificate',
    );
    expect(() => resolveMemberConfig({...certs, listenZkUrls: zk})).toThrow('--zk-ssl-client-auth');
    expect(() =>
      resolveMemberConfig({...certs, listenZkUrls: zk, zkSslClientAuth: 'sometimes'}),
    ).toThrow('expected need, want or none');
    expect(() => resolveMemberConfig({listenZkUrls: 'tcp://127.0.0.1:2181'})).toThrow(
      'scheme must be http or https',
    );
  });

  it('keeps ids below 2^53 and above zero, so Raft and etcd can share them', () => {
    for (let port = 1; port < 200; port++) {
      const id = memberIdFor(urls(`http://127.0.0.1:${port}`), 'etcd-cluster');
      expect(Number.isSafeInteger(id)).toBe(true);
      expect(id).toBeGreaterThan(0);
    }
  });

  it('separates clusters by token and re-added members by time', () => {
    const u = urls('http://127.0.0.1:2380');
    expect(memberIdFor(u, 'a')).not.toBe(memberIdFor(u, 'b'));
    expect(memberIdFor(u, 'a', 1)).not.toBe(memberIdFor(u, 'a', 2));
  });

  it('derives the cluster id from the member set, not its order', () => {
    expect(clusterIdFor([3, 1, 2])).toBe(clusterIdFor([1, 2, 3]));
    expect(clusterIdFor([1, 2, 3])).not.toBe(clusterIdFor([1, 2, 4]));
  });
});
