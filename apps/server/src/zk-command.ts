import {parseArgs} from 'node:util';

import {ConfigError, importZooKeeper, resolveMemberConfig} from '@synod/server';

import {UsageError} from './flags.js';

export function zkUsage(): string {
  return [
    'Usage: synod zk import <zookeeper data dir> [flags]',
    '',
    'import creates the data directory of one member of a NEW cluster from the files of a',
    'stopped ZooKeeper 3.x server (its dataDir, holding version-2/): the newest snapshot, then',
    'every transaction logged after it, as ZooKeeper restores them. Every znode comes with its',
    'data, ACL, version, cversion, aversion, ctime and mtime; zxids become revisions in the same',
    'order; sessions end, so ephemerals are dropped (and containers they leave empty). A bad or',
    'truncated file is refused, naming the file and the offset, and nothing is created.',
    '',
    `  ${'--data-dir <value>'.padEnd(40)} data directory to create (default: \${name}.synod)`,
    `  ${'--zk-log-dir <value>'.padEnd(40)} ZooKeeper's dataLogDir, if its logs are kept apart`,
    `  ${'--name <value>'.padEnd(40)} this member's name (default: default)`,
    `  ${'--initial-cluster <value>'.padEnd(40)} the new cluster: name=peerURL,name=peerURL,...`,
    `  ${'--initial-cluster-token <value>'.padEnd(40)} the new cluster's token (default: etcd-cluster)`,
    `  ${'--initial-advertise-peer-urls <value>'.padEnd(40)} this member's peer URLs`,
    '',
    'Import every member of the new cluster from the same files with the same',
    '--initial-cluster and --initial-cluster-token.',
    '',
  ].join('\n');
}

/**
 * Runs `synod zk <import> ...` and resolves with the exit code: 0 done, 1 the import failed
 * (`Error: <file>: offset <n>: <problem>` on stderr), 2 a command line that cannot be
 * understood.
 */
export async function runZkCommand(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv;
  try {
    if (action === undefined || action === '--help' || action === '-h') {
      process.stdout.write(zkUsage());
      return action === undefined ? 2 : 0;
    }
    if (action === 'import') return await runImport(rest);
    throw new UsageError(`unknown zk command ${JSON.stringify(action)}`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`synod: ${err.message}\nRun synod zk --help for the flags.\n`);
      return 2;
    }
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function runImport(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        name: {type: 'string'},
        'data-dir': {type: 'string'},
        'zk-log-dir': {type: 'string'},
        'initial-cluster': {type: 'string'},
        'initial-cluster-token': {type: 'string'},
        'initial-advertise-peer-urls': {type: 'string'},
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const [zkDataDir, ...extra] = parsed.positionals;
  if (zkDataDir === undefined) throw new UsageError('the ZooKeeper data directory is not given');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const v = parsed.values;
  const input = {
    name: v.name,
    dataDir: v['data-dir'],
    initialCluster: v['initial-cluster'],
    initialClusterToken: v['initial-cluster-token'],
    initialAdvertisePeerUrls: v['initial-advertise-peer-urls'],
  };
  // The member's own checks: this member is in --initial-cluster with the URLs it advertises.
  const config = resolveMemberConfig(
    Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)),
  );
  const zkLogDir = v['zk-log-dir'];
  const started = process.hrtime.bigint();
  const result = await importZooKeeper({
    zkDataDir,
    ...(zkLogDir === undefined ? {} : {zkLogDir}),
    name: config.name,
    initialCluster: config.initialCluster,
    initialClusterToken: config.initialClusterToken,
    dataDir: config.dataDir,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const hex = (z: number): string => `0x${z.toString(16)}`;
  process.stdout.write(
    [
      `imported ${result.znodes} znodes into ${config.dataDir} in ${seconds.toFixed(2)} s`,
      `  snapshot ${result.snapshot} (zxid ${hex(result.snapshotZxid)})`,
      `  ${result.transactions} transactions replayed from ${result.logs.length} log file(s), up to zxid ${hex(result.lastZxid)}`,
      `  ${result.sessions} session(s) ended: ${result.droppedEphemerals} ephemeral(s) and ${result.droppedContainers} empty container(s) dropped`,
      `  revision ${result.revision}, member ${result.memberId.toString(16)}, cluster ${result.clusterId.toString(16)}`,
      '',
    ].join('\n'),
  );
  return 0;
}
