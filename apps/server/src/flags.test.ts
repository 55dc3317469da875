import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {parseCommandLine, UsageError, usage} from './flags.js';

describe('synod command line', () => {
  it('runs with defaults when given nothing', () => {
    expect(parseCommandLine([], {})).toEqual({kind: 'run', config: {}});
  });

  it("takes etcd's flags in both --flag value and --flag=value forms", () => {
    const cmd = parseCommandLine(
      [
        '--name',
        'infra1',
        '--data-dir=/var/lib/synod',
        '--listen-client-urls',
        'http://127.0.0.1:2379',
        '--initial-cluster',
        'infra1=http://127.0.0.1:2380',
        '--initial-cluster-state=new',
        '--heartbeat-interval',
        '50',
        '--election-timeout=500',
        '--max-txn-ops',
        '256',
        '--auto-compaction-retention',
        '1h',
      ],
      {},
    );
    expect(cmd).toEqual({
      kind: 'run',
      config: {
        name: 'infra1',
        dataDir: '/var/lib/synod',
        listenClientUrls: 'http://127.0.0.1:2379',
        initialCluster: 'infra1=http://127.0.0.1:2380',
        initialClusterState: 'new',
        heartbeatIntervalMs: 50,
        electionTimeoutMs: 500,
        maxTxnOps: 256,
        autoCompactionRetention: '1h',
      },
    });
  });

  it('reads SYNOD_* variables, and lets a flag override its variable', () => {
    const cmd = parseCommandLine(['--name', 'fromflag'], {
      SYNOD_NAME: 'fromenv',
      SYNOD_DATA_DIR: 'd',
      SYNOD_SNAPSHOT_COUNT: '5000',
      SYNOD_STRICT_RECONFIG_CHECK: 'false',
    });
    expect(cmd).toEqual({
      kind: 'run',
      config: {name: 'fromflag', dataDir: 'd', snapshotCount: 5000, strictReconfigCheck: false},
    });
  });

  it("reads etcd's own ETCD_* variables, as a container manifest written for etcd sets them", () => {
    const cmd = parseCommandLine([], {
      ETCD_NAME: 'infra0',
      ETCD_DATA_DIR: '/var/lib/etcd',
      ETCD_CERT_FILE: '/etc/etcd/server.crt',
      ETCD_CLIENT_CERT_AUTH: 'true',
      ETCD_PEER_CERT_ALLOWED_CN: 'member',
      ETCDCTL_API: '3',
    });
    expect(cmd).toEqual({
      kind: 'run',
      config: {
        name: 'infra0',
        dataDir: '/var/lib/etcd',
        certFile: '/etc/etcd/server.crt',
        clientCertAuth: true,
        peerCertAllowedCn: 'member',
      },
    });
  });

  it("refuses an ETCD_* variable beside its own flag, with etcd's message, and reports unknown ones", () => {
    expect(() => parseCommandLine(['--name', 'a'], {ETCD_NAME: 'b'})).toThrow(
      'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
    );
    expect(parseCommandLine([], {ETCD_ENABLE_V2: 'true'})).toEqual({
      kind: 'run',
      config: {},
      warnings: ['unrecognized environment variable ETCD_ENABLE_V2=true'],
    });
  });

  it("reads etcd's YAML configuration file, TLS sections included, and nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-flags-'));
    try {
      const file = join(dir, 'etcd.conf.yml');
      writeFileSync(
        file,
        [
          'name: infra1',
          'data-dir: /var/lib/etcd',
          'heartbeat-interval: 100',
          'election-timeout: 1000',
          "listen-client-urls: 'https://10.0.0.1:2379'",
          'initial-cluster-state: new',
          'strict-reconfig-check: true',
          'enable-v2: true',
          'cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]',
          'client-transport-security:',
          '  cert-file: /etc/etcd/server.crt',
          '  key-file: /etc/etcd/server.key',
          '  client-cert-auth: true',
          '  trusted-ca-file: /etc/etcd/ca.crt',
          '  auto-tls: false',
          'peer-transport-security:',
          '  cert-file: /etc/etcd/peer.crt',
          '  key-file:',
          '  allowed-cn: member',
          '',
        ].join('\n'),
      );
      const cmd = parseCommandLine(['--config-file', file, '--name', 'ignored'], {
        ETCD_DATA_DIR: '/ignored',
      });
      expect(cmd).toEqual({
        kind: 'run',
        config: {
          name: 'infra1',
          dataDir: '/var/lib/etcd',
          heartbeatIntervalMs: 100,
          electionTimeoutMs: 1000,
          listenClientUrls: 'https://10.0.0.1:2379',
          initialClusterState: 'new',
          strictReconfigCheck: true,
          cipherSuites:
            'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
          certFile: '/etc/etcd/server.crt',
          keyFile: '/etc/etcd/server.key',
          clientCertAuth: true,
          trustedCaFile: '/etc/etcd/ca.crt',
          autoTls: false,
          peerCertFile: '/etc/etcd/peer.crt',
          peerCertAllowedCn: 'member',
        },
        warnings: [
          `loading server configuration from ${JSON.stringify(file)}; other configuration command line flags and environment variables are ignored`,
          `${file}: enable-v2 is not supported by synod; ignored`,
        ],
      });
      expect(() => parseCommandLine(['--config-file', join(dir, 'missing.yml')], {})).toThrow(
        /cannot read --config-file .*missing\.yml: ENOENT/,
      );
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });

  it('reads a bare boolean flag as true and --flag=false as false', () => {
    expect(parseCommandLine(['--strict-reconfig-check'], {})).toEqual({
      kind: 'run',
      config: {strictReconfigCheck: true},
    });
    expect(parseCommandLine(['--strict-reconfig-check=false'], {})).toEqual({
      kind: 'run',
      config: {strictReconfigCheck: false},
    });
  });

  it.each([
    [['--no-such-flag']],
    [['--snapshot-count', 'many']],
    [['--strict-reconfig-check=maybe']],
    [['positional']],
  ])('refuses %j with a usage error', argv => {
    expect(() => parseCommandLine(argv, {})).toThrow(UsageError);
  });

  it('answers --help and --version', () => {
    expect(parseCommandLine(['--help'], {})).toEqual({kind: 'help'});
    expect(parseCommandLine(['--version'], {})).toEqual({kind: 'version'});
    expect(usage()).toContain('--initial-cluster-token');
  });
});
