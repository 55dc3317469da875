import type {EtcdErrorSpec} from '@synod/proto';
import {EtcdErrors} from '@synod/proto';

import type {MemberInfo} from '../member/membership.js';

/** What `--strict-reconfig-check` looks at, from the member asked to make a change. */
export interface ClusterView {
  readonly selfId: number;
  readonly members: readonly MemberInfo[];
  /** Whether this member has a working connection to peer `id`. */
  isConnected(id: number): boolean;
}

const quorum = (n: number): number => Math.floor(n / 2) + 1;

/** A voter has started once it has published its name through the log. */
function isStarted(m: MemberInfo, view: ClusterView): boolean {
  return m.id === view.selfId || m.name !== '';
}

function isActive(m: MemberInfo, view: ClusterView): boolean {
  return m.id === view.selfId || view.isConnected(m.id);
}

function voters(view: ClusterView): MemberInfo[] {
  return view.members.filter(m => !m.isLearner);
}

/**
 * Whether a new voter may be added without risking the quorum, as etcd's
 * strict reconfiguration check decides: the started voters must form a quorum
 * of the grown cluster, and this member must reach every voter (a new voter
 * does not count until it has caught up, so a lost connection would lose the
 * quorum). A learner may always be added.
 *
 * Example: 3 voters, all started and connected -> 4 voters need 3: allowed.
 * 3 voters, one down -> refused with "unhealthy cluster".
 */
export function refusalToAddVoter(view: ClusterView): EtcdErrorSpec | undefined {
  const vs = voters(view);
  const started = vs.filter(m => isStarted(m, view)).length;
  // Growing a one-member cluster to two is how a cluster restored from a
  // snapshot gets its members back: etcd allows it although two need both.
  const growingSingle = vs.length === 1 && started === 1;
  if (!growingSingle && started < quorum(vs.length + 1)) return EtcdErrors.memberNotEnoughStarted;
  if (!vs.every(m => isActive(m, view))) return EtcdErrors.unhealthyCluster;
  return undefined;
}

/**
 * Whether voter `id` may be removed: the started voters left must form a
 * quorum of the smaller cluster, and, unless the removed member is already
 * unreachable (removing a dead member never hurts), the members this one
 * reaches, less the removed one, must too. Learners may always be removed.
 */
export function refusalToRemove(view: ClusterView, id: number): EtcdErrorSpec | undefined {
  const target = view.members.find(m => m.id === id);
  if (target === undefined || target.isLearner) return undefined;
  const rest = voters(view).filter(m => m.id !== id);
  const started = rest.filter(m => isStarted(m, view)).length;
  if (started < quorum(rest.length)) return EtcdErrors.memberNotEnoughStarted;
  if (id !== view.selfId && !view.isConnected(id)) return undefined;
  const active = rest.filter(m => isActive(m, view)).length;
  if (active < quorum(rest.length)) return EtcdErrors.memberNotEnoughStarted;
  return undefined;
}

/**
 * Whether a learner may become a voter: the started voters and the learner
 * itself (which runs, or it could not have caught up) must be a quorum of the
 * grown set.
 */
export function refusalToPromote(view: ClusterView): EtcdErrorSpec | undefined {
  const vs = voters(view);
  const started = vs.filter(m => isStarted(m, view)).length + 1;
  return started < quorum(vs.length + 1) ? EtcdErrors.memberNotEnoughStarted : undefined;
}

/**
 * etcd promotes a learner only once its log has reached 90% of the leader's:
 * promoted any earlier, it would count toward commits it cannot yet make.
 */
export function learnerIsReady(learnerMatch: number, leaderMatch: number): boolean {
  return learnerMatch >= leaderMatch * 0.9;
}
