import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

import {
  CreateMode,
  ErrorCode,
  EventType,
  ZooKeeperClient,
  netnsSkipReason,
  sleep,
  startSynodInNetns,
} from '@synod/testing';
import type {EtcdMember, NetnsCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {waitForLeader} from './support/member-status.js';

/**
 * ZooKeeper clients on a 3-member Synod cluster whose members are killed (-9), paused
 * (SIGSTOP) and cut off by the network (each member in a namespace of its own), while:
 * - one writer per member creates nodes and sets its own node's data, and when a member stops
 *   answering moves its session to the next member (same id and password);
 * - three kazoo clients, each starting on a different member, take turns in a kazoo Lock and,
 *   inside it, move a shared counter node from the version they read;
 * - a kazoo process holding an ephemeral node is killed -9, and a session whose client
 *   vanished at a known instant holds one too.
 * Afterwards: every acknowledged create is there and every acknowledged setData is counted in
 * its node's version; no two lock holders overlapped and the counter's version is the number
 * of critical sections; every session survived its moves with its ephemerals; and the
 * ephemerals of the vanished clients went after their session timeout, not before.
 */

const zkPort = 2181;
const python = ['python3', '/usr/bin/python3'].find(
  p => spawnSync(p, ['-c', 'import kazoo'], {stdio: 'ignore'}).status === 0,
);
const kazooScript = fileURLToPath(new URL('support/kazoo_fault_clients.py', import.meta.url));
const skipReason =
  netnsSkipReason ?? (python === undefined ? 'python3-kazoo is not installed' : undefined);

interface Address {
  readonly host: string;
  readonly port: number;
}

function zkAddress(member: EtcdMember): Address {
  return {host: new URL(member.clientUrl).hostname, port: zkPort};
}

/** Outcome of one write: acknowledged (with what it returned) or unknown (no answer). */
interface WriteRecord {
  readonly kind: 'create' | 'setData';
  readonly path: string;
  readonly acked: boolean;
  readonly version?: number;
}

/**
 * One client session that keeps writing and follows its session from member to member: when
 * a request is not answered within `replyTimeoutMs` (member dead, paused or cut off from the
 * leader), it drops the connection and resumes the session on the next member.
 */
class MovingWriter {
  readonly writes: WriteRecord[] = [];
  readonly moves: {from: number; to: number; sessionKept: boolean}[] = [];
  private client: ZooKeeperClient | undefined;
  private memberIndex: number;
  private sessionId = 0n;
  private password: Buffer = Buffer.alloc(16);
  private lastZxid = 0n;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly addresses: readonly Address[],
    start: number,
  ) {
    this.memberIndex = start;
  }

  get session(): bigint {
    return this.sessionId;
  }

  async open(): Promise<void> {
    this.client = await ZooKeeperClient.connect({
      ...this.at(this.memberIndex),
      sessionTimeoutMs: 10_000,
      replyTimeoutMs: 1500,
    });
    this.sessionId = this.client.session.sessionId;
    this.password = this.client.session.password;
    const node = await this.client.create(`/fz/${this.name}`, '0');
    const eph = await this.client.create(`/fz/eph-${this.name}`, '', CreateMode.ephemeral);
    expect([node, eph]).toMatchObject([{err: 0}, {err: 0}]);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.client?.disconnect();
  }

  private at(i: number): Address {
    const a = this.addresses[i % this.addresses.length];
    if (a === undefined) throw new Error('no address');
    return a;
  }

  private async run(): Promise<void> {
    for (let seq = 0; !this.stopped; seq++) {
      const client = this.client;
      if (client === undefined || client.closed) {
        await this.move();
        continue;
      }
      const create = seq % 2 === 0;
      const path = create ? `/fz/${this.name}/n${seq}` : `/fz/${this.name}`;
      const reply = create
        ? await client.create(path, String(seq))
        : await client.setData(path, String(seq));
      if (reply.kind === 'reply') {
        if (reply.err !== 0) throw new Error(`${this.name}: ${path} failed with ${reply.err}`);
        if (reply.zxid > this.lastZxid) this.lastZxid = reply.zxid;
        const version =
          reply.value !== undefined && 'stat' in reply.value ? reply.value.stat.version : undefined;
        this.writes.push({kind: create ? 'create' : 'setData', path, acked: true, version});
      } else {
        this.writes.push({kind: create ? 'create' : 'setData', path, acked: false});
        client.disconnect();
        await this.move();
      }
    }
  }

  /** Resumes the session on the next members in turn until one takes it. */
  private async move(): Promise<void> {
    const from = this.memberIndex;
    for (let attempt = 1; !this.stopped; attempt++) {
      const to = from + attempt;
      try {
        const next = await ZooKeeperClient.connect({
          ...this.at(to),
          sessionId: this.sessionId,
          password: this.password,
          lastZxidSeen: this.lastZxid,
          sessionTimeoutMs: 10_000,
          replyTimeoutMs: 1500,
        });
        if (next.closed && next.session.timeOutMs > 0) continue;
        this.moves.push({
          from: from % this.addresses.length,
          to: to % this.addresses.length,
          sessionKept: next.session.sessionId === this.sessionId && next.session.timeOutMs > 0,
        });
        this.client = next;
        this.memberIndex = to % this.addresses.length;
        return;
      } catch {
        await sleep(100);
      }
    }
  }
}

