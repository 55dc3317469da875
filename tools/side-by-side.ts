/**
 * What the tools that measure etcd and Synod side by side (`bench:compare`, `bench:tls`,
 * `bench:gateway`) share: which member leads, how much CPU a member process has used, the
 * machine a figure was measured on, and how repetitions are summed up.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {availableParallelism, cpus} from 'node:os';
import {fileURLToPath} from 'node:url';

import {MaintenanceDefinition} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';
import type {ChannelCredentials} from 'nice-grpc';

/** The unit of the times in /proc/<pid>/stat (`getconf CLK_TCK`: 100 on Linux). */
const clockTicksPerSecond = 100;

/** User plus system CPU time of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it are counted from its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/**
 * The client address (`host:port`) of the member that leads, asked of each member in turn
 * over gRPC (Maintenance.Status) until one says it is the leader; up to 10 s while an
 * election settles.
 */
export async function leaderOf(
  addresses: readonly string[],
  credentials?: ChannelCredentials,
): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const address of addresses) {
      const channel = createChannel(address, credentials);
      try {
        const status = await createClient(MaintenanceDefinition, channel).status({});
        if (status.leader !== 0n && status.leader === status.header?.memberId) return address;
      } catch {
        // Not ready yet.
      } finally {
        channel.close();
      }
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(`no leader among ${addresses.join(', ')} after 10 s`);
}

/** The machine and versions a run measured: cores, Node.js, etcd and Synod's commit. */
export function describeMachine(): {cpu: string; node: string; etcd: string; commit: string} {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const etcd = spawnSync('etcd', ['--version'], {encoding: 'utf8'}).stdout.split('\n')[0];
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {cwd: root, encoding: 'utf8'});
  return {
    cpu: `${availableParallelism()} x ${cpus()[0]?.model ?? 'unknown'}`,
    node: process.version,
    etcd: etcd ?? 'unknown',
    // Outside a git checkout (an exported tree) there is no commit to name.
    commit: commit.stdout.trim() || 'unknown',
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** `median (min–max)`, each with `digits` decimals. */
export function spread(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '-';
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}
