import type {ConfState, Entry, HardState, Message} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType, EntryType, MessageType} from '@synod/proto/raftpb';
import {simpleChange} from './confchange/simple-change.js';
import type {ResolvedConfig} from './config.js';
import {validateConfig} from './config.js';
import type {Config} from './config.js';
import {payloadSize} from './entry-size.js';
import {
  CompactedError,
  ConfChangeRefusedError,
  ProposalDroppedError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from './errors.js';
import type {Logger} from './logger.js';
import {silentLogger} from './logger.js';
import {RaftLog} from './raft-log.js';
import {ReadOnly} from './read-only.js';
import type {ReadState} from './read-only.js';
import type {VoteResult} from './quorum/vote-result.js';
import type {StateRole} from './state-role.js';
import type {Progress} from './tracker/progress.js';
import {ProgressTracker} from './tracker/progress-tracker.js';

/** How an election was started. */
type CampaignType = 'pre-election' | 'election' | 'transfer';

const EMPTY = new Uint8Array(0);

/**
 * Marks the vote requests of an election forced by leadership transfer (in `context`), so
 * that voters inside a leader lease still answer them.
 */
export const CAMPAIGN_TRANSFER = new Uint8Array([
  0x43, 0x61, 0x6d, 0x70, 0x61, 0x69, 0x67, 0x6e, 0x54, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72,
]); // "CampaignTransfer"

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/** A message with every field at its default, to be filled in by the caller. */
export function newMessage(type: MessageType, fields: Partial<Message> = {}): Message {
  return {
    type,
    to: fields.to ?? 0,
    from: fields.from ?? 0,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY,
    commitOnly: fields.commitOnly ?? false,
  };
}

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.MsgPreVote ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
}

type StepFn = (m: Message) => void;

/**
 * Raft is the protocol state machine of one node. It is internal: applications drive it
 * through {@link RawNode}. Inputs are `tick` and `step`; outputs accumulate in `msgs`,
 * `readStates` and the log, and are collected into a Ready by RawNode.
 *
 * Role behaviour is swapped by replacing `stepFn` and `tickFn` in the `become*` methods.
 *
 * @internal
 */
export class Raft {
  readonly id: number;
  term = 0;
  /** Whom this node voted for in `term`, 0 if nobody. */
  vote = 0;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  state: StateRole = 'follower';
  /** Whether this node is a learner in the current configuration. */
  isLearner = false;
  /** Outgoing messages, collected by the next Ready. */
  msgs: Message[] = [];
  /** The leader's id in `term`, 0 if unknown. */
  lead = 0;
  /** The target of a leadership transfer in progress, 0 if none. */
  leadTransferee = 0;
  /**
   * The log index of the latest conf change the leader appended (or of its first entry of the
   * term). A new conf change is refused while it exceeds the applied index.
   */
  pendingConfIndex = 0;
  /** Payload bytes of appended but not yet applied entries, bounded on a leader. */
  uncommittedSize = 0;
  readOnly = new ReadOnly();
  /**
   * Leader: ticks since the last check-quorum round (or transfer start). Others: ticks since
   * the last election timeout reset, i.e. since hearing from a leader or granting a vote.
   */
  electionElapsed = 0;
  /** Leader only: ticks since the last heartbeat broadcast. */
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** ReadIndex requests a new leader holds until it has committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  readonly maxCommittedSizePerReady: number;
  readonly disableProposalForwarding: boolean;
  readonly logger: Logger;
  private readonly cfg: ResolvedConfig;
  /** Set by proposals; the MsgApp broadcast is deferred to `flushAppends` to batch them. */
  private appendsPending = false;

  private stepFn: StepFn = m => {
    this.stepFollower(m);
  };
  private tickFn: () => void = () => {
    this.tickElection();
  };

  constructor(config: Config) {
    const c = validateConfig(config);
    this.cfg = c;
    this.id = c.id;
    this.logger = c.logger ?? silentLogger;
    this.raftLog = new RaftLog(c.storage, this.logger);
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.maxCommittedSizePerReady = c.maxCommittedSizePerReady;
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);

