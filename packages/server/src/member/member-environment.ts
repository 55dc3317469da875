import type {Clock, RandomSource} from './clock.js';
import type {InjectedBug} from './injected-bugs.js';
import type {MemberObserver} from './member-observer.js';
import type {MemberStorage} from './member-storage.js';
import type {MemberInfo} from './membership.js';

/** Logs what happens to a member; `apps/server` passes a pino logger. */
export interface MemberLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * What varies between a member in production and one in the simulator, handed in rather
 * than reached for: `startMember` passes Node's clock and randomness.
 */
export interface MemberEnvironment {
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Told of fsyncs, commits and failed proposals, for metrics; nobody by default. */
  readonly observer?: MemberObserver;
  /** The member's files and how it awaits their I/O; Node's file system by default. */
  readonly storage?: MemberStorage;
  /** Known-wrong orders to follow, for the simulator to find (see {@link InjectedBug}); none by default. */
  readonly bugs?: ReadonlySet<InjectedBug>;
  /**
   * Raft's byte limit of one append's entries; etcd's 1 MiB by default. The simulator lowers it
   * to split appends, which some orderings of acknowledgements need.
   */
  readonly raftMaxSizePerMsg?: number;
}

/**
 * What a member joining a running cluster (`--initial-cluster-state existing`)
 * learned from the cluster's members before it opened its data directory.
 */
export interface JoinInfo {
  readonly clusterId: number;
  /** This member's id, as `member add` recorded it. */
  readonly memberId: number;
  /** The members the cluster has now: the peers to talk to until the log says otherwise. */
  readonly members: readonly MemberInfo[];
}
