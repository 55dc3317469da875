import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmResponse,
  AlarmType,
  AuthDisableRequest,
  AuthRoleAddRequest,
  AuthUserAddRequest,
  AuthUserGrantRoleRequest,
  AuthenticateRequest,
  AuthenticateResponse,
  HashKVRequest,
  HashKVResponse,
  LeaseGrantRequest,
  MemberListRequest,
  MemberListResponse,
  MemberRemoveRequest,
  PutRequest,
  RangeRequest,
  RangeResponse,
} from '@synod/proto';
import {grpcFrame, rawGrpcCall, sleep} from '@synod/testing';
import type {EtcdCluster, RawGrpcResult} from '@synod/testing';

import {canaryPrefix, rootName, rootPassword} from './guard.js';
import type {FuzzInput} from './inputs.js';
import {fuzzLeaseId, prefixEnd} from './values.js';

/** A failed administrative call: the server answered `status` with `message`. */
class CallError extends Error {
  constructor(
    readonly path: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(`${path}: ${status === undefined ? 'no status' : `status ${status}`} ${message}`);
  }
}

interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}

/** For calls whose answer only matters by its status. */
const ignoreAnswer: Decoder<undefined> = {decode: () => undefined};

/** A key only the 3-member HashKV check writes, outside the canary range. */
const checkerKey = Buffer.concat([Buffer.from([0xff, 0xfd]), Buffer.from('synod-fuzz-check')]);

const canaryKeys: readonly (readonly [Buffer, Buffer])[] = [
  [Buffer.concat([canaryPrefix, Buffer.from('a')]), Buffer.from('first canary')],
  [Buffer.concat([canaryPrefix, Buffer.from('b')]), Buffer.alloc(300, 0x62)],
  [Buffer.concat([canaryPrefix, Buffer.from('c/\u00ff')]), Buffer.from([0, 1, 2, 0xff])],
];

/**
 * One server under test: its cluster, the state the runner sets up in it (canary keys, a
 * root user for switching auth off, the fuzz lease), the clean-up after risky inputs and
 * the safety checks.
 */
export class FuzzTarget {
  private cluster: EtcdCluster | undefined;
  /** The founding members' ids, in member order. */
  memberIds: bigint[] = [];
  private canarySnapshot = '';

  constructor(
    /** "etcd" or "Synod", as the summary names it. */
    readonly name: string,
    private readonly start: () => Promise<EtcdCluster>,
  ) {}

  private get live(): EtcdCluster {
    if (this.cluster === undefined) throw new Error(`${this.name} is not running`);
    return this.cluster;
  }

  /** Starts a fresh cluster (stopping any previous one) and sets it up. */
  async open(): Promise<void> {
    await this.cluster?.stop();
    this.cluster = await this.start();
    await this.setUp();
  }

  async stop(): Promise<void> {
    await this.cluster?.stop();
    this.cluster = undefined;
  }

  get memberCount(): number {
    return this.live.members.length;
  }

  address(pick: number): string {
    const members = this.live.members;
    return members[pick % members.length]!.clientAddress;
  }

  private get first(): string {
    return this.address(0);
  }

  /** Sends one fuzz input and reports what came back. */
  async send(input: FuzzInput, timeoutMs: number): Promise<RawGrpcResult> {
    try {
      return await rawGrpcCall(this.address(input.memberPick), input.method.path, input.body, {
        headers: input.headers,
        timeoutMs,
      });
    } catch (error) {
      // Node refused to send it (a header it will not put on the wire, say): report it as
      // an answer without a status rather than end the run.
      return {
        status: undefined,
        message: `not sent: ${String(error)}`,
        messages: [],
        httpStatus: undefined,
        resetCode: undefined,
        timedOut: false,
      };
    }
  }

  /**
   * Members that are not running. After an answer without a status the process may be on
   * its way down, so this waits a little for an exit before deciding.
   */
  async deadMembers(suspicious: boolean): Promise<string[]> {
    const members = this.live.members;
    const dead = (): string[] =>
      members.filter(m => !m.running || !processAlive(m.pid)).map(m => m.name);
    // Polled rather than awaited through `exited()`, which would leave a listener behind
    // on every call.
    for (let waitedMs = 0; suspicious && waitedMs < 300 && dead().length === 0; waitedMs += 25) {
      await sleep(25);
    }
    return dead();
  }

  /** The last output of the members, to explain a crash. */
  outputTail(): string {
    return this.live.members.map(m => `--- ${m.name} ---\n${m.output.slice(-1500)}`).join('\n');
  }

