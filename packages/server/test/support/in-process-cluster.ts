import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {freePorts} from '@synod/testing';

import type {Member, MemberConfigInput, MemberLogger} from '../../src/index.js';
import {startMember} from '../../src/index.js';

export const silentLogger: MemberLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Messages members logged at info level, for tests that check what a member did. */
export const loggedMessages: string[] = [];

const recordingLogger: MemberLogger = {
  info: (_obj, msg) => {
    loggedMessages.push(msg);
  },
  warn: () => undefined,
  error: () => undefined,
};

/** A loopback port nothing listens on right now (see `freePorts`). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}

export interface InProcessCluster {
  readonly members: (Member | undefined)[];
  readonly endpoints: readonly string[];
  /** The running member that leads, waiting up to `timeoutMs` for one. */
  leader(timeoutMs?: number): Promise<Member>;
  /** Stops member `i`; `restart(i)` brings it back on the same data. */
  stop(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `size` members in this process, on loopback, with short raft timings; `extra` is
 * every member's extra settings, or member `i`'s (asked again when it restarts).
 */
export async function startInProcessCluster(
  size: number,
  extra: Partial<MemberConfigInput> | ((i: number) => Partial<MemberConfigInput>) = {},
): Promise<InProcessCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'synod-cluster-'));
  const names = Array.from({length: size}, (_, i) => `m${i + 1}`);
  const clientPorts = await Promise.all(names.map(freePort));
  const peerPorts = await Promise.all(names.map(freePort));
  const initialCluster = names
    .map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i] ?? 0}`)
    .join(',');
  const configOf = (i: number) => ({
    name: names[i] ?? '',
    dataDir: join(dir, names[i] ?? ''),
    listenClientUrls: `http://127.0.0.1:${clientPorts[i] ?? 0}`,
    listenPeerUrls: `http://127.0.0.1:${peerPorts[i] ?? 0}`,
    initialCluster,
    heartbeatIntervalMs: 20,
    electionTimeoutMs: 200,
    // As `synod` processes read it from their environment: the suites run on either engine.
    clientHttp2Engine: process.env.SYNOD_EXPERIMENTAL_CLIENT_HTTP2_ENGINE,
    ...(typeof extra === 'function' ? extra(i) : extra),
  });
  const members: (Member | undefined)[] = await Promise.all(
    names.map((_, i) => startMember(configOf(i), {logger: recordingLogger})),
  );
  return {
    members,
    endpoints: clientPorts.map(p => `http://127.0.0.1:${p}`),
    async leader(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const leader = members.find(m => m?.core.isLeader === true);
        if (leader !== undefined) return leader;
        if (Date.now() > deadline) throw new Error('no leader elected in time');
        await new Promise(r => setTimeout(r, 20));
      }
    },
    async stop(i) {
      await members[i]?.close();
      members[i] = undefined;
    },
    async restart(i) {
      members[i] = await startMember(configOf(i), {logger: recordingLogger});
    },
    async close() {
      await Promise.all(
        members.map(m => m?.close({handOverLeadership: false}) ?? Promise.resolve()),
      );
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

/** One member in this process on free loopback ports, with short raft timings; waits for it to lead. */
export async function startSoloMember(
  dataDir: string,
  extra: Partial<MemberConfigInput> = {},
): Promise<Member> {
  const member = await startMember(
    {
      name: 'solo',
      dataDir,
      listenClientUrls: 'http://127.0.0.1:0',
      listenPeerUrls: 'http://127.0.0.1:0',
      heartbeatIntervalMs: 20,
      electionTimeoutMs: 200,
      ...extra,
    },
    {logger: silentLogger},
  );
  const deadline = Date.now() + 5000;
  while (member.core.leader === 0) {
    if (Date.now() > deadline) {
      await member.close();
      throw new Error('the member did not become leader in time');
    }
    await new Promise(r => setTimeout(r, 20));
  }
  return member;
}
