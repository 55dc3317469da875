import {parseArgs} from 'node:util';
import type {ParseArgsConfig} from 'node:util';

import {ConfigError, resolveMemberConfig, restoreSnapshot, snapshotStatus} from '@synod/server';
import type {SnapshotStatus} from '@synod/server';
import {pino} from 'pino';

import {UsageError} from './flags.js';

export function snapshotUsage(): string {
  return [
    'Usage: synod snapshot restore <file> [flags]',
    '       synod snapshot status <file> [-w simple|table|json]',
    '',
    'restore creates the data directory of one member of a NEW cluster from a file',
    'written by `etcdctl snapshot save` from etcd 3.4/3.5 or from Synod: keys, revisions,',
    'leases, users and roles are kept, the membership is the one given here. Restore',
    'every member from the same file with the same --initial-cluster and',
    '--initial-cluster-token.',
    '',
    `  ${'--name <value>'.padEnd(40)} this member's name (default: default)`,
    `  ${'--data-dir <value>'.padEnd(40)} data directory to create (default: \${name}.synod)`,
    `  ${'--initial-cluster <value>'.padEnd(40)} the new cluster: name=peerURL,name=peerURL,...`,
    `  ${'--initial-cluster-token <value>'.padEnd(40)} the new cluster's token (default: etcd-cluster)`,
    `  ${'--initial-advertise-peer-urls <value>'.padEnd(40)} this member's peer URLs`,
    `  ${'--skip-hash-check'.padEnd(40)} do not check the file's sha256 (a file copied from a data dir)`,
    '',
    'status prints the hash, revision, total keys and total size of a snapshot file,',
    'as etcdctl snapshot status does.',
    '',
  ].join('\n');
}

/**
 * Runs `synod snapshot <restore|status> <file> ...` and resolves with the exit
 * code: 0 done, 1 the command failed (printed as etcdctl prints it,
 * `Error: ...`), 2 a command line that cannot be understood.
 */
export async function runSnapshotCommand(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv;
  try {
    if (action === undefined || action === '--help' || action === '-h') {
      process.stdout.write(snapshotUsage());
      return action === undefined ? 2 : 0;
    }
    if (action === 'restore') return await restore(rest);
    if (action === 'status') return await status(rest);
    throw new UsageError(`unknown snapshot command ${JSON.stringify(action)}`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`synod: ${err.message}\nRun synod snapshot --help for the flags.\n`);
      return 2;
    }
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Parses `<file> [flags]`: exactly one snapshot path and the given flags, nothing else. */
function parse(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
): {file: string; values: Record<string, unknown>} {
  let parsed;
  try {
    parsed = parseArgs({args: [...argv], strict: true, allowPositionals: true, options});
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) {
    throw new UsageError('snapshot path is not given');
  }
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  }
  return {file, values: parsed.values};
}

async function restore(argv: readonly string[]): Promise<number> {
  const {file, values} = parse(argv, {
    name: {type: 'string'},
    'data-dir': {type: 'string'},
    'initial-cluster': {type: 'string'},
    'initial-cluster-token': {type: 'string'},
    'initial-advertise-peer-urls': {type: 'string'},
    'skip-hash-check': {type: 'boolean'},
  });
  const str = (flag: string): string | undefined => {
    const v = values[flag];
    return typeof v === 'string' ? v : undefined;
  };
  const input = {
    name: str('name'),
    dataDir: str('data-dir'),
    initialCluster: str('initial-cluster'),
    initialClusterToken: str('initial-cluster-token'),
    initialAdvertisePeerUrls: str('initial-advertise-peer-urls'),
  };
  // The member's own checks: this member is in --initial-cluster with the URLs it advertises.
  const config = resolveMemberConfig(
    Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  );
  const logger = pino({base: null}, pino.destination({dest: 2, sync: true}));
  logger.info({path: file, dataDir: config.dataDir}, 'restoring snapshot');
  const result = await restoreSnapshot({
    snapshotPath: file,
    name: config.name,
    initialCluster: config.initialCluster,
    initialClusterToken: config.initialClusterToken,
    dataDir: config.dataDir,
    skipHashCheck: values['skip-hash-check'] === true,
  });
  logger.info(
    {
      path: file,
      dataDir: config.dataDir,
      memberId: result.memberId.toString(16),
      clusterId: result.clusterId.toString(16),
      members: result.members.map(m => `${m.name}=${m.id.toString(16)}`),
      revision: result.revision,
    },
    'restored snapshot',
  );
  return 0;
}

async function status(argv: readonly string[]): Promise<number> {
  const {file, values} = parse(argv, {'write-out': {type: 'string', short: 'w'}});
  const format = typeof values['write-out'] === 'string' ? values['write-out'] : 'simple';
  if (!['simple', 'table', 'json'].includes(format)) {
    throw new UsageError(`unsupported output format ${JSON.stringify(format)}`);
  }
  const result = await snapshotStatus(file);
  process.stdout.write(formatStatus(result, format));
  return 0;
}

/** etcdctl's three renderings of a snapshot status. */
export function formatStatus(s: SnapshotStatus, format: string): string {
  if (format === 'json') {
    return `${JSON.stringify({hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize})}\n`;
  }
  const row = [
    s.hash.toString(16),
    String(s.revision),
    String(s.totalKey),
    humanBytes(s.totalSize),
  ];
  if (format === 'simple') return `${row.join(', ')}\n`;
  const header = ['HASH', 'REVISION', 'TOTAL KEYS', 'TOTAL SIZE'];
  const widths = header.map((h, i) => Math.max(h.length, (row[i] ?? '').length));
  const rule = `+${widths.map(w => '-'.repeat(w + 2)).join('+')}+`;
  const centre = (text: string, w: number): string => {
    const left = Math.floor((w - text.length) / 2);
    return ' '.repeat(left) + text + ' '.repeat(w - text.length - left);
  };
  const head = `| ${header.map((h, i) => centre(h, widths[i] ?? 0)).join(' | ')} |`;
  const body = `| ${row.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  return `${[rule, head, rule, body, rule].join('\n')}\n`;
}

/** A size in SI units as etcdctl prints it (go-humanize's `Bytes`): `20 kB`, `2.1 MB`. */
export function humanBytes(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(bytes) / Math.log(1000));
  const value = Math.floor((bytes / 1000 ** e) * 10 + 0.5) / 10;
  const unit = units[e] ?? 'EB';
  if (value < 10) return `${value.toFixed(1)} ${unit}`;
  // Go's %.0f rounds a half to the even neighbour.
  const whole = Math.floor(value);
  const rounded = value - whole === 0.5 ? (whole % 2 === 0 ? whole : whole + 1) : Math.round(value);
  return `${rounded} ${unit}`;
}
