import type {ClusterServiceImplementation, Member} from '@synod/proto';
import {Status} from 'nice-grpc-common';
import {ServerError} from 'nice-grpc-common';

import type {MemberCore} from '../member/member.js';
import type {MemberInfo} from '../member/membership.js';
import {requireLeaderIfAsked} from './errors.js';

export function toWireMember(m: MemberInfo): Member {
  return {
    ID: BigInt(m.id),
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

function notYet(what: string): Promise<never> {
  return Promise.reject(
    new ServerError(
      Status.UNIMPLEMENTED,
      `${what} is not available yet: membership changes arrive with cluster operations`,
    ),
  );
}

/** The Cluster service. Membership changes answer Unimplemented until cluster operations land. */
export function clusterService(member: MemberCore): ClusterServiceImplementation {
  return {
    async memberList(request, context) {
      requireLeaderIfAsked(context, member.leader);
      if (request.linearizable) await member.linearizableRead();
      return {header: member.header(), members: member.membership.list().map(toWireMember)};
    },
    memberAdd: () => notYet('MemberAdd'),
    memberRemove: () => notYet('MemberRemove'),
    memberUpdate: () => notYet('MemberUpdate'),
    memberPromote: () => notYet('MemberPromote'),
  };
}
