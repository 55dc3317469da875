/**
 * RaftError is the base class of every error the consensus core throws, so a caller can tell
 * them apart from bugs in its own code with one `instanceof`.
 */
export class RaftError extends Error {
  override readonly name: string = 'RaftError';
}

/**
 * ProposalDroppedError is thrown when a proposal (or a forwarded ReadIndex / transfer request)
 * cannot be accepted right now: no known leader, forwarding disabled, a leadership transfer in
 * progress, this node removed from the configuration, or the uncommitted log over its limit.
 * Nothing was appended; the caller may retry later, for example on another member.
 */
export class ProposalDroppedError extends RaftError {
  override readonly name = 'ProposalDroppedError';
  constructor(readonly reason: string) {
    super(`raft proposal dropped: ${reason}`);
  }
}

/**
 * ConfChangeRefusedError is thrown by a leader for a configuration change it may not append yet:
 * another change is still uncommitted or unapplied, or the leader has not yet committed an entry
 * of its own term. Retry after the pending change has been applied.
 */
export class ConfChangeRefusedError extends RaftError {
  override readonly name = 'ConfChangeRefusedError';
  constructor(readonly reason: string) {
    super(`raft conf change refused: ${reason}`);
  }
}

/** ConfigError reports an invalid {@link Config} field; the message names the field. */
export class ConfigError extends RaftError {
  override readonly name = 'ConfigError';
}

/** StepLocalMessageError: `RawNode.step` was handed a message type that only raft itself makes. */
export class StepLocalMessageError extends RaftError {
  override readonly name = 'StepLocalMessageError';
}

/** StepPeerNotFoundError: a response arrived from a node that is not in the configuration. */
export class StepPeerNotFoundError extends RaftError {
  override readonly name = 'StepPeerNotFoundError';
}

/** CompactedError: the requested index is below the storage's first index (compacted away). */
export class CompactedError extends RaftError {
  override readonly name = 'CompactedError';
  constructor(readonly index: number) {
    super(`requested index ${index} is unavailable due to compaction`);
  }
}

/** UnavailableError: the requested index is above the storage's last index. */
export class UnavailableError extends RaftError {
  override readonly name = 'UnavailableError';
  constructor(readonly index: number) {
    super(`requested entry at index ${index} is unavailable`);
  }
}

/**
 * SnapshotTemporarilyUnavailableError: the storage is still producing a snapshot. Raft retries
 * on a later heartbeat response; it is not a failure.
 */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  override readonly name = 'SnapshotTemporarilyUnavailableError';
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** SnapshotOutOfDateError: a snapshot older than the storage's current one was applied. */
export class SnapshotOutOfDateError extends RaftError {
  override readonly name = 'SnapshotOutOfDateError';
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`requested snapshot index ${requested} is older than the existing snapshot ${current}`);
  }
}
