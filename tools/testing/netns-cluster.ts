import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {EtcdCluster, EtcdClusterOptions, EtcdMember, NewMemberSpec} from './etcd-process.js';
import {Member, memberFlags, peerTlsFromEnvironment, synodEntry} from './etcd-process.js';
import {installExitHook} from './process-registry.js';

/**
 * Synod clusters whose members each run in a network namespace of their own,
 * joined by a bridge, so that tests can cut the network between members with
 * iptables: isolate the leader, split a minority from a majority, or cut one
 * direction only. The test process reaches every member through the bridge.
 *
 *   bridge synbr<k> 10.213.<k>.1/24 (this namespace)
 *     ├── veth ── netns syn<k>-0: member m0 at 10.213.<k>.10:2379 (clients), :2380 (peers)
 *     ├── veth ── netns syn<k>-1: member m1 at 10.213.<k>.11
 *     └── ...
 *
 * Needs root, `ip` (iproute2) and `iptables`; {@link netnsSkipReason} says why
 * not when they are missing. Every namespace, link and process is removed by
 * `stop()`, and by an exit hook if a test dies first.
 */

const clientPort = 2379;
const peerPort = 2380;

function run(args: readonly string[]): void {
  execFileSync(args[0] ?? '', args.slice(1), {stdio: ['ignore', 'ignore', 'pipe']});
}

function runQuietly(args: readonly string[]): void {
  spawnSync(args[0] ?? '', args.slice(1), {stdio: 'ignore'});
}

function findSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'iptables']) {
    const probe = spawnSync(tool, ['-V'], {stdio: 'ignore'});
    if (probe.error !== undefined)
      return `${tool} is not installed (apt-get install iproute2 iptables)`;
  }
  // Namespaces and iptables may be refused even to root (in some containers).
  const ns = `synprobe${process.pid % 100000}`;
  try {
    run(['ip', 'netns', 'add', ns]);
    run(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '-d', '10.0.0.1', '-j', 'DROP']);
    return undefined;
  } catch (error) {
    return `network namespaces or iptables are not usable here: ${String(error)}`;
  } finally {
    runQuietly(['ip', 'netns', 'del', ns]);
  }
}

/** Why the namespace suites are skipped on this machine, or undefined when they can run. */
export const netnsSkipReason: string | undefined = findSkipReason();

/** A Synod cluster across network namespaces, with the network under the test's control. */
export interface NetnsCluster extends EtcdCluster {
  /** Cuts both directions between members `a` and `b` (indexes into `members`). */
  cut(a: number, b: number): void;
  /**
   * Stops `from` from reaching `to`'s peer port while `to` still reaches
   * `from`'s: raft messages flow one way only.
   */
  cutOneWay(from: number, to: number): void;
  /** Cuts member `i` from every other member (clients still reach it). */
  isolate(i: number): void;
  /** Removes every cut. */
  heal(): void;
}

const liveNetworks = new Set<() => void>();
let networkHookInstalled = false;

function installNetworkHook(): void {
  if (networkHookInstalled) return;
  networkHookInstalled = true;
  process.on('exit', () => {
    for (const teardown of liveNetworks) teardown();
  });
}

/**
 * Starts `options.members` Synod members (3 by default), each in its own
 * network namespace, and waits until all are healthy.
 */