describe.skipIf(skipReason !== undefined)('ZooKeeper clients on Synod members under faults', () => {
  let cluster: NetnsCluster | undefined;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    cluster = await startSynodInNetns({
      members: 3,
      extraArgs: [`--listen-zk-urls=http://0.0.0.0:${zkPort}`],
    });
  }, 60_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
    await cluster?.stop();
  });

  function startKazoo(args: readonly string[]): {child: ChildProcess; lines: () => string[]} {
    const child = spawn(python ?? 'python3', [kazooScript, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(-2000)));
    child.once('exit', () => children.delete(child));
    return {
      child,
      lines: () => {
        const lines = out.split('\n').filter(l => l !== '');
        if (child.exitCode !== null && child.exitCode !== 0) {
          throw new Error(`kazoo exited with ${child.exitCode}: ${err}`);
        }
        return lines;
      },
    };
  }

  it('keeps acknowledged writes, one lock holder at a time, sessions across moves, and ephemerals until their timeout', async () => {
    const c = cluster;
    if (c === undefined) throw new Error('no cluster');
    const addresses = c.members.map(zkAddress);
    const hostList = (first: number) =>
      [0, 1, 2]
        .map(k => addresses[(first + k) % 3])
        .map(a => `${a?.host}:${a?.port}`)
        .join(',');

    const admin = await ZooKeeperClient.connect({...addresses[0]!, sessionTimeoutMs: 20_000});
    expect(await admin.create('/fz', '')).toMatchObject({err: 0});

    // Clients on every member: writers, lock contenders, and the two ephemeral owners.
    const writers = [0, 1, 2].map(i => new MovingWriter(`w${i}`, addresses, i));
    await Promise.all(writers.map(w => w.open()));
    for (const w of writers) w.start();
    const lockRun = startKazoo([
      'lock',
      '20',
      '/fz/lock-test',
      hostList(0),
      hostList(1),
      hostList(2),
    ]);

    // A kazoo process owning an ephemeral is killed -9; a session whose client's last word
    // came a third of its timeout after it connected (a renewal was just made, the next is
    // not due) vanishes. Neither ephemeral may go before the session timeout.
    const victim = startKazoo(['ephemeral', hostList(1), '/fz/victim-kazoo', '4']);
    const watcher = await ZooKeeperClient.connect({...addresses[2]!, sessionTimeoutMs: 20_000});
    for (let i = 0; victim.lines().length === 0; i++) {
      if (i > 150) throw new Error('the kazoo ephemeral owner never got ready');
      await sleep(100);
    }
    // On the leader, whose lessor times the session's lease.
    const first = c.members.indexOf(await waitForLeader(c.members));
    const vanishing = await ZooKeeperClient.connect({
      ...addresses[first]!,
      sessionTimeoutMs: 4000,
      keepAlive: false,
    });
    const connectedAtMs = performance.now();
    expect(await vanishing.create('/fz/victim-jute', '', CreateMode.ephemeral)).toMatchObject({
      err: 0,
    });
    expect(await watcher.exists('/fz/victim-kazoo', true)).toMatchObject({err: 0});
    expect(await watcher.exists('/fz/victim-jute', true)).toMatchObject({err: 0});
    await sleep(Math.max(0, connectedAtMs + 1250 - performance.now()));
    expect(await vanishing.exists('/fz')).toMatchObject({err: 0});
    vanishing.disconnect();
    const vanishedAtMs = performance.now();
    if (victim.child.pid !== undefined) process.kill(victim.child.pid, 'SIGKILL');
    const killedAtMs = performance.now();

    const deleted = new Map<string, number>();
    const deadline = performance.now() + 12_000;
    while (deleted.size < 2 && performance.now() < deadline) {
      for (const e of await watcher.takeEvents(1, 500, 0)) {
        if (e.type === EventType.nodeDeleted) deleted.set(e.path, performance.now());
      }
    }
    const jute = (deleted.get('/fz/victim-jute') ?? Infinity) - vanishedAtMs;
    const kazoo = (deleted.get('/fz/victim-kazoo') ?? Infinity) - killedAtMs;
    // ZooKeeper's bound: a session ends no sooner than its timeout after the client's last
    // word (kazoo's last ping came at most a third of its timeout before the kill), and
    // soon after it: the member renews the lease within half a tick (1 s) of the last word,
    // the lease is the timeout long, and the leader looks every 500 ms; 1.5 s more for load.
    const ended = `sessions ended ${Math.round(jute)} ms after the vanished client's last word, ${Math.round(kazoo)} ms after the kazoo kill`;
    expect(jute, ended).toBeGreaterThanOrEqual(4000 - 50);
    expect(kazoo, ended).toBeGreaterThanOrEqual(4000 * (2 / 3) - 50);
    expect(Math.max(jute, kazoo), ended).toBeLessThan(4000 + 3000);

    // Fault 1: kill -9 of the leader; its clients move to the others.
    const leader = await waitForLeader(c.members);
    await leader.kill('SIGKILL');
    await waitForLeader(
      c.members.filter(m => m !== leader),
      10_000,
    );
    await sleep(1000);
    await leader.restart();

    // Fault 2: a paused follower, longer than an election timeout.
    const leader2 = await waitForLeader(c.members, 15_000);
    const paused = c.members.find(m => m !== leader2);
    if (paused === undefined) throw new Error('no follower');
    await paused.kill('SIGSTOP');
    await sleep(2000);
    await paused.kill('SIGCONT');
    await sleep(500);

    // Fault 3: the leader cut off from both followers.
    const leader3 = await waitForLeader(c.members, 15_000);
    c.isolate(c.members.indexOf(leader3));
    await waitForLeader(
      c.members.filter(m => m !== leader3),
      10_000,
    );
    await sleep(1500);
    c.heal();
    await waitForLeader(c.members, 15_000);

    for (const w of writers) await w.stop();
    const lockExit = new Promise<void>(resolve => {
      if (lockRun.child.exitCode !== null) resolve();
      else
        lockRun.child.once('exit', () => {
          resolve();
        });
    });
    await lockExit;

    // Every acknowledged write is there, read through a member after sync.
    const reader = await ZooKeeperClient.connect({...addresses[1]!, sessionTimeoutMs: 20_000});
    expect(await reader.sync('/')).toMatchObject({err: 0});
    for (const w of writers) {
      const acked = w.writes.filter(r => r.acked);
      expect(acked.length, `${w.name} had acknowledged writes`).toBeGreaterThan(10);
      for (const r of acked.filter(r => r.kind === 'create')) {
        expect(await reader.exists(r.path), r.path).toMatchObject({err: 0});
      }
      const sets = w.writes.filter(r => r.kind === 'setData');
      const ackedSets = sets.filter(r => r.acked);
      const node = await reader.exists(`/fz/${w.name}`);
      const version = node.kind === 'reply' ? (node.value?.stat.version ?? -1) : -1;
      // Versions: each acknowledged set saw one more, and the node holds every acknowledged
      // set plus at most the ones whose answers were lost.
      const seen = ackedSets.map(r => r.version ?? -1);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      expect(version).toBeGreaterThanOrEqual(Math.max(...seen));
      expect(version).toBeGreaterThanOrEqual(ackedSets.length);
      expect(version).toBeLessThanOrEqual(sets.length);
      // The session survived every move, with its ephemeral.
      expect(w.moves.length, `${w.name} moved`).toBeGreaterThan(0);
      expect(w.moves.every(m => m.sessionKept)).toBe(true);
      const eph = await reader.exists(`/fz/eph-${w.name}`);
      expect(eph).toMatchObject({err: 0, value: {stat: {ephemeralOwner: w.session}}});
    }

    // One lock holder at a time, and the counter moved once per critical section.
    const reports = lockRun.lines().map(
      l =>
        JSON.parse(l) as {
          name: string;
          sections: number;
          intervals: [number, number][];
          violations: unknown[];
          sessionLost: boolean;
        },
    );
    expect(reports).toHaveLength(3);
    const intervals = reports.flatMap(r => r.intervals).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < intervals.length; i++) {
      expect(
        intervals[i]![0],
        'a holder entered before the previous one left',
      ).toBeGreaterThanOrEqual(intervals[i - 1]![1]);
    }
    expect(reports.flatMap(r => r.violations)).toEqual([]);
    expect(reports.map(r => r.sessionLost)).toEqual([false, false, false]);
    const sections = reports.reduce((n, r) => n + r.sections, 0);
    expect(sections).toBeGreaterThan(10);
    const counter = await reader.exists('/fz/lock-test/counter');
    expect(counter).toMatchObject({err: 0, value: {stat: {version: sections}}});

    expect(await reader.exists('/fz/victim-jute')).toMatchObject({err: ErrorCode.noNode});
    for (const client of [admin, watcher, reader]) client.disconnect();
  }, 120_000);
});