  private async unary<Res>(
    path: string,
    request: Uint8Array,
    response: Decoder<Res>,
    options: {address?: string; token?: string} = {},
  ): Promise<Res> {
    const result = await rawGrpcCall(options.address ?? this.first, path, grpcFrame(request), {
      headers: options.token === undefined ? {} : {token: options.token},
      timeoutMs: 5000,
    });
    if (result.status !== 0 || result.messages.length === 0) {
      throw new CallError(path, result.status, result.timedOut ? 'timed out' : result.message);
    }
    return response.decode(result.messages[0]!);
  }

  private async setUp(): Promise<void> {
    for (const [key, value] of canaryKeys) {
      await this.unary(
        '/etcdserverpb.KV/Put',
        PutRequest.encode(PutRequest.fromPartial({key, value})).finish(),
        ignoreAnswer,
      );
    }
    await this.unary(
      '/etcdserverpb.Auth/UserAdd',
      AuthUserAddRequest.encode(
        AuthUserAddRequest.fromPartial({name: rootName, password: rootPassword}),
      ).finish(),
      ignoreAnswer,
    );
    await this.unary(
      '/etcdserverpb.Auth/RoleAdd',
      AuthRoleAddRequest.encode({name: rootName}).finish(),
      ignoreAnswer,
    );
    await this.unary(
      '/etcdserverpb.Auth/UserGrantRole',
      AuthUserGrantRoleRequest.encode({user: rootName, role: rootName}).finish(),
      ignoreAnswer,
    );
    await this.grantFuzzLease();
    const list = await this.unary(
      '/etcdserverpb.Cluster/MemberList',
      MemberListRequest.encode({linearizable: true}).finish(),
      MemberListResponse,
    );
    // Member order: match each listed member to a founding member by client URL.
    this.memberIds = this.live.members.map(m => {
      const found = list.members.find(l => l.clientURLs.includes(m.clientUrl));
      return found?.ID ?? 0n;
    });
    this.canarySnapshot = await this.readCanary(this.first);
  }

  private async grantFuzzLease(): Promise<void> {
    try {
      await this.unary(
        '/etcdserverpb.Lease/LeaseGrant',
        LeaseGrantRequest.encode({TTL: 86_400n, ID: fuzzLeaseId}).finish(),
        ignoreAnswer,
      );
    } catch (error) {
      // Already granted (the usual case after a LeaseRevoke of another id).
      if (!(error instanceof CallError)) throw error;
    }
  }

  private async readCanary(address: string): Promise<string> {
    const response = await this.unary(
      '/etcdserverpb.KV/Range',
      RangeRequest.encode(
        RangeRequest.fromPartial({key: canaryPrefix, rangeEnd: prefixEnd(canaryPrefix)}),
      ).finish(),
      RangeResponse,
      {address},
    );
    return response.kvs
      .map(
        kv =>
          `${kv.key.toString('hex')}=${kv.value.toString('hex')} create=${kv.createRevision} ` +
          `mod=${kv.modRevision} version=${kv.version} lease=${kv.lease}`,
      )
      .join('\n');
  }

  /**
   * Undoes what an input of this method may have switched on for good: alarms, auth,
   * learners that never start, and a revoked fuzz lease. Errors are reported, not thrown.
   */
  async cleanUpAfter(label: string): Promise<string | undefined> {
    try {
      if (label === 'Maintenance/Alarm') await this.disarmAlarms();
      if (label === 'Auth/AuthEnable') await this.disableAuth();
      if (label === 'Cluster/MemberAdd') await this.removeAddedMembers();
      if (label === 'Lease/LeaseRevoke') await this.grantFuzzLease();
      return undefined;
    } catch (error) {
      return `clean-up after ${label} failed: ${String(error)}`;
    }
  }

  private async disarmAlarms(): Promise<void> {
    const alarms = await this.unary(
      '/etcdserverpb.Maintenance/Alarm',
      AlarmRequest.encode({
        action: AlarmRequest_AlarmAction.GET,
        memberID: 0n,
        alarm: AlarmType.NONE,
      }).finish(),
      AlarmResponse,
    );
    for (const alarm of alarms.alarms) {
      await this.unary(
        '/etcdserverpb.Maintenance/Alarm',
        AlarmRequest.encode({
          action: AlarmRequest_AlarmAction.DEACTIVATE,
          memberID: alarm.memberID,
          alarm: alarm.alarm,
        }).finish(),
        AlarmResponse,
      );
    }
  }

