/** The invariants the simulator checks; names appear in failure reports. */
export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'durability'
  | 'single-conf-change'
  | 'persisted-state'
  | 'applied-order'
  | 'linearizability'
  | 'liveness'
  | 'raft-error';

/** InvariantViolation is thrown by a checker the moment a run breaks an invariant. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}
