import type {LeaderForwarder} from './api/leader-forwarder.js';
import type {MemberCore} from './member/member.js';
import {AlarmType} from '@synod/proto';
import {EtcdDomainError} from './errors/etcd-domain-error.js';
import type {ZkApplied, ZkOpResult} from './zookeeper/zk-state-machine.js';
import type {ZkMember, ZkProposal, ZkProposed} from './zookeeper/zk-member.js';

/** The {@link ZkMember} of a member core, forwarding renewals to the leader as lease keep-alives are. */
export function zkMemberOf(core: MemberCore, forwarder: LeaderForwarder): ZkMember {
  return {
    memberId: core.memberId,
    state: () => core.zookeeper,
    store: () => core.store,
    propose: async request => {
      const refused = refusedForSpace(core, request);
      if (refused !== undefined) return refused;
      const result = await core.propose({
        $case: 'zookeeper',
        value: {...request, memberId: BigInt(core.memberId)},
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
 * setData): past `--quota-backend-bytes` it raises the NOSPACE alarm, as an etcd put does, and
 * the write that found the backend too big is answered QuotaExceeded without being proposed (a
 * multi: its first such operation fails, the ones before it are ok and the rest rolled back,
 * as ZooKeeper reports a failed multi). Once the alarm is applied, writes are proposed and
 * every member refuses those that add data at apply time, where ZooKeeper checks its quotas.
 */
function refusedForSpace(core: MemberCore, request: ZkProposal): ZkProposed | undefined {
  const r = request.request;
  if (r?.$case !== 'txn') return undefined;
  const ops = r.value.ops;
  const first = ops.findIndex(op => op.op?.$case === 'create' || op.op?.$case === 'setData');
  // Once the alarm is raised, the apply refuses, in ZooKeeper's order of checks.
  if (first < 0 || core.alarms.has(AlarmType.NOSPACE)) return undefined;
  try {
    core.checkQuota();
    return undefined;
  } catch (error) {
    if (!(error instanceof EtcdDomainError) || error.id !== 'noSpace') throw error;
  }
  const zxid = core.store.rev();
  if (!r.value.multi) return {kind: 'txn', results: [], error: 'quotaExceeded', zxid};
  const results: ZkOpResult[] = ops.map((_, i) => ({
    type: 'error',
    error: i < first ? 'ok' : i === first ? 'quotaExceeded' : 'runtimeInconsistency',
  }));
  return {kind: 'txn', results, error: 'quotaExceeded', zxid};
}