  private async disableAuth(): Promise<void> {
    let token: string;
    try {
      const auth = await this.unary(
        '/etcdserverpb.Auth/Authenticate',
        AuthenticateRequest.encode({name: rootName, password: rootPassword}).finish(),
        AuthenticateResponse,
      );
      token = auth.token;
    } catch (error) {
      // "authentication is not enabled": the AuthEnable failed, nothing to undo.
      if (error instanceof CallError) return;
      throw error;
    }
    await this.unary(
      '/etcdserverpb.Auth/AuthDisable',
      AuthDisableRequest.encode({}).finish(),
      ignoreAnswer,
      {token},
    );
  }

  private async removeAddedMembers(): Promise<void> {
    const list = await this.unary(
      '/etcdserverpb.Cluster/MemberList',
      MemberListRequest.encode({linearizable: true}).finish(),
      MemberListResponse,
    );
    for (const member of list.members) {
      if (this.memberIds.includes(member.ID)) continue;
      await this.unary(
        '/etcdserverpb.Cluster/MemberRemove',
        MemberRemoveRequest.encode({ID: member.ID}).finish(),
        ignoreAnswer,
      );
    }
  }

  /**
   * The safety properties: every member running, /health true, the canary keys as they
   * were, and with several members the same HashKV at the same revision. Returns what is
   * wrong, or an empty list.
   */
  async check(): Promise<string[]> {
    const problems: string[] = [];
    const dead = await this.deadMembers(false);
    if (dead.length > 0) {
      return [
        `member${dead.length > 1 ? 's' : ''} ${dead.join(', ')} exited\n${this.outputTail()}`,
      ];
    }
    for (const member of this.live.members) {
      if (!(await becomesHealthy(member.clientUrl, 5000)))
        problems.push(`${member.name}: /health is not true after 5 s`);
    }
    if (problems.length > 0) return problems;
    for (const [i, member] of this.live.members.entries()) {
      try {
        const canary = await this.readCanary(member.clientAddress);
        if (canary !== this.canarySnapshot) {
          problems.push(
            `${member.name}: canary keys changed:\n${canary}\nexpected:\n${this.canarySnapshot}`,
          );
        }
      } catch (error) {
        problems.push(`${member.name}: reading the canary keys failed: ${String(error)}`);
      }
      if (i === 0 && problems.length > 0) return problems;
    }
    if (this.live.members.length > 1 && problems.length === 0) {
      try {
        const hashes = await this.hashesAtOneRevision();
        if (hashes !== undefined) problems.push(hashes);
      } catch (error) {
        problems.push(`reading the revision for HashKV failed: ${String(error)}`);
      }
    }
    return problems;
  }

  /**
   * HashKV of every member at its current revision, asked again until all members report
   * the same revision (a follower may still be applying, a lease may just have expired).
   * Asking for one explicit revision instead fails once an input compacted at exactly it.
   */
  private async hashesAtOneRevision(): Promise<string | undefined> {
    let seen: string[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      let answers: HashKVResponse[];
      try {
        answers = await Promise.all(
          this.live.members.map(m =>
            this.unary(
              '/etcdserverpb.Maintenance/HashKV',
              HashKVRequest.encode({revision: 0n}).finish(),
              HashKVResponse,
              {address: m.clientAddress},
            ),
          ),
        );
      } catch (error) {
        // Synod refuses HashKV at revision 0 after a compaction at the current revision,
        // where etcd answers; one write moves the revision past the compaction.
        if (!(error instanceof CallError) || !error.message.includes('compacted')) throw error;
        await this.unary(
          '/etcdserverpb.KV/Put',
          PutRequest.encode(
            PutRequest.fromPartial({key: checkerKey, value: Buffer.from('x')}),
          ).finish(),
          ignoreAnswer,
        );
        continue;
      }
      const revisions = new Set(answers.map(a => a.header?.revision ?? 0n));
      seen = answers.map(
        (a, i) =>
          `${this.live.members[i]!.name}: revision ${a.header?.revision ?? 0n}, hash ${a.hash}, ` +
          `compact revision ${a.compactRevision}`,
      );
      if (revisions.size === 1) {
        const distinct = new Set(answers.map(a => `${a.hash}/${a.compactRevision}`));
        return distinct.size > 1 ? `HashKV differs at one revision: ${seen.join('; ')}` : undefined;
      }
      await sleep(100);
    }
    return `the members did not reach one revision within 5 s: ${seen.join('; ')}`;
  }
}

function processAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function becomesHealthy(clientUrl: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      const response = await fetch(`${clientUrl}/health`, {signal: AbortSignal.timeout(1000)});
      const body = (await response.json()) as {health?: unknown};
      if (body.health === 'true' || body.health === true) return true;
    } catch {
      // Not answering yet: try again until the deadline.
    }
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}
