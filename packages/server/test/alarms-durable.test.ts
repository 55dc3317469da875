import {mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Etcd3} from 'etcd3';
import {expect, it} from 'vitest';

import type {Member, MemberConfigInput} from '../src/index.js';
import {startMember} from '../src/index.js';
import {etcdctlSkipReason, runCtl} from './differential/etcdctl.js';
import {silentLogger} from './support/in-process-cluster.js';

const noSpace = 'etcdserver: mvcc: database space exceeded';

/** The highest raft index a snapshot file in the member's `snap` directory covers. */
function newestSnapshotIndex(dataDir: string): number {
  const names = readdirSync(join(dataDir, 'member', 'snap')).filter(f => f.endsWith('.snap'));
  // etcd's naming: <term>-<index>.snap, both 16 hex digits.
  return Math.max(0, ...names.map(f => parseInt(f.slice(17, 33), 16)));
}

async function started(config: MemberConfigInput): Promise<Member> {
  const member = await startMember(config, {logger: silentLogger});
  while (member.core.leader === 0) await new Promise(r => setTimeout(r, 20));
  return member;
}

/*
 * etcd 3.4 keeps alarms in its backend's `alarm` bucket. Run by hand against etcd 3.4.23 with
 * `--quota-backend-bytes=200000 --snapshot-count=10`, the same story holds: after NOSPACE and
 * enough entries for snapshots, a restarted member lists the alarm and refuses puts with
 * "etcdserver: mvcc: database space exceeded"; `alarm disarm` prints the alarm it cleared, and
 * after another restart `alarm list` prints nothing.
 */
it.skipIf(etcdctlSkipReason !== undefined)(
  'keeps a NOSPACE alarm across a restart from a raft snapshot taken after it, until disarmed',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synod-alarm-'));
    const dataDir = join(dir, 'solo');
    const config: MemberConfigInput = {
      name: 'solo',
      dataDir,
      listenClientUrls: 'http://127.0.0.1:0',
      listenPeerUrls: 'http://127.0.0.1:0',
      heartbeatIntervalMs: 20,
      electionTimeoutMs: 200,
      snapshotCount: 5,
      snapshotCatchUpEntries: 1,
      quotaBackendBytes: 256 * 1024,
    };
    let member: Member | undefined;
    try {
      member = await started(config);
      const hosts = `http://${member.clientAddresses[0] ?? ''}`;
      let client = new Etcd3({hosts});
      const value = 'v'.repeat(20_000);
      let refused = '';
      for (let i = 0; i < 200 && refused === ''; i++) {
        try {
          await client.put(`big/${i}`).value(value);
        } catch (error) {
          refused = String(error);
        }
        // The quota is checked against the file's size, which grows when a batch commits.
        await new Promise(r => setTimeout(r, 10));
      }
      expect(refused).toContain(noSpace);
      const core = member.core;
      while (core.alarms.list().length === 0) await new Promise(r => setTimeout(r, 20));
      const raisedAt = core.appliedIndex;

      // Deletes are still accepted: enough of them for a raft snapshot past the alarm. (A
      // fresh client: the first one's circuit breaker opened on the refusal.)
      client.close();
      client = new Etcd3({hosts});
      for (let i = 0; newestSnapshotIndex(dataDir) <= raisedAt; i++) {
        expect(i).toBeLessThan(100);
        await client.delete().key(`big/${i}`);
      }
      client.close();
      await member.close();
      member = undefined;

      member = await started(config);
      const address = member.clientAddresses[0] ?? '';
      const listed = await runCtl(address, ['alarm', 'list']);
      expect(listed.stdout).toBe(`memberID:${BigInt(member.memberId)} alarm:NOSPACE \n`);
      const put = await runCtl(address, ['put', 'k', 'v']);
      expect(put.code).not.toBe(0);
      expect(put.stderr).toContain(noSpace);

      const disarmed = await runCtl(address, ['alarm', 'disarm']);
      expect(disarmed.stdout).toBe(listed.stdout);
      await member.close();
      member = undefined;

      // With room to spare now, the member starts with no alarm and takes writes.
      member = await started({...config, quotaBackendBytes: 64 * 1024 * 1024});
      const after = member.clientAddresses[0] ?? '';
      expect((await runCtl(after, ['alarm', 'list'])).stdout).toBe('');
      expect((await runCtl(after, ['put', 'k', 'v'])).stdout).toBe('OK\n');
    } finally {
      await member?.close();
      rmSync(dir, {recursive: true, force: true});
    }
  },
  60_000,
);
