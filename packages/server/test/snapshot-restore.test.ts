import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import type {EtcdCluster} from '@synod/testing';
import {freePorts, startSynod, waitFor} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {clusterIdFor, memberIdFor} from '../src/index.js';
import type {CtlResult} from './differential/etcdctl.js';
import {etcdctlSkipReason, runCtl} from './differential/etcdctl.js';

/*
 * Backup and restore end to end, with real processes: `etcdctl snapshot save` against a
 * running 3-member Synod cluster, `synod snapshot restore` into three fresh data
 * directories with a new membership, and a new cluster started on them.
 */

const entry = fileURLToPath(new URL('../../../apps/server/src/run.ts', import.meta.url));
const nodeArgs = ['--conditions=@synod/source', '--import', 'tsx', entry];

/** Runs the `synod` command line to completion. */
async function runSynod(args: readonly string[]): Promise<CtlResult> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>(resolve => child.once('close', resolve));
  clearTimeout(timer);
  return {code, stdout, stderr};
}

interface JsonKv {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number;
}
interface JsonHeader {
  cluster_id: number;
  member_id: number;
  revision: number;
  raft_term: number;
}

function json(result: CtlResult): unknown {
  if (result.code !== 0) throw new Error(`etcdctl failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A member of the restored cluster, started on its restored data dir. */
interface Restored {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  child?: ChildProcess;
  output: string;
}

describe.skipIf(etcdctlSkipReason !== undefined)(
  'etcdctl snapshot save, synod snapshot restore',
  () => {
    let source: EtcdCluster | undefined;
    let dir: string;
    let snapshotFile: string;
    let before: {header: JsonHeader; kvs: JsonKv[]};
    let oldMemberIds: number[];
    let leaseHex: string;
    /** Value of `k/0` as it was at `oldRevision`. */
    let oldRevision: number;
    const restored: Restored[] = [];
    const token = `restored-${process.pid}`;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'synod-restore-'));
      source = await startSynod({members: 3});
      const at = source.members.map(m => m.clientAddress).join(',');
      for (let i = 0; i < 10; i++)
        expect((await runCtl(at, ['put', `k/${i}`, `v${i}`])).code).toBe(0);
      oldRevision = (json(await runCtl(at, ['get', 'k/0', '-w', 'json'])) as {header: JsonHeader})
        .header.revision;
      // History the restore must keep: overwrites, a delete, keys on a lease.
      await runCtl(at, ['put', 'k/0', 'v0-second']);
      await runCtl(at, ['del', 'k/9']);
      const grant = await runCtl(at, ['lease', 'grant', '600']);
      leaseHex = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1] ?? '';
      expect(leaseHex).not.toBe('');
      await runCtl(at, ['put', 'session/a', 'alive', `--lease=${leaseHex}`]);
      await runCtl(at, ['put', 'session/b', 'alive', `--lease=${leaseHex}`]);
      before = json(await runCtl(at, ['get', '', '--from-key', '-w', 'json'])) as typeof before;
      oldMemberIds = (
        json(await runCtl(at, ['member', 'list', '-w', 'json'])) as {members: {ID: number}[]}
      ).members.map(m => m.ID);

      snapshotFile = join(dir, 'backup.db');
      const first = source.members[0]?.clientAddress ?? '';
      const save = await runCtl(first, ['snapshot', 'save', snapshotFile], {timeoutMs: 20_000});
      expect(save.code, save.stderr).toBe(0);
      await source.stop();
      source = undefined;
    }, 60_000);

    afterAll(async () => {
      for (const m of restored) {
        const child = m.child;
        if (child?.pid === undefined || child.exitCode !== null) continue;
        const exited = new Promise(resolve => child.once('exit', resolve));
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
      await source?.stop();
      rmSync(dir, {recursive: true, force: true});
    });

    it('restores three members into a new cluster that keeps every key, revision and lease', async () => {
      const ports = await freePorts(6);
      for (let i = 0; i < 3; i++) {
        restored.push({
          name: `n${i}`,
          clientUrl: `http://127.0.0.1:${ports[2 * i] ?? 0}`,
          peerUrl: `http://127.0.0.1:${ports[2 * i + 1] ?? 0}`,
          dataDir: join(dir, `n${i}`),
          output: '',
        });
      }
      const initialCluster = restored.map(m => `${m.name}=${m.peerUrl}`).join(',');
      const results = await Promise.all(
        restored.map(m =>
          runSynod([
            'snapshot',
            'restore',
            snapshotFile,
            `--name=${m.name}`,
            `--data-dir=${m.dataDir}`,
            `--initial-cluster=${initialCluster}`,
            `--initial-cluster-token=${token}`,
            `--initial-advertise-peer-urls=${m.peerUrl}`,
          ]),
        ),
      );
      for (const r of results) expect(r.code, r.stderr).toBe(0);

      for (const m of restored) {
        const child = spawn(
          process.execPath,
          [
            ...nodeArgs,
            `--name=${m.name}`,
            `--data-dir=${m.dataDir}`,
            `--listen-client-urls=${m.clientUrl}`,
            `--advertise-client-urls=${m.clientUrl}`,
            `--listen-peer-urls=${m.peerUrl}`,
            `--initial-advertise-peer-urls=${m.peerUrl}`,
            `--initial-cluster=${initialCluster}`,
            `--initial-cluster-token=${token}`,
            '--heartbeat-interval=50',
            '--election-timeout=500',
            '--log-level=warn',
          ],
          {stdio: ['ignore', 'pipe', 'pipe']},
        );
        const keep = (chunk: Buffer): void => {
          m.output = (m.output + chunk.toString('utf8')).slice(-4000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        m.child = child;
      }
      const healthy = async (m: Restored): Promise<boolean> => {
        if (m.child?.exitCode !== null) throw new Error(`${m.name} exited:\n${m.output}`);
        try {
          const res = await fetch(`${m.clientUrl}/health`, {signal: AbortSignal.timeout(1000)});
          return res.ok && ((await res.json()) as {health?: unknown}).health === 'true';
        } catch {
          return false;
        }
      };
      await waitFor(
        async () => (await Promise.all(restored.map(healthy))).every(Boolean),
        30_000,
        'restored cluster healthy',
      );

      const all = restored.map(m => m.clientUrl.replace('http://', '')).join(',');
      const one = (i: number): string => restored[i]?.clientUrl.replace('http://', '') ?? '';

      // Every key with its revisions, read from each member.
      for (let i = 0; i < 3; i++) {
        const after = json(await runCtl(one(i), ['get', '', '--from-key', '-w', 'json'])) as {
          header: JsonHeader;
          kvs: JsonKv[];
        };
        expect(after.kvs).toEqual(before.kvs);
        expect(after.header.revision).toBe(before.header.revision);
      }
      // MVCC history is kept too: an older revision still reads the older value.
      const old = json(await runCtl(all, ['get', 'k/0', `--rev=${oldRevision}`, '-w', 'json'])) as {
        kvs: JsonKv[];
      };
      expect(old.kvs[0]?.value).toBe(b64('v0'));

      // A new membership: member ids from the new URLs and token, a new cluster id.
      const expectedIds = restored
        .map(m => memberIdFor([new URL(m.peerUrl)], token))
        .sort((a, b) => a - b);
      const members = json(await runCtl(all, ['member', 'list', '-w', 'json'])) as {
        header: JsonHeader;
        members: {ID: number; name: string}[];
      };
      expect(members.members.map(m => m.ID).sort((a, b) => a - b)).toEqual(expectedIds);
      expect(members.members.map(m => m.name).sort()).toEqual(['n0', 'n1', 'n2']);
      for (const id of expectedIds) expect(oldMemberIds).not.toContain(id);
      expect(members.header.cluster_id).toBe(clusterIdFor(expectedIds));
      expect(members.header.cluster_id).not.toBe(before.header.cluster_id);

      // The lease survives with its keys, its TTL started again.
      const lease = json(
        await runCtl(all, ['lease', 'timetolive', leaseHex, '--keys', '-w', 'json']),
      ) as {ttl: number; 'granted-ttl': number; keys?: string[]};
      expect(lease['granted-ttl']).toBe(600);
      expect(lease.ttl).toBeGreaterThan(500);
      expect([...(lease.keys ?? [])].sort()).toEqual([b64('session/a'), b64('session/b')]);

      // The new cluster takes writes, at the next revision, on every member.
      const put = json(await runCtl(one(1), ['put', 'after/restore', 'yes', '-w', 'json'])) as {
        header: JsonHeader;
      };
      expect(put.header.revision).toBe(before.header.revision + 1);
      for (let i = 0; i < 3; i++) {
        await waitFor(async () => {
          const r = await runCtl(one(i), ['get', 'after/restore', '--print-value-only']);
          return r.stdout.trim() === 'yes';
        });
      }

      const status = json(await runCtl(all, ['endpoint', 'status', '-w', 'json'])) as {
        Status: {header: JsonHeader; leader: number; raftTerm: number};
      }[];
      expect(status).toHaveLength(3);
      for (const s of status) {
        expect(s.Status.header.cluster_id).toBe(members.header.cluster_id);
        expect(expectedIds).toContain(s.Status.leader);
      }
      expect(new Set(status.map(s => s.Status.leader)).size).toBe(1);
    }, 90_000);

    it('refuses a damaged snapshot file and creates nothing', async () => {
      const damaged = join(dir, 'damaged.db');
      copyFileSync(snapshotFile, damaged);
      const bytes = readFileSync(damaged);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      writeFileSync(damaged, bytes);
      const target = join(dir, 'from-damaged');
      const r = await runSynod([
        'snapshot',
        'restore',
        damaged,
        '--name=solo',
        `--data-dir=${target}`,
        '--initial-cluster=solo=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^Error: expected sha256 \[[\d ]+\], got \[[\d ]+\]: .*damaged\.db is damaged \(its last 32 bytes are not the sha256 of the \d+ before them\)$/m,
      );
      expect(existsSync(target)).toBe(false);
      expect(readdirSync(dir).filter(n => n.includes('restoring'))).toEqual([]);
    }, 30_000);

    it('refuses a file without a hash unless --skip-hash-check', async () => {
      const bare = join(dir, 'bare.db');
      copyFileSync(snapshotFile, bare);
      truncateSync(bare, statSync(snapshotFile).size - 32);
      const flags = (target: string): string[] => [
        'snapshot',
        'restore',
        bare,
        '--name=solo',
        `--data-dir=${join(dir, target)}`,
        '--initial-cluster=solo=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      ];
      const [refused, skipped] = await Promise.all([
        runSynod(flags('bare-refused')),
        runSynod([...flags('bare-skipped'), '--skip-hash-check']),
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Error: snapshot missing hash but --skip-hash-check=false');
      expect(existsSync(join(dir, 'bare-refused'))).toBe(false);
      expect(skipped.code, skipped.stderr).toBe(0);
      expect(existsSync(join(dir, 'bare-skipped', 'member', 'wal'))).toBe(true);
    }, 30_000);

    it('refuses a data dir that already exists and leaves it alone', async () => {
      const target = join(dir, 'existing');
      mkdirSync(target);
      writeFileSync(join(target, 'keep-me'), 'precious');
      const r = await runSynod([
        'snapshot',
        'restore',
        snapshotFile,
        '--name=solo',
        `--data-dir=${target}`,
        '--initial-cluster=solo=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Error: data-dir ${JSON.stringify(target)} exists`);
      expect(readdirSync(target)).toEqual(['keep-me']);
      expect(readFileSync(join(target, 'keep-me'), 'utf8')).toBe('precious');
    }, 30_000);

    it('prints the snapshot status as etcdctl does, in simple, table and json form', async () => {
      const [simple, table, asJson] = await Promise.all([
        runSynod(['snapshot', 'status', snapshotFile]),
        runSynod(['snapshot', 'status', snapshotFile, '-w', 'table']),
        runSynod(['snapshot', 'status', snapshotFile, '--write-out=json']),
      ]);
      for (const r of [simple, table, asJson]) expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(asJson.stdout) as {
        hash: number;
        revision: number;
        totalKey: number;
        totalSize: number;
      };
      expect(Object.keys(s)).toEqual(['hash', 'revision', 'totalKey', 'totalSize']);
      expect(s.revision).toBe(before.header.revision);
      expect(s.totalSize).toBe(statSync(snapshotFile).size - 32);
      // At least one record per revision written, plus meta, lease and member records.
      expect(s.totalKey).toBeGreaterThan(before.header.revision);
      const size = simple.stdout.trim().split(', ')[3] ?? '';
      expect(size).toMatch(/^\d+(\.\d)? (B|kB|MB|GB)$/);
      expect(simple.stdout).toBe(`${s.hash.toString(16)}, ${s.revision}, ${s.totalKey}, ${size}\n`);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(5);
      expect(lines[1]).toMatch(/^\| +HASH +\| REVISION \| TOTAL KEYS \| TOTAL SIZE \|$/);
      expect(lines[3]).toContain(`| ${s.hash.toString(16)} |`);
      expect(lines[3]).toMatch(
        new RegExp(`\\| +${s.revision} \\| +${s.totalKey} \\| +${size} \\|$`),
      );
    }, 30_000);
  },
);
