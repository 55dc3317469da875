import type {Entry, HardState, Message, Snapshot} from '@synod/proto/raftpb';
import type {ReadState} from './read-only.js';
import type {StateRole} from './state-role.js';

/** SoftState is volatile state that need not be persisted: who leads and this node's role. */
export interface SoftState {
  /** The leader's id, 0 when unknown. */
  readonly lead: number;
  readonly raftState: StateRole;
}

/**
 * Ready is everything a node has to do after a batch of `tick` / `step` / `propose` calls.
 * Take one with `RawNode.ready()`, handle it in this order, then call `RawNode.advance()`:
 *
 * 1. **Persist** `snapshot` (if any), then `entries`, then `hardState`, in one durable write
 *    (one fsync, when `mustSync`). Entries replace any stored entries at the same or later
 *    indexes. The write must be durable before step 2: a vote, an append acknowledgement or
 *    a commit index in a message promises the receiver that this node will remember it.
 * 2. **Send** `messages`. Simple, safe contract: send all of them only after step 1 is
 *    durable. (The one relaxation this core supports is a leader sending its `MsgApp`,
 *    `MsgSnap` and `MsgHeartbeat` before its own write is durable, Raft thesis §10.2.1: a
 *    leader counts its own unpersisted entries toward commit, but nothing learns of that commit
 *    before the next Ready, which comes after this `advance`. Every other message type, votes
 *    and all responses in particular, MUST wait.) For a `MsgSnap` report the outcome with
 *    `reportSnapshot`; for an unreachable peer call `reportUnreachable`.
 * 3. **Apply** `snapshot` (if any) to the state machine, then `committedEntries` in order,
 *    each exactly once. For an `EntryConfChange` entry decode its `ConfChange` and call
 *    `RawNode.applyConfChange` before applying the next entry. Committed entries can include
 *    entries from `entries` of this same Ready: they are applied after step 1 made them durable.
 * 4. Serve `readStates`: a read registered with `readIndex(ctx)` may be answered once the
 *    applied index reaches `index`.
 * 5. Call `advance()`. Do not call `ready()` again before that.
 *
 * All fields are read-only and shared with raft's log; do not mutate entries or messages.
 */
export interface Ready {
  /** Set when the leader or this node's role changed since the previous Ready. */
  readonly softState: SoftState | undefined;
  /** Set when term, vote or commit changed: persist it (step 1) before sending messages. */
  readonly hardState: HardState | undefined;
  /** ReadIndex answers (see step 4). */
  readonly readStates: readonly ReadState[];
  /** Entries to append to stable storage (step 1), in index order. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist (step 1) and apply (step 3). */
  readonly snapshot: Snapshot | undefined;
  /** Committed entries to apply to the state machine, in index order (step 3). */
  readonly committedEntries: readonly Entry[];
  /** Messages to send to peers after step 1 (step 2). */
  readonly messages: readonly Message[];
  /** Whether step 1 needs an fsync: entries were appended, or term or vote changed. */
  readonly mustSync: boolean;
}
