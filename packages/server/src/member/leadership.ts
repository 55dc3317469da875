import type {SoftState} from '@synod/raft';
import type {Lessor} from '@synod/storage';

import {EtcdDomainError} from '../errors/etcd-domain-error.js';
import type {Clock} from './clock.js';
import {sleepMs} from './clock.js';
import type {MemberLogger} from './member-environment.js';

/** What following and handing over leadership needs of the member. */
export interface LeadershipHost {
  /** Whether raft says this member leads now. */
  isLeader(): boolean;
  /** Whether the member still runs (not closed, not failed). */
  running(): boolean;
  /** Asks raft to hand leadership to `target`. */
  transferTo(target: number): void;
  /** On the leader, how far each member's log is known to match the leader's. */
  matchIndexes(): ReadonlyMap<number, {readonly match: number}>;
  /** The voters as of the last conf change applied. */
  voters(): readonly number[];
  /** The lessor now: the leader keeps leases, followers only record them. */
  lessor(): Lessor;
  /** The raft term, for the log. */
  term(): number;
}

/** The raft timings leadership changes are bounded by. */
export interface LeadershipTimings {
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

/**
 * Who leads, as this member has heard, and what changes with it: the lessor is promoted on
 * the leader and demoted when leadership is lost, as etcd's `raftNode` does on a soft state
 * change; leadership is handed to another voter on request (`MoveLeader`) and before a
 * leader stops.
 */
export class Leadership {
  /** The leader this member knows of; 0 when it knows of none. */
  private leaderId = 0;
  /** Times this member has seen the leader change, for metrics. */
  changes = 0;

  constructor(
    private readonly host: LeadershipHost,
    private readonly memberId: number,
    private readonly timings: LeadershipTimings,
    private readonly clock: Clock,
    private readonly logger: MemberLogger,
  ) {}

  get leader(): number {
    return this.leaderId;
  }

  /** Follows raft's soft state: a new leader, or this member gaining or losing leadership. */
  onSoftState(state: SoftState): void {
    const wasLeader = this.leaderId === this.memberId;
    if (state.lead !== this.leaderId && state.lead !== 0) this.changes++;
    this.leaderId = state.lead;
    const isLeader = state.raftState === 'leader';
    if (isLeader && !wasLeader) {
      this.host.lessor().promote(this.timings.electionTimeoutMs);
      this.logger.info({term: this.host.term()}, 'became leader');
    } else if (!isLeader && wasLeader) {
      this.host.lessor().demote();
      this.logger.info({leader: state.lead.toString(16)}, 'lost leadership');
    }
  }

  /**
   * Hands leadership to `target` and resolves once it leads, or fails with
   * etcd's timeout when the transfer does not finish within an election timeout
   * and a margin (raft aborts a transfer after one election timeout).
   */
  async transfer(target: number): Promise<void> {
    this.host.transferTo(target);
    const deadline = this.clock.monotonicMs() + 2 * this.timings.electionTimeoutMs + 1000;
    while (this.leaderId !== target) {
      if (this.clock.monotonicMs() > deadline) {
        throw EtcdDomainError.of('timeout');
      }
      await sleepMs(this.clock, this.timings.heartbeatIntervalMs);
    }
  }

  /**
   * On a leader about to stop: hands leadership to the voter whose log is most
   * complete, so the cluster does not wait an election timeout for a new
   * leader, as etcd does on a graceful shutdown. Gives up quietly if the
   * transfer does not finish in time.
   */
  async handOver(): Promise<void> {
    if (!this.host.isLeader() || !this.host.running()) return;
    const progress = this.host.matchIndexes();
    let target = 0;
    let bestMatch = -1;
    for (const id of this.host.voters()) {
      const match = progress.get(id)?.match ?? -1;
      if (id !== this.memberId && match > bestMatch) {
        target = id;
        bestMatch = match;
      }
    }
    if (target === 0) return;
    try {
      await this.transfer(target);
      this.logger.info({to: target.toString(16)}, 'handed leadership over before stopping');
    } catch (error) {
      this.logger.warn(
        {to: target.toString(16), error: String(error)},
        'could not hand leadership over before stopping',
      );
    }
  }
}
