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
