import type {ConfState, HardState} from '@synod/proto/raftpb';
import type {ProgressState} from './tracker/progress.js';
import type {SoftState} from './ready.js';

/** ProgressStatus is a leader's view of one member's replication. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly paused: boolean;
  readonly inflightMsgs: number;
  readonly pendingSnapshot: number;
}

/** Status is a snapshot of a node's raft state, for monitoring and tests. */
export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly config: ConfState;
  /** Set while a leadership transfer to that node is in progress (leader only). */
  readonly leadTransferee: number;
  /** Every member's progress; only on the leader, otherwise empty. */
  readonly progress: ReadonlyMap<number, ProgressStatus>;
}
