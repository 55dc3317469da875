import {spawn, spawnSync} from 'node:child_process';

/** Why the etcdctl comparisons are skipped here, or undefined when etcdctl runs. */
export const etcdctlSkipReason: string | undefined = findEtcdctlSkipReason();

function findEtcdctlSkipReason(): string | undefined {
  const binary = process.env.ETCDCTL_BIN ?? 'etcdctl';
  const probe = spawnSync(binary, ['version'], {
    encoding: 'utf8',
    env: {...process.env, ETCDCTL_API: '3'},
  });
  if (probe.error === undefined && probe.status === 0) return undefined;
  const reason = `etcdctl is not installed (running "${binary} version" failed): install etcdctl 3.4+ or point ETCDCTL_BIN at it`;
  // On CI a missing etcdctl must fail the build rather than silently skip the comparisons.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(reason);
  return reason;
}

/** What one etcdctl run printed. */
export interface CtlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options for {@link runCtl}. */
export interface CtlOptions {
  /** Written to the command's stdin, which is then closed. */
  readonly stdin?: string;
  /**
   * For commands that run until stopped (watch, elect, lock without a command): stop the
   * process with SIGTERM once stdout holds this many lines.
   */
  readonly stopAfterLines?: number;
  /** Kill the process after this long, 8 s by default. */
  readonly timeoutMs?: number;
}

/** Runs etcdctl (v3 API) against one endpoint. */
export async function runCtl(
  address: string,
  args: readonly string[],
  options: CtlOptions = {},
): Promise<CtlResult> {
  const binary = process.env.ETCDCTL_BIN ?? 'etcdctl';
  const child = spawn(binary, [`--endpoints=${address}`, '--dial-timeout=3s', ...args], {
    env: {...process.env, ETCDCTL_API: '3'},
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const stopAfter = options.stopAfterLines;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stopAfter !== undefined && stdout.split('\n').length > stopAfter) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // etcdctl may exit before it reads its input (most commands never do): not an error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 8000);
  const code = await new Promise<number | null>(resolve => {
    child.once('close', resolve);
  });
  clearTimeout(timer);
  if (stopAfter !== undefined) {
    // The process was stopped on purpose; keep exactly the lines asked for.
    stdout = stdout.split('\n').slice(0, stopAfter).join('\n');
    return {code: 0, stdout, stderr: ''};
  }
  return {code, stdout, stderr};
}

/**
 * Replaces what differs between two servers in etcdctl's plain output: long ids, hex or
 * decimal (member, cluster, lease), become `id#n` in order of first appearance, loopback ports
 * become `PORT`, timings become `T`, sizes become `SIZE`, and raft terms (which elections
 * decide, three members taking more than one at times) become `TERM`.
 */
export function normaliseText(text: string): string {
  const ids = new Map<string, string>();
  return text
    .replace(/\b[0-9a-f]{12,20}\b/g, id => {
      let name = ids.get(id);
      if (name === undefined) {
        name = `id#${ids.size}`;
        ids.set(id, name);
      }
      return name;
    })
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\b\d+(\.\d+)?(ns|µs|us|ms|s)\b/g, 'T')
    .replace(/\b\d+(\.\d+)? ?(B|kB|MB|KiB|MiB)\b/g, 'SIZE')
    .replace(/("RaftTerm" : |"raft_term":)\d+/g, '$1TERM');
}

/** The JSON keys whose values are per-server: member, cluster and raft fields. */
const PER_SERVER_KEYS = new Set(['cluster_id', 'member_id', 'raft_term']);

/**
 * Normalises etcdctl's `-w json` output: drops per-server header fields and renames lease
 * ids (`ID`, `lease`) in order of first appearance.
 */
export function normaliseJson(text: string): unknown {
  const leases = new Map<number, string>();
  const walk = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map(item => walk(item, key));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => !PER_SERVER_KEYS.has(k))
          .map(([k, v]) => [k, walk(v, k)]),
      );
    }
    if (typeof value === 'string') return value.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
    if (
      (key === 'ID' || key === 'lease' || key === 'id') &&
      typeof value === 'number' &&
      value !== 0
    ) {
      let name = leases.get(value);
      if (name === undefined) {
        name = `lease#${leases.size}`;
        leases.set(value, name);
      }
      return name;
    }
    return value;
  };
  const lines = text.split('\n').filter(line => line.trim() !== '');
  return lines.map(line => walk(JSON.parse(line) as unknown, ''));
}
