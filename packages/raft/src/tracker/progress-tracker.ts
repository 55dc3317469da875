import type {ConfState} from '@synod/proto/raftpb';
import {MajorityConfig} from '../quorum/majority-config.js';
import type {VoteResult} from '../quorum/vote-result.js';
import {Progress} from './progress.js';

/**
 * ProgressTracker holds the active configuration (voters and learners), the leader's
 * {@link Progress} for every member, and the votes of the current election.
 *
 * Invariant: voters and learners are disjoint, and every member has a Progress entry.
 */
export class ProgressTracker {
  voters = new MajorityConfig([]);
  learners: ReadonlySet<number> = new Set();
  /** Member id -> progress, in ascending id order. */
  progress = new Map<number, Progress>();
  readonly votes = new Map<number, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes = 0,
  ) {}

  /** The configuration as a ConfState (sorted ids). */
  confState(): ConfState {
    return {voters: [...this.voters.ids], learners: [...this.learners].sort((a, b) => a - b)};
  }

  /** isSingleton reports whether this is a single-voter configuration. */
  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** committed returns the largest log index acknowledged by a majority of voters. */
  committed(): number {
    return this.voters.committedIndex(id => this.progress.get(id)?.match);
  }

  /** ids returns every member id, voters and learners, in ascending order. */
  ids(): number[] {
    return [...this.progress.keys()];
  }

  /** quorumActive reports whether a majority of voters was heard from since the last reset. */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) {
        votes.set(id, pr.recentActive);
      }
    }
    return this.voters.voteResult(votes) === 'won';
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** recordVote records a vote; a repeated vote from the same node is ignored. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) {
      this.votes.set(id, granted);
    }
  }

  /** tallyVotes returns granted and rejected counts among voters, and the election outcome. */
  tallyVotes(): {granted: number; rejected: number; result: VoteResult} {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters.ids) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return {granted, rejected, result: this.voters.voteResult(this.votes)};
  }

  /**
   * applyConfState replaces the configuration. Members that stay keep their progress; new
   * members start probing at `nextIndex`; removed members are forgotten.
   */
  applyConfState(cs: ConfState, nextIndex: number): void {
    const learners = new Set(cs.learners);
    const voters = cs.voters.filter(id => !learners.has(id));
    if (voters.length !== cs.voters.length) {
      throw new Error(`conf state lists a node as both voter and learner: ${JSON.stringify(cs)}`);
    }
    this.voters = new MajorityConfig(voters);
    this.learners = learners;
    const old = this.progress;
    this.progress = new Map();
    for (const id of [...voters, ...learners].sort((a, b) => a - b)) {
      const pr =
        old.get(id) ??
        new Progress({
          next: nextIndex,
          maxInflight: this.maxInflight,
          maxInflightBytes: this.maxInflightBytes,
        });
      pr.isLearner = learners.has(id);
      this.progress.set(id, pr);
    }
  }
}
