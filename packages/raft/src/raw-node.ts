import type {ConfState, Entry, HardState, Message} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType, EntryType, MessageType} from '@synod/proto/raftpb';
import type {Config} from './config.js';
import {RaftError, StepLocalMessageError, StepPeerNotFoundError} from './errors.js';
import {newMessage, Raft} from './raft.js';
import type {Ready, SoftState} from './ready.js';
import type {ProgressStatus, Status} from './status.js';

/** A member of a cluster being bootstrapped. */
export interface Peer {
  readonly id: number;
  /** Application data carried by the member's ConfChange (its URLs, say). */
  readonly context?: Uint8Array;
}

function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgPreVoteResp
  );
}

/** What a Ready handed out, so that `advance` can acknowledge exactly that. */
interface InFlightReady {
  readonly lastEntry: {index: number; term: number} | undefined;
  readonly snapshotIndex: number;
  readonly committedEntries: readonly Entry[];
}

/**
 * RawNode is a raft node driven synchronously by its owner: feed it time (`tick`), messages
 * (`step`) and requests (`propose`, `readIndex`, ...), then collect the work to do with
 * `ready()`, do it as {@link Ready} describes, and call `advance()`.
 *
 * It does no I/O, reads no clock and draws randomness only from `Config.rng`: the same calls
 * in the same order always produce the same Ready sequence.
 *
 * @example
 * const node = new RawNode({id: 1, electionTick: 10, heartbeatTick: 1, storage, rng});
 * node.bootstrap([{id: 1}, {id: 2}, {id: 3}]); // fresh cluster only
 * // every tick interval: node.tick(); for every peer message: node.step(msg);
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   // persist rd.snapshot, rd.entries, rd.hardState; send rd.messages; apply
 *   // rd.committedEntries (calling node.applyConfChange for conf changes)
 *   node.advance();
 * }
 */
