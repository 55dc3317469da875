import type {LeaderForwarder} from './api/leader-forwarder.js';
import type {MemberCore} from './member/member.js';
import {AlarmType} from '@synod/proto';
import {EtcdDomainError} from './errors/etcd-domain-error.js';
import type {ZkApplied} from './zookeeper/zk-state-machine.js';
import type {ZkMember, ZkProposal, ZkProposed} from './zookeeper/zk-member.js';
import {ZkProposalBatcher} from './zookeeper/zk-proposal-batcher.js';

/** The most requests and bytes in one ZooKeeper batch (see {@link ZkProposalBatcher}). */
const MAX_BATCH_REQUESTS = 1024;
const MAX_BATCH_BYTES = 512 * 1024;

/** A write's outcome with its zxid: the revision it wrote at, or the one after it. */
function withZxid(applied: ZkApplied, revision: number): ZkProposed {
  const zxid = applied.kind === 'txn' ? (applied.zxid ?? revision) : revision;
  return {...applied, zxid};
}

/** The {@link ZkMember} of a member core, forwarding renewals to the leader as lease keep-alives are. */
export function zkMemberOf(core: MemberCore, forwarder: LeaderForwarder): ZkMember {
  const memberId = BigInt(core.memberId);
  const proposeAlone = async (request: ZkProposal): Promise<ZkProposed> => {
    const result = await core.propose({
      $case: 'zookeeper',
      value: {connectionId: 0n, seq: 0, ...request, memberId},
    });
    if (!result.ok) throw new Error(result.error.message);
    return withZxid(result.response as ZkApplied, result.revision);
  };
  const batcher = new ZkProposalBatcher(
    async requests => {
      if (requests.length === 1 && requests[0] !== undefined) {
        return [await proposeAlone(requests[0])];
      }
      const result = await core.propose({
        $case: 'zookeeper',
        value: {
          sessionId: 0n,
          timeMs: 0n,
          auth: [],
          memberId,
          connectionId: 0n,
          seq: 0,
          request: {
            $case: 'batch',
            value: {requests: requests.map(r => ({connectionId: 0n, seq: 0, ...r, memberId}))},
          },
        },
      });
      if (!result.ok) throw new Error(result.error.message);
      const applied = result.response as ZkApplied;
      if (applied.kind !== 'batch') throw new Error(`a batch applied as ${applied.kind}`);
      return applied.items.map(item => withZxid(item.applied, item.revision));
    },
    {
      soon: fn => setImmediate(fn),
      maxBatchRequests: MAX_BATCH_REQUESTS,
      maxBatchBytes: Math.min(MAX_BATCH_BYTES, Math.floor(core.config.maxRequestBytes / 2)),
    },
  );
  return {
    memberId: core.memberId,
    state: () => core.zookeeper,
    store: () => core.store,
    propose: async request => {
      maybeRaiseNoSpace(core, request);
      // Txns of one event-loop turn share an entry; session changes and the leader's sweeps
      // are rare and go alone.
      return request.request?.$case === 'txn' ? batcher.propose(request) : proposeAlone(request);
    },
    linearizableRead: () => core.linearizableRead(),
    renewSession: async id => {
      if (core.isLeader) {
        if (core.lessor.exists(id)) core.renewLease(id);
        return;
      }
      await forwarder.withLeader(
        async ({lessor}, signal) => {
          await lessor.renew({ID: id}, {signal});
        },
        AbortSignal.timeout(core.config.electionTimeoutMs * 2 + 5000),
      );
    },
    newSessionId: () => {
      for (;;) {
        const id = core.nextRequestId() & ((1n << 63n) - 1n);
        if (id !== 0n && !core.lessor.exists(id)) return id;
      }
    },
    nowMs: () => Date.now(),
    mode: () => (core.voters.length <= 1 ? 'standalone' : core.isLeader ? 'leader' : 'follower'),
    ensemble: () => ({
      version: core.membership.version,
      members: core.membership.list().map(m => ({
        id: m.id,
        peerUrl: m.peerUrls[0] ?? '',
        isLearner: m.isLearner,
        ...(m.zkClientAddress === undefined || m.zkClientAddress === ''
          ? {}
          : {zkClientAddress: m.zkClientAddress}),
      })),
    }),
  };
}

/**
 * etcd's quota check before a proposal, for a ZooKeeper write that adds data (a create or a
 * setData): past `--quota-backend-bytes` it raises the NOSPACE alarm, as an etcd put does. The
 * write is proposed all the same, after the alarm, so that it takes its turn in its
 * connection's order; every member then refuses it, and every later write that adds data, at
 * apply time with QuotaExceeded, where ZooKeeper checks its quotas.
 */
function maybeRaiseNoSpace(core: MemberCore, request: ZkProposal): void {
  const r = request.request;
  if (r?.$case !== 'txn' || core.alarms.has(AlarmType.NOSPACE)) return;
  if (!r.value.ops.some(op => op.op?.$case === 'create' || op.op?.$case === 'setData')) return;
  try {
    core.checkQuota();
  } catch (error) {
    if (!(error instanceof EtcdDomainError) || error.id !== 'noSpace') throw error;
  }
}
