import {execFile} from 'node:child_process';

import type {EtcdCluster} from '@synod/testing';
import {etcdSkipReason, readMetric, startSynod, waitFor} from '@synod/testing';
import {afterEach, describe, expect, it} from 'vitest';

interface Ctl {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `etcdctl` (API v3) against `endpoints`. */
function etcdctl(endpoints: readonly string[], args: readonly string[]): Promise<Ctl> {
  return new Promise(resolve => {
    execFile(
      'etcdctl',
      [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=3s', '--command-timeout=15s', ...args],
      {env: {...process.env, ETCDCTL_API: '3'}, timeout: 30_000},
      (error, stdout, stderr) => {
        resolve({ok: error === null, stdout, stderr});
      },
    );
  });
}

interface ListedMember {
  readonly ID: string;
  readonly name?: string;
  readonly peerURLs: string[];
  readonly clientURLs?: string[];
  readonly isLearner?: boolean;
}

/** `etcdctl member list -w json`, with ids as decimal strings (JSON numbers lose bits). */
async function memberList(endpoints: readonly string[]): Promise<ListedMember[]> {
  const r = await etcdctl(endpoints, ['member', 'list', '-w', 'json']);
  if (!r.ok) throw new Error(`member list failed: ${r.stderr}`);
  const quoted = r.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"');
  return (JSON.parse(quoted) as {members: ListedMember[]}).members;
}

/** The leader's id (hex) as an endpoint reports it. */
async function leaderOf(endpoint: string): Promise<string> {
  const r = await etcdctl([endpoint], ['endpoint', 'status', '-w', 'json']);
  if (!r.ok) throw new Error(r.stderr);
  const quoted = r.stdout.replace(/"(leader|member_id|cluster_id)":(\d+)/g, '"$1":"$2"');
  const [status] = JSON.parse(quoted) as {Status: {leader: string; header: {member_id: string}}}[];
  if (status === undefined) throw new Error('no status');
  return BigInt(status.Status.leader).toString(16);
}

const hex = (decimal: string): string => BigInt(decimal).toString(16);

describe.skipIf(etcdSkipReason !== undefined)('membership changes with etcdctl', () => {
  let cluster: EtcdCluster | undefined;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('adds a learner, serves it the data, refuses what learners may not do, and promotes it', async () => {
    cluster = await startSynod({members: 3});
    const founders = cluster.endpoints.slice();
    for (let i = 0; i < 20; i++) {
      expect((await etcdctl(founders, ['put', `before/${i}`, `v${i}`])).ok).toBe(true);
    }
    const spec = await cluster.newMemberSpec('m3');
    const added = await etcdctl(founders, [
      'member',
      'add',
      'm3',
      `--peer-urls=${spec.peerUrl}`,
      '--learner',
    ]);
    expect(added.stderr).toBe('');
    expect(added.stdout).toContain('added to cluster');
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)?.[1];
    expect(initialCluster).toContain(`m3=${spec.peerUrl}`);

    // Listed as an unstarted learner until it runs.
    const listed = await memberList(founders);
    expect(listed).toHaveLength(4);
    const learner = listed.find(m => m.peerURLs.includes(spec.peerUrl));
    expect(learner).toMatchObject({isLearner: true});
    expect(learner?.name ?? '').toBe('');

    // A second learner is refused, and so is a member whose peer URL is taken.
    const second = await cluster.newMemberSpec('m4');
    expect(
      (
        await etcdctl(founders, [
          'member',
          'add',
          'm4',
          `--peer-urls=${second.peerUrl}`,
          '--learner',
        ])
      ).stderr,
    ).toContain('etcdserver: too many learner members in cluster');
    expect(
      (await etcdctl(founders, ['member', 'add', 'dup', `--peer-urls=${spec.peerUrl}`])).stderr,
    ).toContain('etcdserver: Peer URLs already exists');

    await cluster.startAdded(spec, initialCluster ?? '');
    expect((await etcdctl(founders, ['put', 'after', 'x'])).ok).toBe(true);

    // The learner holds the data (serializable reads are local) ...
    await waitFor(async () => {
      const r = await etcdctl(
        [spec.clientUrl],
        ['get', 'after', '--consistency=s', '--print-value-only'],
      );
      return r.stdout.trim() === 'x';
    }, 15_000);
    const all = await etcdctl(
      [spec.clientUrl],
      ['get', 'before/', '--prefix', '--consistency=s', '--keys-only'],
    );
    expect(all.stdout.split('\n').filter(line => line.startsWith('before/'))).toHaveLength(20);
    // ... but serves nothing else.
    for (const args of [
      ['get', 'after'],
      ['put', 'k', 'v'],
      ['member', 'list'],
    ]) {
      const r = await etcdctl([spec.clientUrl], args);
      expect(r.ok).toBe(false);
      expect(r.stderr).toContain('etcdserver: rpc not supported for learner');
    }
    expect(
      (await etcdctl([spec.clientUrl.replace('http://', '')], ['endpoint', 'status'])).ok,
    ).toBe(true);

    // Promoting a voter is refused; promoting the caught-up learner works from any member.
    const voter = listed.find(m => m.isLearner !== true);
    expect(
      (await etcdctl(founders, ['member', 'promote', hex(voter?.ID ?? '0')])).stderr,
    ).toContain('etcdserver: can only promote a learner member');
    const learnerId = hex(learner?.ID ?? '0');
    const promoted = await etcdctl([founders[2] ?? ''], ['member', 'promote', learnerId]);
    expect(promoted.stderr).toBe('');
    expect(promoted.stdout).toMatch(new RegExp(`Member\\s+${learnerId} promoted in cluster`));
    const after = await memberList(founders);
    expect(after.find(m => hex(m.ID) === learnerId)).toMatchObject({name: 'm3'});
    expect(after.find(m => hex(m.ID) === learnerId)?.isLearner ?? false).toBe(false);
    // Counted once, by the leader that made the change, as etcd counts it (a member that
    // forwards a promotion to its leader does not count it).
    const promotions = await Promise.all(
      founders.map(url => readMetric(url, 'etcd_server_learner_promote_successes')),
    );
    expect(promotions.reduce((total: number, n) => total + (n ?? 0), 0)).toBe(1);

    // Now a voter, it serves linearizable reads and writes.
    expect((await etcdctl([spec.clientUrl], ['put', 'from-m3', 'y'])).ok).toBe(true);
    expect((await etcdctl(founders, ['get', 'from-m3', '--print-value-only'])).stdout.trim()).toBe(
      'y',
    );
  }, 90_000);

  it('removes the leader, which stops for good and cannot come back with its old data', async () => {
    cluster = await startSynod({members: 3});
    const endpoints = cluster.endpoints.slice();
    expect((await etcdctl(endpoints, ['put', 'k', 'v1'])).ok).toBe(true);
    const leaderId = await leaderOf(endpoints[0] ?? '');
    const listed = await memberList(endpoints);
    const leaderIndex = listed.findIndex(m => hex(m.ID) === leaderId);
    const leaderName = listed[leaderIndex]?.name;
    const leader = cluster.members.find(m => m.name === leaderName);
    if (leader === undefined) throw new Error(`no member named ${String(leaderName)}`);
    const others = endpoints.filter(e => e !== leader.clientUrl);

    const exited = leader.exited();
    const removed = await etcdctl(others, ['member', 'remove', leaderId]);
    expect(removed.stderr).toBe('');
    expect(removed.stdout).toMatch(new RegExp(`Member\\s+${leaderId} removed from cluster`));
    await exited;
    expect(leader.output).toContain('permanently removed from the cluster');

    expect((await memberList(others)).map(m => hex(m.ID))).not.toContain(leaderId);
    // The two left elect a leader among themselves; a put sent before that fails with
    // "leader changed" (etcdctl does not retry writes), so try until one lands.
    await waitFor(async () => (await etcdctl(others, ['put', 'k', 'v2'])).ok, 15_000);
    expect((await etcdctl(others, ['get', 'k', '--print-value-only'])).stdout.trim()).toBe('v2');

    // Restarted on its old data dir, it refuses to run.
    await expect(leader.restart()).rejects.toThrow(/permanently removed/);
    expect((await etcdctl(others, ['member', 'remove', leaderId])).stderr).toContain(
      'etcdserver: member not found',
    );
  }, 60_000);

  it('replaces a failed member: refuses an unsafe add, removes the dead one, adds a new one back', async () => {
    cluster = await startSynod({members: 3});
    const endpoints = cluster.endpoints.slice();
    const victim = cluster.members[2];
    if (victim === undefined) throw new Error('no third member');
    const victimId = (await memberList(endpoints)).find(m => m.name === victim.name)?.ID ?? '0';
    await victim.kill('SIGKILL');
    const alive = endpoints.filter(e => e !== victim.clientUrl);
    // A proposal forwarded to a dead leader is lost (and times out), in etcd as here:
    // wait until the survivors have a leader among themselves.
    await waitFor(async () => {
      const leader = await leaderOf(alive[0] ?? '').catch(() => '0');
      return leader !== '0' && leader !== hex(victimId);
    }, 10_000);

    // With one of three voters down, a fourth voter would need all three to reach quorum.
    const spec = await cluster.newMemberSpec('m3');
    const unsafe = await etcdctl(alive, ['member', 'add', 'm3', `--peer-urls=${spec.peerUrl}`]);
    expect(unsafe.ok).toBe(false);
    expect(unsafe.stderr).toMatch(/etcdserver: (unhealthy cluster|re-configuration failed)/);

    // Removing the dead member is always safe.
    const rm = await etcdctl(alive, ['member', 'remove', hex(victimId)]);
    expect(rm.stderr).toBe('');
    // It missed its own removal: the first peer it reaches tells it, and it stops.
    await expect(victim.restart()).rejects.toThrow(/permanently removed/);
    const added = await etcdctl(alive, ['member', 'add', 'm3', `--peer-urls=${spec.peerUrl}`]);
    expect(added.stderr).toBe('');
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)?.[1] ?? '';
    await cluster.startAdded(spec, initialCluster);
    expect((await etcdctl([spec.clientUrl], ['put', 'k', 'new'])).ok).toBe(true);
    const members = await memberList(alive);
    expect(members.map(m => m.name).sort()).toEqual(['m0', 'm1', 'm3']);
    expect(members.every(m => m.isLearner !== true)).toBe(true);

    // An update changes the recorded peer URLs; an unknown id is refused.
    const m3 = members.find(m => m.name === 'm3');
    expect(
      (
        await etcdctl(alive, [
          'member',
          'update',
          hex(m3?.ID ?? '0'),
          `--peer-urls=${spec.peerUrl}`,
        ])
      ).stdout,
    ).toContain('updated in cluster');
    expect(
      (await etcdctl(alive, ['member', 'update', 'abc', '--peer-urls=http://127.0.0.1:1'])).stderr,
    ).toContain('etcdserver: member not found');
  }, 60_000);

  it('moves leadership with etcdctl move-leader, and a leader stopped by SIGTERM hands it over first', async () => {
    // A long election timeout: a new leader within it can only come from a transfer.
    cluster = await startSynod({members: 3, electionTimeoutMs: 4000, heartbeatIntervalMs: 100});
    const endpoints = cluster.endpoints.slice();
    const listed = await memberList(endpoints);
    const before = await leaderOf(endpoints[0] ?? '');
    const target = listed.map(m => hex(m.ID)).find(id => id !== before) ?? '';
    const bare = endpoints.map(e => e.replace('http://', ''));
    const moved = await etcdctl(bare, ['move-leader', target]);
    expect(moved.stderr).toBe('');
    expect(moved.stdout).toContain(`Leadership transferred from ${before} to ${target}`);
    expect(await leaderOf(endpoints[1] ?? '')).toBe(target);
    expect((await etcdctl(bare, ['move-leader', 'ffff'])).stderr).toContain(
      'etcdserver: bad leader transferee',
    );

    const name = listed.find(m => hex(m.ID) === target)?.name;
    const leader = cluster.members.find(m => m.name === name);
    if (leader === undefined) throw new Error('leader not found');
    await leader.kill('SIGTERM');
    const survivors = endpoints.filter(e => e !== leader.clientUrl);
    const after = await leaderOf(survivors[0] ?? '');
    expect(after).not.toBe(target);
    expect(after).not.toBe('0');
    expect((await etcdctl(survivors, ['put', 'k', 'v'])).ok).toBe(true);
  }, 60_000);

  it('catches a member added after the log was compacted up from a snapshot, then the log', async () => {
    cluster = await startSynod({
      members: 3,
      extraArgs: ['--snapshot-count=50', '--experimental-snapshot-catchup-entries=5'],
    });
    const founders = cluster.endpoints.slice();
    for (let i = 0; i < 120; i++) {
      expect(
        (await etcdctl(founders, ['put', `k/${String(i).padStart(3, '0')}`, `v${i}`])).ok,
      ).toBe(true);
    }
    const spec = await cluster.newMemberSpec('m3');
    const added = await etcdctl(founders, ['member', 'add', 'm3', `--peer-urls=${spec.peerUrl}`]);
    expect(added.stderr).toBe('');
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)?.[1] ?? '';
    const joined = await cluster.startAdded(spec, initialCluster);
    expect((await etcdctl(founders, ['put', 'after-join', 'z'])).ok).toBe(true);
    await waitFor(async () => {
      const r = await etcdctl([spec.clientUrl], ['get', 'after-join', '--print-value-only']);
      return r.stdout.trim() === 'z';
    }, 15_000);
    const keys = await etcdctl([spec.clientUrl], ['get', 'k/', '--prefix', '--keys-only']);
    expect(keys.stdout.split('\n').filter(line => line.startsWith('k/'))).toHaveLength(120);
    // The log it needed was gone: it got the store as a snapshot.
    expect(await readMetric(spec.clientUrl, 'synod_server_snapshots_installed_total')).toBe(1);
    expect(joined.running).toBe(true);
  }, 90_000);
});