export async function startSynodInNetns(options: EtcdClusterOptions = {}): Promise<NetnsCluster> {
  if (netnsSkipReason !== undefined) throw new Error(netnsSkipReason);
  installExitHook();
  installNetworkHook();
  const count = options.members ?? 3;
  // One /24 per test process, so that parallel test files do not collide.
  const k = 1 + (process.pid % 250);
  const bridge = `synbr${k}`;
  const nsOf = (i: number) => `syn${k}-${i}`;
  const ipOf = (i: number) => `10.213.${k}.${10 + i}`;
  const root = mkdtempSync(join(tmpdir(), 'synod-netns-'));

  const teardown = () => {
    for (let i = 0; i < count; i++) {
      runQuietly(['ip', 'netns', 'del', nsOf(i)]);
      runQuietly(['ip', 'link', 'del', `sv${k}a${i}`]);
    }
    runQuietly(['ip', 'link', 'del', bridge]);
    rmSync(root, {recursive: true, force: true});
  };
  // Leftovers of an earlier run that died before its teardown.
  teardown();
  liveNetworks.add(teardown);

  run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
  run(['ip', 'addr', 'add', `10.213.${k}.1/24`, 'dev', bridge]);
  run(['ip', 'link', 'set', bridge, 'up']);
  for (let i = 0; i < count; i++) {
    const ns = nsOf(i);
    const outside = `sv${k}a${i}`;
    const inside = `sv${k}b${i}`;
    run(['ip', 'netns', 'add', ns]);
    run(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    run(['ip', 'link', 'set', inside, 'netns', ns]);
    run(['ip', 'link', 'set', outside, 'master', bridge]);
    run(['ip', 'link', 'set', outside, 'up']);
    run(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${ipOf(i)}/24`, 'dev', inside]);
    run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']);
    run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }

  const tlsOptions = peerTlsFromEnvironment(options);
  const specs = Array.from({length: count}, (_, i) => ({
    name: `m${i}`,
    clientUrl: `http://${ipOf(i)}:${clientPort}`,
    peerUrl: `${tlsOptions.peerScheme ?? 'http'}://${ipOf(i)}:${peerPort}`,
    dataDir: join(root, `m${i}`),
  }));
  const initialCluster = specs.map(s => `${s.name}=${s.peerUrl}`).join(',');
  const token = `netns-${process.pid}-${k}`;
  const members = specs.map(
    (spec, i) =>
      new Member(
        spec.name,
        spec.clientUrl,
        spec.peerUrl,
        spec.dataDir,
        {
          file: 'ip',
          // `ip netns exec` execs the command, so the member's pid is the spawned pid.
          args: [
            'netns',
            'exec',
            nsOf(i),
            process.execPath,
            '--conditions=@synod/source',
            '--import',
            'tsx',
            synodEntry,
            `--log-level=${process.env.SYNOD_TEST_LOG ?? 'error'}`,
            ...memberFlags(spec, {cluster: initialCluster, token, state: 'new'}, tlsOptions),
          ],
        },
        options.startTimeoutMs ?? 30_000,
      ),
  );

  const iptables = (i: number, rule: readonly string[]) => {
    run(['ip', 'netns', 'exec', nsOf(i), 'iptables', '-A', ...rule, '-j', 'DROP']);
  };
  let stopped = false;
  const cluster: NetnsCluster = {
    members,
    endpoints: members.map(m => m.clientUrl),
    get pids() {
      return members.flatMap(m => (m.pid === undefined ? [] : [m.pid]));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const member of members) await member.kill('SIGKILL');
      teardown();
      liveNetworks.delete(teardown);
    },
    newMemberSpec(): Promise<NewMemberSpec> {
      return Promise.reject(new Error('adding members is not supported across namespaces'));
    },
    startAdded(): Promise<EtcdMember> {
      return Promise.reject(new Error('adding members is not supported across namespaces'));
    },
    cut(a, b) {
      iptables(a, ['OUTPUT', '-d', ipOf(b)]);
      iptables(a, ['INPUT', '-s', ipOf(b)]);
      iptables(b, ['OUTPUT', '-d', ipOf(a)]);
      iptables(b, ['INPUT', '-s', ipOf(a)]);
    },
    cutOneWay(from, to) {
      // Only connections `from` opens to `to`'s peer port: the replies on
      // connections `to` opened still flow, so `to` keeps sending to `from`.
      iptables(from, ['OUTPUT', '-d', ipOf(to), '-p', 'tcp', '--dport', String(peerPort)]);
    },
    isolate(i) {
      for (let j = 0; j < count; j++) if (j !== i) cluster.cut(i, j);
    },
    heal() {
      for (let i = 0; i < count; i++) run(['ip', 'netns', 'exec', nsOf(i), 'iptables', '-F']);
    },
  };
  try {
    for (const member of members) member.spawn();
    await Promise.all(members.map(m => m.waitHealthy()));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
