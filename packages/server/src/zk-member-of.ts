import type {LeaderForwarder} from './api/leader-forwarder.js';
import type {MemberCore} from './member/member.js';
import {AlarmType} from '@synod/proto';
import {EtcdDomainError} from './errors/etcd-domain-error.js';
import type {ZkApplied} from './zookeeper/zk-state-machine.js';
import type {ZkMember, ZkProposal} from './zookeeper/zk-member.js';

/** The {@link ZkMember} of a member core, forwarding renewals to the leader as lease keep-alives are. */
export function zkMemberOf(core: MemberCore, forwarder: LeaderForwarder): ZkMember {
  return {
    memberId: core.memberId,
    state: () => core.zookeeper,
    store: () => core.store,
    propose: async request => {
      maybeRaiseNoSpace(core, request);
      const result = await core.propose({
        $case: 'zookeeper',
        value: {connectionId: 0n, seq: 0, ...request, memberId: BigInt(core.memberId)},
      });
      if (!result.ok) throw new Error(result.error.message);
      const applied = result.response as ZkApplied;
      const zxid = applied.kind === 'txn' ? (applied.zxid ?? result.revision) : result.revision;
      return {...applied, zxid};
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
