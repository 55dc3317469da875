import type {EtcdErrorSpec} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';
import type {ConfChange} from '@synod/proto/raftpb';
import {ConfChangeType} from '@synod/proto/raftpb';
import type {ConfChangeContext} from '@synod/proto/synodpb';

import type {Membership} from './membership.js';

/** etcd allows one learner at a time (`maxLearners` in 3.4, `--max-learners` later). */
export const maxLearners = 1;

/**
 * Why the membership refuses a committed conf change, or undefined when it takes
 * it. Every member decides this at apply time from the same replicated
 * membership, so all refuse the same changes — which is what makes it safe for
 * two changes validated separately when proposed to race in the log.
 *
 * Examples, with members a (voter) and l (learner):
 *   add voter a             -> member ID already exist
 *   add voter l             -> taken: promotes the learner
 *   add learner with a's URL -> Peer URLs already exists
 *   add a second learner    -> too many learner members in cluster
 *   remove or update x      -> member not found (also when x was removed before)
 */
export function refusalOfConfChange(
  membership: Membership,
  cc: ConfChange,
  ctx: ConfChangeContext | undefined,
): EtcdErrorSpec | undefined {
  const id = cc.nodeId;
  const existing = membership.get(id);
  const peerUrls = ctx?.member?.peerUrls ?? [];
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
      if (existing !== undefined) {
        return existing.isLearner ? undefined : EtcdErrors.memberExists;
      }
      if (membership.isRemoved(id)) return EtcdErrors.memberNotFound;
      if (membership.withPeerUrl(peerUrls) !== undefined) return EtcdErrors.peerURLExists;
      return undefined;
    case ConfChangeType.ConfChangeAddLearnerNode:
      if (existing !== undefined) return EtcdErrors.memberExists;
      if (membership.isRemoved(id)) return EtcdErrors.memberNotFound;
      if (membership.withPeerUrl(peerUrls) !== undefined) return EtcdErrors.peerURLExists;
      if (membership.learners().length >= maxLearners) return EtcdErrors.tooManyLearners;
      return undefined;
    case ConfChangeType.ConfChangeRemoveNode:
      return existing === undefined ? EtcdErrors.memberNotFound : undefined;
    case ConfChangeType.ConfChangeUpdateNode:
      if (existing === undefined) return EtcdErrors.memberNotFound;
      if (membership.withPeerUrl(peerUrls, id) !== undefined) return EtcdErrors.peerURLExists;
      return undefined;
    default:
      return EtcdErrors.memberNotFound;
  }
}
