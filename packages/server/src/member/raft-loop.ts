import type {ConfChange, Entry, HardState, Message, Snapshot} from '@synod/proto/raftpb';
import {MessageType} from '@synod/proto/raftpb';
import type {RawNode, Ready, SoftState} from '@synod/raft';

import type {Clock, TimerHandle} from './clock.js';
import {RepeatedProposals} from './repeated-proposals.js';

/** What the loop needs from the rest of the member. */
export interface RaftLoopHandlers {
  /**
   * Makes `snapshot`, `entries` and `hardState` durable (one fsync when
   * `mustSync`) and appends them to the raft storage. Resolves once durable.
   * The event loop keeps running meanwhile (the fsync is off-thread); the loop
   * takes no other Ready until this resolves, so two persists never overlap.
   */
  persist(ready: {
    readonly hardState: HardState | undefined;
    readonly entries: readonly Entry[];
    readonly snapshot: Snapshot | undefined;
    readonly mustSync: boolean;
  }): Promise<void>;
  /** Hands messages to the peer transport; never blocks. */
  send(messages: readonly Message[]): void;
  /** Applies a received snapshot, then committed entries in order, each exactly once. */
  apply(snapshot: Snapshot | undefined, entries: readonly Entry[]): void | Promise<void>;
  /** Called when the leader or this member's role changes. */
  onSoftState(state: SoftState): void;
  /** Called when the loop stops on an error it cannot recover from (a failed fsync, say). */
  onFatal(error: unknown): void;
}

/**
 * Messages a leader may send before its own copy of the entries they carry is
 * durable (Raft thesis §10.2.1): the leader does not count itself toward a
 * commit until its write finishes, so replicating in parallel with the local
 * fsync is safe. Votes and every response wait for the fsync.
 */
const sendableBeforePersist = new Set<MessageType>([
  MessageType.MsgApp,
  MessageType.MsgSnap,
  MessageType.MsgHeartbeat,
]);

/**
 * Drives a {@link RawNode}: ticks it on a timer, and after any change handles
 * its Ready — persist, send, apply, advance — once per event-loop turn, so all
 * the proposals and messages that arrived during one turn (or during the
 * previous fsync) share one WAL write, one fsync and one message per peer.
 * Ticks and turns come from the {@link Clock} it is given: Node's in production,
 * virtual time in the simulator.
 */
export class RaftLoop {
  private timer: TimerHandle | undefined;
  private scheduled = false;
  private running = false;
  private stopped = false;
  private readonly readStateListeners = new Set<(index: number, ctx: Uint8Array) => void>();
  /** Tasks {@link runBetweenPasses} keeps until the pass in progress ends. */
  private readonly betweenPasses: (() => void)[] = [];
  private leaderNow = false;
  /**
   * Index of the last entry this loop has made durable (0 until it persisted one: entries
   * recovered from the WAL are not counted, which only delays their apply to after a write).
   * Invariant: every entry at or below it is in the WAL as raft held it after that write; a
   * later Ready may rewrite some of them (a follower's log conflict), and says so in `entries`.
   */
  private durableIndex = 0;
  /** Forwarded proposals already taken: a copy delivered twice is dropped, not appended twice. */
  private readonly repeatedProposals = new RepeatedProposals();

