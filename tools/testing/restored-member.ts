import type {EtcdClusterOptions, EtcdMember, NewMemberSpec} from './etcd-process.js';
import {Member, memberFlags, synodEntry} from './etcd-process.js';
import {installExitHook} from './process-registry.js';

/** The cluster a restored member was restored into: `--initial-cluster` and its token. */
export interface RestoredCluster {
  readonly cluster: string;
  readonly token: string;
}

/**
 * Starts one etcd or Synod member on a data directory made beforehand by `etcdctl snapshot
 * restore` or `synod snapshot restore`, with the flags it was restored with, and waits until
 * it is healthy. The process is tracked like every test member (killed by pid when the test
 * process ends); stop it with `kill()`. The data directory stays the caller's.
 */
export async function startRestoredMember(
  server: 'etcd' | 'synod',
  spec: NewMemberSpec,
  initial: RestoredCluster,
  options: EtcdClusterOptions = {},
): Promise<EtcdMember> {
  installExitHook();
  const flags = memberFlags(spec, {...initial, state: 'new'}, options);
  const command =
    server === 'etcd'
      ? {
          file: process.env.ETCD_BIN ?? 'etcd',
          args: [...flags, '--logger=zap', '--log-level=error'],
        }
      : {
          file: process.execPath,
          args: [
            '--conditions=@synod/source',
            '--import',
            'tsx',
            synodEntry,
            '--log-level=error',
            ...flags,
          ],
        };
  const member = new Member(
    spec.name,
    spec.clientUrl,
    spec.peerUrl,
    spec.dataDir,
    command,
    options.startTimeoutMs ?? 20_000,
    options.healthTls,
  );
  member.spawn();
  try {
    await member.waitHealthy();
  } catch (error) {
    await member.kill('SIGKILL');
    throw error;
  }
  return member;
}
