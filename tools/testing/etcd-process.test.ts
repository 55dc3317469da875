import {existsSync} from 'node:fs';

import {describe, expect, it} from 'vitest';

import {etcdSkipReason, freePorts, startEtcd} from './etcd-process.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, {signal: AbortSignal.timeout(500)});
    return response.ok;
  } catch {
    return false;
  }
}

describe('freePorts', () => {
  it('returns distinct bindable ports', async () => {
    const ports = await freePorts(4);
    expect(new Set(ports).size).toBe(4);
    expect(ports.every(p => p > 0 && p < 65536)).toBe(true);
  });

  it("inside vitest, takes ports below the ephemeral range, from this worker's own slice", async () => {
    const ports = await freePorts(3);
    expect(process.env.VITEST_POOL_ID).toMatch(/^[1-9]/);
    expect(ports.every(p => p >= 12_000 && p < 32_000)).toBe(true);
  });
});

describe.skipIf(etcdSkipReason !== undefined)('startEtcd', () => {
  it('starts a healthy member, pauses, kills and restarts it, and stops everything', async () => {
    const cluster = await startEtcd();
    const member = cluster.members[0]!;
    const firstPid = member.pid!;
    try {
      expect(cluster.pids).toEqual([firstPid]);
      expect(await healthy(member.clientUrl)).toBe(true);
      await member.kill('SIGSTOP');
      expect(await healthy(member.clientUrl)).toBe(false);
      await member.kill('SIGCONT');
      expect(await healthy(member.clientUrl)).toBe(true);
      await member.kill('SIGKILL');
      expect(member.running).toBe(false);
      expect(alive(firstPid)).toBe(false);
      await member.restart();
      expect(member.pid).not.toBe(firstPid);
      expect(await healthy(member.clientUrl)).toBe(true);
    } finally {
      await cluster.stop();
    }
    expect(cluster.pids).toEqual([]);
    expect(existsSync(member.dataDir)).toBe(false);
  });

  it('starts a healthy three-member cluster and stops all three', async () => {
    const cluster = await startEtcd({members: 3});
    try {
      expect(cluster.endpoints).toHaveLength(3);
      expect(new Set(cluster.pids).size).toBe(3);
      const pids = cluster.pids;
      await cluster.stop();
      expect(pids.some(alive)).toBe(false);
    } finally {
      await cluster.stop();
    }
  });
});
