import type {LeaderForwarder} from './api/leader-forwarder.js';
import type {MemberCore} from './member/member.js';
import type {ZkApplied} from './zookeeper/zk-state-machine.js';
import type {ZkMember} from './zookeeper/zk-member.js';

/** The {@link ZkMember} of a member core, forwarding renewals to the leader as lease keep-alives are. */
export function zkMemberOf(core: MemberCore, forwarder: LeaderForwarder): ZkMember {
  return {
    memberId: core.memberId,
    state: () => core.zookeeper,
    store: () => core.store,
    propose: async request => {
      const result = await core.propose({$case: 'zookeeper', value: request});
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