    const {hardState, confState} = c.storage.initialState();
    this.trk.applyConfState(confState, this.raftLog.lastIndex() + 1);
    this.isLearner = this.trk.learners.has(this.id);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) {
      this.loadState(hardState);
    }
    // An applied index at or below the snapshot is implied by the snapshot itself.
    if (c.applied > this.raftLog.applied) {
      this.raftLog.appliedTo(c.applied);
    }
    this.becomeFollower(this.term, 0);
    this.logger.info(
      `newRaft ${this.id} [peers: [${this.trk.ids().join(',')}], term: ${this.term}, ` +
        `commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, ` +
        `lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hardState(): HardState {
    return {term: this.term, vote: this.vote, commit: this.raftLog.committed};
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new Error(
        `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  /** send stamps a message with this node's id and term (as the type requires) and queues it. */
  private send(m: Message): void {
    if (m.from === 0) {
      m.from = this.id;
    }
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      if (m.term === 0) {
        // Vote messages carry the term of the election they are about; never default it.
        throw new Error(`term should be set when sending ${MessageType[t]}`);
      }
    } else {
      if (m.term !== 0) {
        throw new Error(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      }
      // Proposals and read requests are forwarded to the leader as local messages.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) {
        m.term = this.term;
      }
    }
    this.msgs.push(m);
  }

  /**
   * maybeSendAppend sends a MsgApp (or a MsgSnap when the needed entries are compacted) to
   * `to` if its progress allows. With `sendIfEmpty` false, nothing is sent when there are no
   * new entries. Returns whether a message was sent.
   */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) {
      return false;
    }
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) {
        return this.maybeSendSnapshot(to, pr);
      }
      throw err;
    }
    if (ents.length === 0 && !sendIfEmpty) {
      return false;
    }
    let bytes = 0;
    for (const e of ents) {
      bytes += payloadSize(e);
    }
    this.send(
      newMessage(MessageType.MsgApp, {
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    pr.sentEntries(ents.length, prevIndex + ents.length, bytes);
    return true;
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(
        `${this.id} ignore sending snapshot to ${to} since it is not recently active`,
      );
      return false;
    }
    let snap;
    try {
      snap = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(`${this.id} failed to send snapshot to ${to}: temporarily unavailable`);
        return false;
      }
      throw err;
    }
    const sindex = snap.metadata?.index ?? 0;
    if (sindex === 0) {
      throw new Error('need non-empty snapshot');
    }
    const cs = snap.metadata?.confState;
    if (cs === undefined || (!cs.voters.includes(to) && !cs.learners.includes(to))) {
      // The follower would refuse it (it is not in the snapshot's configuration): the snapshot
      // predates the member's addition. Wait for the application to take a newer one rather
      // than send it again and again.
      this.logger.warn(
        `${this.id} cannot send snapshot at index ${sindex} to ${to}: it predates ${to}'s addition; take a newer snapshot`,
      );
      return false;
    }
    this.logger.debug(
      `${this.id} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] ` +
        `sent snapshot[index: ${sindex}, term: ${snap.metadata?.term ?? 0}] to ${to} [${pr.toString()}]`,
    );
    pr.becomeSnapshot(sindex);
    this.send(newMessage(MessageType.MsgSnap, {to, snapshot: snap}));
    return true;
  }

  private sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to);
    // Never tell a follower to commit beyond what it is known to hold.
    const commit = Math.min(pr?.match ?? 0, this.raftLog.committed);
    this.send(newMessage(MessageType.MsgHeartbeat, {to, commit, context: ctx ?? EMPTY}));
  }

  private sendTimeoutNow(to: number): void {
    this.send(newMessage(MessageType.MsgTimeoutNow, {to}));
  }

  /**
   * bcastCommit tells every peer the new commit index. A peer in replicate state that has
   * been sent every entry gets a commit notice (a MsgApp without entries, `commitOnly`) that
   * it does not answer when it accepts it: the answer would repeat the one it gives (or gave)
   * to the append that carried those entries, and on every write it would be one more
   * message per follower. A peer that lacks the entries still rejects the notice, which
   * starts the usual repair. Every other peer gets what {@link bcastAppend} sends it.
   */
  private bcastCommit(): void {
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      if (pr.state === 'replicate' && pr.next === last + 1 && !pr.isPaused()) {
        this.send(
          newMessage(MessageType.MsgApp, {
            to: id,
            index: last,
            logTerm: this.raftLog.term(last),
            commit: this.raftLog.committed,
            commitOnly: true,
          }),
        );
      } else {
        this.sendAppend(id);
      }
    }
  }

  /** bcastAppend sends MsgApp (possibly empty, to carry the commit index) to every peer. */
  private bcastAppend(): void {
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) {
        this.sendAppend(id);
      }
    }
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) {
        this.sendHeartbeat(id, ctx);
      }
    }
  }

  /**
   * flushAppends sends the entries proposals appended since the last flush. Deferring the
   * broadcast lets many proposals of one event-loop turn travel in one MsgApp per follower.
   */
  flushAppends(): void {
    if (!this.appendsPending) {
      return;
    }
    this.appendsPending = false;
    if (this.state !== 'leader') {
      return;
    }
    for (const id of this.trk.progress.keys()) {
      if (id !== this.id) {
        // Loop: a size-limited MsgApp may leave entries for another one.
        while (this.maybeSendAppend(id, false)) {
          /* keep sending while the window allows */
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Commit and append

  /**
   * maybeCommit advances the commit index to what a quorum acknowledged, but only through an
   * entry of the current term (Raft §5.4.2: counting replicas of older entries is unsafe).
   */
  private maybeCommit(): boolean {
    const index = this.trk.committed();
    const term = this.cfg.unsafeCommitEarlierTermByCount
      ? this.raftLog.termOrZero(index)
      : this.term;
    if (!this.raftLog.maybeCommit(index, term)) {
      return false;
    }
    this.releasePendingReadIndexMessages();
    return true;
  }

  /** Appends entries at the end of the leader's log; false if the size limit refuses them. */
  private appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      const e = es[i] as Entry;
      e.term = this.term;
      e.index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es)) {
      this.logger.warn(
        `${this.id} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      return false;
    }
    const last = this.raftLog.append(es);
    // The leader counts its own (not yet durable) entries: see the Ready contract.
    this.trk.progress.get(this.id)?.maybeUpdate(last);
    // The leader's own match is the highest of all, so raising it moves the quorum index only
    // when the leader alone is a quorum; otherwise commit waits for follower acks.
    if (this.trk.isSingleton()) {
      this.maybeCommit();
    }
    return true;
  }

  private increaseUncommittedSize(es: readonly Entry[]): boolean {
    let s = 0;
    for (const e of es) {
      s += payloadSize(e);
    }
    // One entry over the limit is accepted when nothing is uncommitted, or it could never go.
    if (
      this.maxUncommittedSize > 0 &&
      this.uncommittedSize > 0 &&
      s > 0 &&
      this.uncommittedSize + s > this.maxUncommittedSize
    ) {
      return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  /** reduceUncommittedSize accounts for entries handed to the application. */
  reduceUncommittedSize(es: readonly Entry[]): void {
    if (this.uncommittedSize === 0) {
      return;
    }
    let s = 0;
    for (const e of es) {
      s += payloadSize(e);
    }
    this.uncommittedSize = Math.max(0, this.uncommittedSize - s);
  }

  /** committedEntryInCurrentTerm: has this leader committed an entry of its own term yet? */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  // ---------------------------------------------------------------------------------------
  // Role transitions

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.becomeProbe();
      pr.match = id === this.id ? last : 0;
      pr.next = last + 1;
      pr.recentActive = id === this.id;
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    // Reads waiting for a commit in the old term are abandoned; their callers retry.
    this.pendingReadIndexMessages = [];
    this.appendsPending = false;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout =
      this.electionTimeout + this.cfg.rng.nextInt(this.electionTimeout);
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = m => {
      this.stepFollower(m);
    };
    this.reset(term);
    this.tickFn = () => {
      this.tickElection();
    };
    this.lead = lead;
    this.state = 'follower';
    this.logger.info(`${this.id} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === 'leader') {
      throw new Error('invalid transition [leader -> candidate]');
    }
    this.stepFn = m => {
      this.stepCandidate(m);
    };
    this.reset(this.term + 1);
    this.tickFn = () => {
      this.tickElection();
    };
    this.vote = this.id;
    this.state = 'candidate';
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === 'leader') {
      throw new Error('invalid transition [leader -> pre-candidate]');
    }
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.stepFn = m => {
      this.stepCandidate(m);
    };
    this.trk.resetVotes();
    this.tickFn = () => {
      this.tickElection();
    };
    this.lead = 0;
    this.state = 'pre-candidate';
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === 'follower') {
      throw new Error('invalid transition [follower -> leader]');
    }
    this.stepFn = m => {
      this.stepLeader(m);
    };
    this.reset(this.term);
    this.tickFn = () => {
      this.tickHeartbeat();
    };
    this.lead = this.id;
    this.state = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // The empty entry of the new term: committing it commits every earlier entry (§5.4.2)
    // and is what ReadIndex and conf changes wait for.
    if (
      !this.appendEntry([{term: 0, index: 0, type: EntryType.EntryNormal, data: new Uint8Array(0)}])
    ) {
      throw new Error('empty entry was dropped');
    }
    // No conf change until this entry is applied (single-server change fix, raft-dev 2015).
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  // ---------------------------------------------------------------------------------------
  // Ticks

  tick(): void {
    this.tickFn();
  }

  /** promotable: may this node become leader? (a voter, with no snapshot pending) */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage(MessageType.MsgHup, {from: this.id}));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        this.step(newMessage(MessageType.MsgCheckQuorum, {from: this.id}));
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === 'leader' && this.leadTransferee !== 0) {
        this.logger.info(`${this.id} abort leadership transfer to ${this.leadTransferee}: timeout`);
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== 'leader') {
      return;
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage(MessageType.MsgBeat, {from: this.id}));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Elections

  private hup(t: CampaignType): void {
    if (this.state === 'leader') {
      this.logger.debug(`${this.id} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(
        `${this.id} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`,
      );
      return;
    }
    this.logger.info(`${this.id} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    const lo = Math.max(log.applied + 1, log.firstIndex());
    if (lo > log.committed) {
      return false;
    }
    for (const e of log.slice(lo, log.committed + 1, Infinity)) {
      if (e.type === EntryType.EntryConfChange) {
        return true;
      }
    }
    return false;
  }

  private campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable; campaign() should have been called`);
      return;
    }
    let voteMsg: MessageType;
    let term: number;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // A pre-vote asks about the next term without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === 'won') {
      // Single voter: the election is won by our own vote.
      if (t === 'pre-election') {
        this.campaign('election');
      } else {
        this.becomeLeader();
      }
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voters.ids) {
      if (id === this.id) {
        continue;
      }
      this.logger.info(
        `${this.id} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${MessageType[voteMsg]} ` +
          `request to ${id} at term ${term}`,
      );
      this.send(
        newMessage(voteMsg, {
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: t === 'transfer' ? CAMPAIGN_TRANSFER : EMPTY,
        }),
      );
    }
  }

  private poll(id: number, t: MessageType, granted: boolean): VoteResult {
    this.logger.info(
      `${this.id} received ${MessageType[t]} ${granted ? '' : 'rejection '}from ${id} at term ${this.term}`,
    );
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---------------------------------------------------------------------------------------
  // Step

  /** step is the single entry point of every message, local or remote. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease =
          this.checkQuorum && this.lead !== 0 && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // Leader lease (§4.2.3): a live leader was heard from within the election timeout,
          // so this candidate is disruptive (e.g. removed or partitioned); do not even bump
          // the term.
          this.logger.info(
            `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, ` +
              `vote: ${this.vote}] ignored ${MessageType[m.type]} from ${m.from} ` +
              `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired ` +
              `(remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a pre-vote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we move there when we win the quorum.
      } else {
        this.logger.info(
          `${this.id} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${m.from} [term: ${m.term}]`,
        );
        if (
          m.type === MessageType.MsgApp ||
          m.type === MessageType.MsgHeartbeat ||
          m.type === MessageType.MsgSnap
        ) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, 0);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // A stale leader (e.g. one that was partitioned) would otherwise never learn of the
        // new term: with check-quorum or pre-vote this node will not disrupt it by
        // campaigning, so tell it explicitly.
        this.send(newMessage(MessageType.MsgAppResp, {to: m.from}));
      } else if (m.type === MessageType.MsgPreVote) {
        this.logger.info(
          `${this.id} rejected ${MessageType[m.type]} from ${m.from} at term ${this.term}: lower term`,
        );
        this.send(
          newMessage(MessageType.MsgPreVoteResp, {to: m.from, term: this.term, reject: true}),
        );
      } else {
        this.logger.debug(
          `${this.id} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${m.from} [term: ${m.term}]`,
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === 0 && this.lead === 0) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(
            `${this.id} cast ${MessageType[m.type]} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          // The response carries the message's term: for a pre-vote that is the future term.
          this.send(newMessage(voteRespType(m.type), {to: m.from, term: m.term}));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `${this.id} rejected ${MessageType[m.type]} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          this.send(newMessage(voteRespType(m.type), {to: m.from, term: this.term, reject: true}));
        }
        return;
      }
      default:
        this.stepFn(m);
    }
  }

  /**
   * dropProposal refuses a proposal: a local caller gets the error; a forwarded one is dropped
   * with a log line (its proposer notices by timing out).
   */
  private dropProposal(m: Message, reason: string): void {
    if (m.from === this.id || m.from === 0) {
      throw new ProposalDroppedError(reason);
    }
    this.logger.debug(`${this.id} dropped proposal from ${m.from}: ${reason}`);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        if (!this.trk.quorumActive()) {
          this.logger.warn(`${this.id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, 0);
        }
        // Start the next round: everyone must be heard from again.
        for (const [id, pr] of this.trk.progress) {
          pr.recentActive = id === this.id;
        }
        return;
      case MessageType.MsgProp:
        this.handlePropose(m);
        return;
      case MessageType.MsgReadIndex:
        if (!this.committedEntryInCurrentTerm()) {
          // Until its first entry commits, a new leader does not know the latest commit index
          // (§6.4 step 1): answering now could miss writes acknowledged by the old leader.
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendMsgReadIndexResponse(m);
        return;
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug(`${this.id} no progress available for ${m.from}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.MsgHeartbeatResp:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.MsgSnapStatus:
        if (pr.state !== 'snapshot') {
          return;
        }
        if (m.reject) {
          // Forget the failed snapshot so that probing starts from the old match.
          pr.pendingSnapshot = 0;
          this.logger.debug(
            `${this.id} snapshot failed, resumed sending replication messages to ${m.from}`,
          );
        } else {
          this.logger.debug(
            `${this.id} snapshot succeeded, resumed sending replication messages to ${m.from}`,
          );
        }
        pr.becomeProbe();
        // Wait for the follower's answer (or a heartbeat response) before probing again.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.MsgUnreachable:
        // An optimistic stream of MsgApp was probably lost: fall back to probing.
        if (pr.state === 'replicate') {
          pr.becomeProbe();
        }
        return;
      case MessageType.MsgTransferLeader:
        this.handleTransferLeader(m, pr);
        return;
      default:
        return;
    }
  }

  private handlePropose(m: Message): void {
    if (m.entries.length === 0) {
      throw new Error(`${this.id} stepped empty MsgProp`);
    }
    if (!this.trk.progress.has(this.id)) {
      // This leader was removed from the configuration and is about to step down.
      this.dropProposal(m, 'this leader is no longer a member of the cluster');
      return;
    }
    if (this.leadTransferee !== 0) {
      this.dropProposal(m, `leadership transfer to ${this.leadTransferee} in progress`);
      return;
    }
    const local = m.from === this.id || m.from === 0;
    // A forwarded message's entries belong to the sender; the log gets its own objects.
    const ents = local
      ? m.entries
      : m.entries.map(e => ({term: 0, index: 0, type: e.type, data: e.data}));
    let confIndex = 0;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.type !== EntryType.EntryConfChange) {
        continue;
      }
      const refusal = this.confChangeRefusal(e.data, confIndex);
      if (refusal !== undefined) {
        if (local) {
          throw new ConfChangeRefusedError(refusal);
        }
        this.logger.info(`${this.id} ignoring conf change from ${m.from}: ${refusal}`);
        // Keep the slot so the other entries of the batch keep their positions.
        ents[i] = {term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY};
      } else {
        confIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(ents)) {
      this.dropProposal(m, 'too many uncommitted entries');
      return;
    }
    if (confIndex !== 0) {
      this.pendingConfIndex = confIndex;
    }
    this.appendsPending = true;
  }

  /** Why a conf change may not be appended now, or undefined if it may. */
  private confChangeRefusal(data: Uint8Array, confIndexInBatch: number): string | undefined {
    let cc: ConfChange;
    try {
      cc = ConfChange.decode(data);
    } catch (err) {
      return `malformed conf change: ${String(err)}`;
    }
    const next = simpleChange(this.trk.confState(), cc);
    if (typeof next === 'string') {
      return next;
    }
    if (!this.committedEntryInCurrentTerm()) {
      return `leader has not yet committed an entry in its term ${this.term}`;
    }
    if (confIndexInBatch !== 0) {
      return 'another conf change is in the same batch';
    }
    if (this.pendingConfIndex > this.raftLog.applied) {
      return (
        `possible unapplied conf change at index ${this.pendingConfIndex} ` +
        `(applied to ${this.raftLog.applied})`
      );
    }
    return undefined;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(
        `${this.id} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`,
      );
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) {
        // The follower's log holds term m.logTerm at m.rejectHint: skip every leader entry
        // of a later term in one step instead of one index per round trip.
        nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      }
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === 'replicate') {
          pr.becomeProbe();
        }
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) {
      return;
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The follower caught up past the snapshot (it may have arrived, or the log had the
      // entries after all): stream again.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.bcastCommit();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // The window may have room for more (size-limited) messages now.
    while (this.maybeSendAppend(m.from, false)) {
      /* keep sending while the window allows */
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(`${this.id} sent MsgTimeoutNow to ${m.from} after received MsgAppResp`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // The follower is alive, yet a full window means its acks (or our appends) got lost: free
    // a slot so one MsgApp goes out and its answer (ack or rejection) restarts the flow.
    if (pr.state === 'replicate' && pr.inflights.full()) {
      pr.inflights.freeFirstOne();
    }
    if (pr.match < this.raftLog.lastIndex() || pr.state === 'probe') {
      this.sendAppend(m.from);
    }
    if (m.context.length === 0) {
      return;
    }
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || this.trk.voters.voteResult(acks) !== 'won') {
      return;
    }
    for (const rs of this.readOnly.advance(m.context)) {
      this.respondToReadIndex(rs.req, rs.index);
    }
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) {
      this.logger.debug(`${this.id} is learner. Ignored transferring leadership`);
      return;
    }
    const leadTransferee = m.from;
    const lastLeadTransferee = this.leadTransferee;
    if (lastLeadTransferee !== 0) {
      if (lastLeadTransferee === leadTransferee) {
        this.logger.info(
          `${this.id} [term ${this.term}] transfer leadership to ${leadTransferee} is in progress, ignores request to same node`,
        );
        return;
      }
      this.abortLeaderTransfer();
      this.logger.info(
        `${this.id} [term ${this.term}] abort previous transferring leadership to ${lastLeadTransferee}`,
      );
    }
    if (leadTransferee === this.id) {
      this.logger.debug(`${this.id} is already leader. Ignored transferring leadership to self`);
      return;
    }
    this.logger.info(
      `${this.id} [term ${this.term}] starts to transfer leadership to ${leadTransferee}`,
    );
    // The transfer must finish within one election timeout; restart that clock.
    this.electionElapsed = 0;
    this.leadTransferee = leadTransferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(leadTransferee);
      this.logger.info(
        `${this.id} sends MsgTimeoutNow to ${leadTransferee} immediately as ${leadTransferee} already has up-to-date log`,
      );
    } else {
      this.sendAppend(leadTransferee);
    }
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = 0;
  }

  /** Answers a ReadIndex request, or starts its heartbeat round. */
  private sendMsgReadIndexResponse(m: Message): void {
    if (this.trk.isSingleton()) {
      // Nobody else can have been elected: the commit index is current.
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeatWithCtx(m.context);
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === 0 || req.from === this.id) {
      this.readStates.push({index, requestCtx: req.context});
      return;
    }
    this.send(
      newMessage(MessageType.MsgReadIndexResp, {to: req.from, index, context: req.context}),
    );
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) {
      return;
    }
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) {
      this.sendMsgReadIndexResponse(m);
    }
  }

  private stepCandidate(m: Message): void {
    // Votes of a stale pre-vote round must not count in the real election, nor vice versa.
    const myVoteRespType =
      this.state === 'pre-candidate' ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.dropProposal(m, `no leader at term ${this.term}`);
        return;
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTimeoutNow:
        this.logger.debug(
          `${this.id} [term ${this.term} state ${this.state}] ignored MsgTimeoutNow from ${m.from}`,
        );
        return;
      default:
        break;
    }
    if (m.type === myVoteRespType) {
      const result = this.poll(m.from, m.type, !m.reject);
      const {granted, rejected} = this.trk.tallyVotes();
      this.logger.info(
        `${this.id} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`,
      );
      if (result === 'won') {
        if (this.state === 'pre-candidate') {
          this.campaign('election');
        } else {
          this.becomeLeader();
          this.bcastAppend();
        }
      } else if (result === 'lost') {
        // A pre-candidate that lost stays at its term: becomeFollower(term) is a no-op for it.
        this.becomeFollower(this.term, 0);
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === 0) {
          this.dropProposal(m, `no leader at term ${this.term}`);
          return;
        }
        if (this.disableProposalForwarding) {
          this.dropProposal(m, `not forwarding to leader ${this.lead} (forwarding disabled)`);
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === 0) {
          this.logger.info(
            `${this.id} no leader at term ${this.term}; dropping leader transfer msg`,
          );
          return;
        }
        // A fresh message: one forwarded before (stamped with an older term) may arrive here
        // after a leader change.
        this.send(newMessage(MessageType.MsgTransferLeader, {to: this.lead, from: m.from}));
        return;
      case MessageType.MsgTimeoutNow:
        this.logger.info(
          `${this.id} [term ${this.term}] received MsgTimeoutNow from ${m.from} and starts an election to get leadership`,
        );
        // Transfers skip pre-vote: the old leader asked for it, there is no partition to fear.
        this.hup('transfer');
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === 0) {
          this.dropProposal(m, `no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgReadIndexResp:
        this.readStates.push({index: m.index, requestCtx: m.context});
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Follower handlers

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // A delayed or duplicated MsgApp: everything up to committed already matches.
      if (!m.commitOnly) {
        this.send(newMessage(MessageType.MsgAppResp, {to: m.from, index: this.raftLog.committed}));
      }
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      // Acknowledge exactly what this message proves, never a longer (possibly stale) tail.
      // A commit notice is not acknowledged: the leader already knows this much.
      if (!m.commitOnly)
        this.send(newMessage(MessageType.MsgAppResp, {to: m.from, index: lastNew}));
      return;
    }
    this.logger.debug(
      `${this.id} [logterm: ${this.raftLog.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    // Hint the largest index whose term is <= the leader's term at m.index: every entry after
    // it either is missing here or differs from the leader's.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.send(
      newMessage(MessageType.MsgAppResp, {
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(newMessage(MessageType.MsgHeartbeatResp, {to: m.from, context: m.context}));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    const sindex = s?.metadata?.index ?? 0;
    const sterm = s?.metadata?.term ?? 0;
    if (s !== undefined && this.restore(s)) {
      this.logger.info(
        `${this.id} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      this.send(newMessage(MessageType.MsgAppResp, {to: m.from, index: this.raftLog.lastIndex()}));
    } else {
      this.logger.info(
        `${this.id} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      this.send(newMessage(MessageType.MsgAppResp, {to: m.from, index: this.raftLog.committed}));
    }
  }

  /**
   * restore installs a snapshot: the log restarts after it and the configuration becomes the
   * snapshot's. Returns false if the snapshot is stale or the log already holds its last entry.
   */
  restore(s: Parameters<RaftLog['restore']>[0]): boolean {
    const meta = s.metadata;
    if (meta === undefined || meta.index <= this.raftLog.committed) {
      return false;
    }
    if (this.state !== 'follower') {
      // Only a leader of a higher term sends snapshots; never install one outside follower.
      this.logger.warn(
        `${this.id} attempted to restore snapshot as ${this.state}; should never happen`,
      );
      this.becomeFollower(this.term + 1, 0);
      return false;
    }
    const cs = meta.confState ?? {voters: [], learners: []};
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger.warn(
        `${this.id} attempted to restore snapshot but it is not in the ConfState ${JSON.stringify(cs)}; should never happen`,
      );
      return false;
    }
    if (this.raftLog.matchTerm(meta.index, meta.term)) {
      // The log already holds the snapshot's last entry: keep the suffix, just commit.
      this.logger.info(
        `${this.id} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}] fast-forwarded commit to snapshot [index: ${meta.index}, term: ${meta.term}]`,
      );
      this.raftLog.commitTo(meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    this.trk.applyConfState(cs, this.raftLog.lastIndex() + 1);
    this.isLearner = this.trk.learners.has(this.id);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Configuration

  /**
   * applyConfChange applies a committed, single-member conf change and returns the new
   * configuration. A leader removed (or demoted to learner) steps down; the quorum changes
   * at once, which may commit entries.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = simpleChange(this.trk.confState(), cc);
    if (typeof next === 'string') {
      // Every member applies the same entries, so every member ignores this one alike.
      this.logger.error(`${this.id} ignoring invalid committed conf change: ${next}`);
      return this.trk.confState();
    }
    if (cc.type !== ConfChangeType.ConfChangeUpdateNode && cc.nodeId !== 0) {
      this.switchToConfig(next);
    }
    return next;
  }

  private switchToConfig(cs: ConfState): void {
    this.trk.applyConfState(cs, this.raftLog.lastIndex() + 1);
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.state === 'leader') {
      // Removed or demoted leader (§4.2.2): it has replicated and committed the change,
      // now it steps down so the remaining voters elect a leader among themselves.
      this.logger.info(`${this.id} stepping down: no longer a voter in ${JSON.stringify(cs)}`);
      this.becomeFollower(this.term, 0);
      return;
    }
    if (this.state !== 'leader') {
      return;
    }
    if (this.leadTransferee !== 0 && !this.trk.voters.has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    // The quorum changed: a removed voter may have been the one holding commit back.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      for (const id of this.trk.progress.keys()) {
        if (id !== this.id) {
          this.maybeSendAppend(id, false);
        }
      }
    }
  }
}