export class RawNode {
  /** @internal The protocol state machine; exposed for tests and the simulator. */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private inFlight: InFlightReady | undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * bootstrap initializes a fresh node of a new cluster: it appends one AddNode conf change
   * per peer at term 1, committed, and applies them to the configuration. Every member of the
   * new cluster must bootstrap with the same peers in the same order. The first Ready carries
   * the entries to persist and the same entries as committed entries, which the application
   * applies like any other (calling `applyConfChange` is harmless: the members are present).
   *
   * Throws if the storage is not empty (a restarting node must not bootstrap).
   */
  bootstrap(peers: readonly Peer[]): void {
    if (peers.length === 0) {
      throw new RaftError('must provide at least one peer to bootstrap');
    }
    const storage = this.raft.raftLog.storage;
    if (storage.lastIndex() !== 0 || this.raft.raftLog.lastIndex() !== 0) {
      throw new RaftError("can't bootstrap a nonempty Storage");
    }
    // The empty hard state makes the first Ready emit the bootstrap term and commit.
    this.prevHardState = {term: 0, vote: 0, commit: 0};
    this.raft.becomeFollower(1, 0);
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: ConfChange.encode({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: p.id,
        context: p.context ?? new Uint8Array(0),
        id: 0,
      }).finish(),
    }));
    this.raft.raftLog.append(ents);
    // The entries are committed by construction: every member starts with the same ones.
    this.raft.raftLog.committed = ents.length;
    for (const p of peers) {
      this.raft.applyConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: p.id,
        context: new Uint8Array(0),
        id: 0,
      });
    }
  }

  /** tick advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** campaign makes this node start an election now (a pre-vote round first if enabled). */
  campaign(): void {
    this.raft.step(newMessage(MessageType.MsgHup, {from: this.raft.id}));
  }

  /**
   * propose asks to append `data` to the log. A leader appends it; a follower forwards it to
   * the leader. Throws {@link ProposalDroppedError} if it cannot be accepted now. Acceptance
   * is not commitment: the entry may still be lost if leadership changes; watch
   * `committedEntries` for it.
   */
  propose(data: Uint8Array): void {
    this.raft.step(
      newMessage(MessageType.MsgProp, {
        from: this.raft.id,
        entries: [{term: 0, index: 0, type: EntryType.EntryNormal, data}],
      }),
    );
  }

  /**
   * proposeConfChange proposes a single-member configuration change. Only one change may be
   * pending at a time: a leader throws {@link ConfChangeRefusedError} while an earlier change
   * is uncommitted or unapplied, or before it committed an entry of its own term. A change
   * forwarded by a follower and refused by the leader becomes an empty entry instead (the
   * follower's caller sees it never apply). Apply the committed entry with `applyConfChange`.
   */
  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      newMessage(MessageType.MsgProp, {
        from: this.raft.id,
        entries: [
          {
            term: 0,
            index: 0,
            type: EntryType.EntryConfChange,
            data: ConfChange.encode(cc).finish(),
          },
        ],
      }),
    );
  }

  /**
   * applyConfChange applies a committed conf change entry to the configuration and returns the
   * new configuration, to be stored with the applied state. Call it when the entry is applied,
   * in log order.
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * step feeds a message received from a peer. Throws {@link StepLocalMessageError} for a
   * local-only message type and {@link StepPeerNotFoundError} for a response from a node
   * outside the configuration.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) {
      throw new StepLocalMessageError(
        `raft: cannot step raft local message ${MessageType[m.type]}`,
      );
    }
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) {
      throw new StepPeerNotFoundError(`raft: cannot step as peer ${m.from} not found`);
    }
    this.raft.step(m);
  }

  /**
   * readIndex requests a linearizable read point. Once the answer arrives in
   * `Ready.readStates` (matched by `ctx`, which must be unique and non-empty), the read may be
   * served when the applied index reaches its `index`. Throws {@link ProposalDroppedError} if
   * there is no leader to ask. Requests are never retried: on a leader change, issue a new one.
   */
  readIndex(ctx: Uint8Array): void {
    if (ctx.length === 0) {
      throw new RaftError('readIndex context must be non-empty');
    }
    this.raft.step(newMessage(MessageType.MsgReadIndex, {context: ctx}));
  }

  /**
   * transferLeader asks the leader to hand leadership to `transferee`. The leader stops taking
   * proposals, brings the transferee's log up to date, then tells it to campaign at once; the
   * transfer is abandoned after an election timeout.
   */
  transferLeader(transferee: number): void {
    this.raft.step(newMessage(MessageType.MsgTransferLeader, {from: transferee}));
  }

  /** reportUnreachable tells the leader that the last message to `id` could not be sent. */
  reportUnreachable(id: number): void {
    this.raft.step(newMessage(MessageType.MsgUnreachable, {from: id}));
  }

  /**
   * reportSnapshot reports whether the MsgSnap sent to `id` was delivered and applied. Either
   * way the leader returns to probing `id`.
   */
  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(newMessage(MessageType.MsgSnapStatus, {from: id, reject: !ok}));
  }

  private softState(): SoftState {
    return {lead: this.raft.lead, raftState: this.raft.state};
  }

  /** hasReady reports whether `ready()` has anything to hand out. */
  hasReady(): boolean {
    const r = this.raft;
    r.flushAppends();
    const ss = this.prevSoftState;
    if (ss.lead !== r.lead || ss.raftState !== r.state) return true;
    const hs = this.prevHardState;
    if (hs.term !== r.term || hs.vote !== r.vote || hs.commit !== r.raftLog.committed) return true;
    const u = r.raftLog.unstable;
    return (
      u.snapshot !== undefined ||
      u.entries.length > 0 ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.raftLog.hasNextCommittedEnts()
    );
  }

  /**
   * ready returns the work accumulated since the previous Ready. Handle it as {@link Ready}
   * documents, then call `advance()`; calling `ready()` again before `advance()` throws.
   */
  ready(): Ready {
    if (this.inFlight !== undefined) {
      throw new RaftError('ready() called again before advance()');
    }
    const r = this.raft;
    r.flushAppends();
    const log = r.raftLog;

    const ss = this.softState();
    const softState =
      ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState
        ? ss
        : undefined;
    const hs = r.hardState();
    const prev = this.prevHardState;
    const hardChanged = hs.term !== prev.term || hs.vote !== prev.vote || hs.commit !== prev.commit;
    const entries = log.unstable.entries.slice();
    const snapshot = log.unstable.snapshot;
    const committedEntries = log.nextCommittedEnts(r.maxCommittedSizePerReady);
    const messages = r.msgs;
    r.msgs = [];
    const readStates = r.readStates;
    r.readStates = [];

    const last = entries[entries.length - 1];
    this.inFlight = {
      lastEntry: last === undefined ? undefined : {index: last.index, term: last.term},
      snapshotIndex: snapshot?.metadata?.index ?? 0,
      committedEntries,
    };
    if (softState !== undefined) {
      this.prevSoftState = ss;
    }
    const mustSync =
      entries.length > 0 ||
      snapshot !== undefined ||
      hs.term !== prev.term ||
      hs.vote !== prev.vote;
    if (hardChanged) {
      this.prevHardState = hs;
    }
    return {
      softState,
      hardState: hardChanged ? hs : undefined,
      readStates,
      entries,
      snapshot,
      committedEntries,
      messages,
      mustSync,
    };
  }

  /**
   * advance tells the node that the last Ready was handled: its entries and snapshot are
   * durable and its committed entries applied.
   */
  advance(): void {
    const f = this.inFlight;
    if (f === undefined) {
      throw new RaftError('advance() called without a preceding ready()');
    }
    this.inFlight = undefined;
    const log = this.raft.raftLog;
    if (f.snapshotIndex > 0) {
      log.stableSnapTo(f.snapshotIndex);
      if (log.applied < f.snapshotIndex) {
        log.appliedTo(f.snapshotIndex);
      }
    }
    if (f.lastEntry !== undefined) {
      log.stableTo(f.lastEntry.index, f.lastEntry.term);
    }
    const lastCommitted = f.committedEntries[f.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      log.appliedTo(lastCommitted.index);
      this.raft.reduceUncommittedSize(f.committedEntries);
    }
  }

  /** status returns the node's current state; `progress` is filled on the leader only. */
  status(): Status {
    const r = this.raft;
    const progress = new Map<number, ProgressStatus>();
    if (r.state === 'leader') {
      for (const [id, pr] of r.trk.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          inflightMsgs: pr.inflights.count,
          pendingSnapshot: pr.pendingSnapshot,
        });
      }
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: this.softState(),
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      config: r.trk.confState(),
      leadTransferee: r.leadTransferee,
      progress,
    };
  }
}