  constructor(
    readonly node: RawNode,
    private readonly handlers: RaftLoopHandlers,
    private readonly tickIntervalMs: number,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.timer = this.clock.setInterval(() => {
      this.node.tick();
      this.schedule();
    }, this.tickIntervalMs);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Whether the loop may still take a Ready: `stop()` may be called while a pass awaits its fsync. */
  private isRunnable(): boolean {
    return !this.stopped;
  }

  get isLeader(): boolean {
    return this.leaderNow;
  }

  /** Feeds the node a message from a peer. */
  step(message: Message): void {
    if (this.stopped) return;
    if (message.type === MessageType.MsgProp && this.repeatedProposals.isRepeat(message)) return;
    this.node.step(message);
    this.schedule();
  }

  /** Proposes an entry; throws the node's error when it cannot be accepted now. */
  propose(data: Uint8Array): void {
    this.node.propose(data);
    this.schedule();
  }

  /** Proposes a membership change; throws the node's error when it cannot be accepted now. */
  proposeConfChange(cc: ConfChange): void {
    this.node.proposeConfChange(cc);
    this.schedule();
  }

  /** Asks for a read index for `ctx`; the answer comes to {@link onReadState} listeners. */
  readIndex(ctx: Uint8Array): void {
    this.node.readIndex(ctx);
    this.schedule();
  }

  onReadState(listener: (index: number, ctx: Uint8Array) => void): () => void {
    this.readStateListeners.add(listener);
    return () => this.readStateListeners.delete(listener);
  }

  /** Makes sure a Ready pass runs soon: at the end of this turn, or after the current one. */
  schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    this.clock.soon(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /**
   * Runs `task` where no Ready is being handled, so no WAL write is in flight and raft's
   * storage may be changed (a snapshot, log compaction): at once when the loop is idle,
   * otherwise between this pass and the next. A task that throws stops the loop as a
   * failed write would.
   */
  runBetweenPasses(task: () => void): void {
    if (this.stopped) return;
    this.betweenPasses.push(task);
    if (!this.running) this.runTasks();
  }

  private runTasks(): void {
    try {
      for (const task of this.betweenPasses.splice(0)) task();
    } catch (error) {
      this.stop();
      this.handlers.onFatal(error);
    }
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      while (this.isRunnable()) {
        this.runTasks();
        if (!this.isRunnable() || !this.node.hasReady()) break;
        await this.handle(this.node.ready());
        this.node.advance();
      }
    } catch (error) {
      this.stop();
      this.handlers.onFatal(error);
      return;
    } finally {
      this.running = false;
    }
    // Work that arrived while the last pass was writing gets its own pass.
    if (this.node.hasReady()) this.schedule();
  }

  private async handle(rd: Ready): Promise<void> {
    if (rd.softState !== undefined) {
      this.leaderNow = rd.softState.raftState === 'leader';
      this.handlers.onSoftState(rd.softState);
    }
    let early: Message[] = [];
    let late: readonly Message[] = rd.messages;
    if (this.leaderNow && rd.messages.length > 0) {
      early = rd.messages.filter(m => sendableBeforePersist.has(m.type));
      late = rd.messages.filter(m => !sendableBeforePersist.has(m.type));
      if (early.length > 0) this.handlers.send(early);
    }
    // Committed entries this member already holds durably are applied before this Ready's
    // write, so their clients do not wait for an fsync of entries that have nothing to do with
    // them. The rest (entries this very Ready writes, or anything after a snapshot) wait for it.
    let committed = rd.committedEntries;
    if (rd.snapshot === undefined && committed.length > 0) {
      // Entries this Ready rewrites are not durable in their new form, whatever durableIndex says.
      const held = Math.min(this.durableIndex, (rd.entries[0]?.index ?? Infinity) - 1);
      let n = 0;
      while (n < committed.length && (committed[n] as Entry).index <= held) n++;
      if (n > 0) {
        await this.handlers.apply(
          undefined,
          n === committed.length ? committed : committed.slice(0, n),
        );
        if (this.stopped) return;
        committed = committed.slice(n);
      }
    }
    if (rd.hardState !== undefined || rd.entries.length > 0 || rd.snapshot !== undefined) {
      await this.handlers.persist(rd);
      // Stopped while the fsync ran: the member is closing its store; apply nothing more.
      if (this.stopped) return;
      const last = rd.entries[rd.entries.length - 1];
      // A follower's Ready may rewrite a suffix: what is durable now ends at its last entry.
      if (last !== undefined) this.durableIndex = last.index;
      else if (rd.snapshot?.metadata !== undefined) this.durableIndex = rd.snapshot.metadata.index;
    }
    if (late.length > 0) this.handlers.send(late);
    if (rd.snapshot !== undefined || committed.length > 0) {
      await this.handlers.apply(rd.snapshot, committed);
    }
    for (const rs of rd.readStates) {
      for (const listener of this.readStateListeners) listener(rs.index, rs.requestCtx);
    }
  }
}
