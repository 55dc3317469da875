import type {Entry, Message} from '@synod/proto/raftpb';
import {ConfChange, ConfChangeType, EntryType, MessageType} from '@synod/proto/raftpb';
import {
  ConfChangeRefusedError,
  ProposalDroppedError,
  RawNode,
  silentLogger,
  StepPeerNotFoundError,
} from '@synod/raft';
import type {Ready} from '@synod/raft';
import {InvariantChecker} from './checkers/invariant-checker.js';
import {InvariantViolation} from './checkers/invariant-violation.js';
import type {KvInput, KvOperation} from './checkers/kv-model.js';
import {decodeKvCommand, encodeKvCommand} from './kv-command.js';
import {KvStateMachine} from './kv-state-machine.js';
import {LeaderIsolationNemesis} from './leader-isolation-nemesis.js';
import {Prng} from './prng.js';
import {SimClock} from './sim-clock.js';
import type {TimerHandle} from './sim-clock.js';
import {SimNetwork} from './sim-network.js';
import {SimNode} from './sim-node.js';
import type {NodeReply, PendingRequest} from './sim-node.js';
import type {SimOptions} from './sim-options.js';

/** Counters for the run summary. */
export interface SimStats {
  crashes: number;
  tornWrites: number;
  restarts: number;
  pauses: number;
  partitions: number;
  /** Leaders the leader-isolation nemesis cut off. */
  leaderCuts: number;
  confChangesProposed: number;
  confChangesApplied: number;
  transfers: number;
  snapshotsInstalled: number;
  compactions: number;
  opsStarted: number;
  opsAcked: number;
  opsIndeterminate: number;
  redirects: number;
}

interface ClientOp {
  readonly opId: number;
  readonly clientId: number;
  readonly input: KvInput;
  readonly callMs: number;
  readonly viaReadIndex: boolean;
  timeout: TimerHandle | undefined;
}

interface SimClient {
  readonly id: number;
  readonly prng: Prng;
  readonly timeoutMs: number;
  leaderHint: number;
  /** The last value this client read or wrote per key, for its compare-and-swaps. */
  readonly lastSeen: Map<string, string | undefined>;
  op: ClientOp | undefined;
  /** Scripted clients run a fixed list of operations and then stop. */
  script: KvInput[] | undefined;
  stopped: boolean;
  onIdle: (() => void) | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * SimCluster runs Raft members, clients and a nemesis in one deterministic event loop.
 *
 * Each member handles a Ready the way the Ready contract asks: persist (snapshot, entries, hard
 * state) to its disk, then send, then apply, then serve reads, then advance. The disk write
 * happens a random disk latency after the member was last touched, so a crash in between loses
 * whatever raft held in memory; a torn write persists only a prefix of the batch before the
 * crash. The invariant checker runs after every event.
 */
export class SimCluster {
  readonly clock = new SimClock();
  readonly checker: InvariantChecker;
  readonly network: SimNetwork<Message>;
  readonly nodes = new Map<number, SimNode>();
  readonly history: KvOperation[] = [];
  readonly stats: SimStats = {
    crashes: 0,
    tornWrites: 0,
    restarts: 0,
    pauses: 0,
    partitions: 0,
    leaderCuts: 0,
    confChangesProposed: 0,
    confChangesApplied: 0,
    transfers: 0,
    snapshotsInstalled: 0,
    compactions: 0,
    opsStarted: 0,
    opsAcked: 0,
    opsIndeterminate: 0,
    redirects: 0,
  };
  /** Notable events (faults, leadership, membership), newest last. */
  readonly trace: string[] = [];
  private readonly prng: Prng;
  private readonly faultPrng: Prng;
  private readonly clients: SimClient[] = [];
  private nextOpId = 1;
  private nextNodeId: number;
  private nemesisTimer: TimerHandle | undefined;
  private readonly healTimers: TimerHandle[] = [];
  private eventsSinceDurabilityCheck = 0;
  private readonly leaderSeen = new Map<number, number>();
  private readonly leaderCuts: LeaderIsolationNemesis;

  constructor(readonly options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.faultPrng = this.prng.fork('faults');
    this.checker = new InvariantChecker(options.checks);
    this.network = new SimNetwork<Message>(
      this.clock,
      this.prng.fork('network'),
      options.network,
      m => this.deliver(m),
      copyMessage,
    );
    this.leaderCuts = new LeaderIsolationNemesis(
      this.clock,
      this.prng.fork('leader-cuts'),
      {
        armProbability: options.faults.leaderCuts,
        maxAppends: options.nodes + 1,
        withFollowerProbability: 0.5,
        // Long enough for the others to elect a leader (whose cut then replaces this one).
        holdMsMin: 2 * options.electionTick * options.tickMs,
        holdMsMax: 4 * options.electionTick * options.tickMs,
      },
      this.network,
      () => [...this.nodes.values()].filter(n => n.status !== 'removed').map(n => n.id),
      line => {
        this.note(line);
      },
    );
    this.nextNodeId = options.nodes + 1;
    for (const id of range(1, options.nodes)) {
      const node = new SimNode(id, this.prng.fork(`node-${id}`));
      node.tickIntervalMs = this.skewedTickMs(node);
      this.nodes.set(id, node);
      this.start(node);
      this.touch(node);
    }
  }

  /** note appends a line to the trace, stamped with the virtual time. */
  note(line: string): void {
    this.trace.push(`${String(this.clock.nowMs).padStart(6)}ms ${line}`);
    if (this.trace.length > 4000) this.trace.splice(0, 1000);
  }

  // ---- member lifecycle ---------------------------------------------------------------------

  /** start boots a member from its disk (first start or restart after a crash). */
  private start(node: SimNode): void {
    const snap = node.storage.snapshot();
    const meta = snap.metadata;
    node.kv = KvStateMachine.restore(snap.data);
    node.confState = meta?.confState ?? node.storage.initialState().confState;
    node.appliedIndex = meta?.index ?? 0;
    node.incarnation++;
    node.raw = new RawNode({
      id: node.id,
      storage: node.storage,
      applied: node.appliedIndex,
      electionTick: this.options.electionTick,
      heartbeatTick: this.options.heartbeatTick,
      checkQuorum: this.options.checkQuorum,
      preVote: this.options.preVote,
      maxSizePerMsg: this.options.maxSizePerMsg,
      maxInflightMsgs: this.options.maxInflightMsgs,
      rng: node.prng.fork(`raft-${node.incarnation}`),
      logger: silentLogger,
      unsafeCommitEarlierTermByCount: this.options.bugs.commitEarlierTermByCount === true,
    });
    if (node.id <= this.options.nodes && node.storage.lastIndex() === 0) {
      // A founding member whose disk is empty (first start, or it crashed before persisting
      // its first Ready) bootstraps: the initial configuration goes into the log as conf
      // changes, so members added later learn it by replaying the log.
      node.raw.bootstrap(range(1, this.options.nodes).map(id => ({id})));
    }
    node.status = 'up';
    this.checker.onRestart(node.id, node.appliedIndex);
    // Members tick out of phase, so they do not all time out in the same instant.
    this.scheduleTick(node, node.prng.nextInt(node.tickIntervalMs) + 1);
  }

  /** Each member's clock runs at its own rate: its tick interval is skewed once, for good. */
  private skewedTickMs(node: SimNode): number {
    const skew = this.options.tickSkewMs;
    return Math.max(1, this.options.tickMs + node.prng.fork('skew').intBetween(-skew, skew));
  }

  private scheduleTick(node: SimNode, delayMs: number): void {
    node.tickTimer = this.clock.schedule(
      delayMs,
      () => {
        if (node.status === 'up' && node.raw !== undefined) {
          node.raw.tick();
          this.touch(node);
          this.afterEvent(node);
        }
        if (node.status === 'up' || node.status === 'paused') {
          this.scheduleTick(node, node.tickIntervalMs);
        }
      },
      'tick',
    );
  }

  /** crash kills a member: everything not on its disk is gone. */
  crash(node: SimNode, why = 'crash'): void {
    if (node.status !== 'up' && node.status !== 'paused') return;
    this.stats.crashes++;
    this.note(`node ${node.id} ${why}`);
    node.status = 'down';
    if (node.tickTimer !== undefined) this.clock.cancel(node.tickTimer);
    if (node.readyTimer !== undefined) this.clock.cancel(node.readyTimer);
    node.readyTimer = undefined;
    node.dropVolatileState();
    if (this.options.bugs.loseSyncedTailOnCrash === true) {
      node.disk.loseSyncedTail(1 + this.faultPrng.nextInt(3));
    }
  }

  /** restart boots a crashed member from its disk. */
  restart(node: SimNode): void {
    if (node.status !== 'down') return;
    this.stats.restarts++;
    this.note(`node ${node.id} restarts (term ${node.storage.initialState().hardState.term})`);
    this.start(node);
    this.touch(node);
  }

  pause(node: SimNode): void {
    if (node.status !== 'up') return;
    this.stats.pauses++;
    this.note(`node ${node.id} paused`);
    node.status = 'paused';
  }

  resume(node: SimNode): void {
    if (node.status !== 'paused') return;
    this.note(`node ${node.id} resumed`);
    node.status = 'up';
    const inbox = node.inbox;
    node.inbox = [];
    for (const m of inbox) {
      this.stepNode(node, m);
      this.afterEvent(node);
    }
    this.touch(node);
  }

  // ---- messages and Ready -----------------------------------------------------------------

  /** deliver hands a message to its receiver; false if the receiver is not running. */
  private deliver(m: Message): boolean {
    const node = this.nodes.get(m.to);
    if (node === undefined) return false;
    if (node.status === 'paused') {
      if (node.inbox.length >= 2000) return false;
      node.inbox.push(m);
      return true;
    }
    if (node.status !== 'up') return false;
    this.stepNode(node, m);
    this.touch(node);
    this.afterEvent(node);
    return true;
  }

  private stepNode(node: SimNode, m: Message): void {
    const raw = node.raw;
    if (raw === undefined) return;
    try {
      raw.step(m);
    } catch (err) {
      // A response from a member no longer in this node's configuration: a transport drops it.
      if (err instanceof StepPeerNotFoundError) return;
      throw raftError(node.id, `step(${MessageType[m.type]})`, err);
    }
  }

  /** touch schedules Ready handling after a disk latency, batching everything until then. */
  private touch(node: SimNode): void {
    if (node.readyTimer !== undefined) return;
    const delayMs = this.options.diskMsMax > 0 ? node.prng.nextInt(this.options.diskMsMax + 1) : 0;
    node.readyTimer = this.clock.schedule(
      delayMs,
      () => {
        node.readyTimer = undefined;
        this.processReady(node);
        this.afterEvent(node);
      },
      'ready',
    );
  }

  private processReady(node: SimNode): void {
    const raw = node.raw;
    if (node.status !== 'up' || raw === undefined) return;
    while (isUp(node) && raw.hasReady()) {
      const rd = raw.ready();
      this.checker.beforePersist(node, rd.entries, rd.hardState);
      if (node.tornWriteArmed && (rd.entries.length > 0 || rd.hardState !== undefined)) {
        this.tornWrite(node, rd);
        return;
      }
      this.persist(node, rd);
      for (const m of rd.messages) this.send(node, m);
      this.apply(node, rd);
      // Applying its own removal shuts a member down.
      if (!isUp(node)) return;
      raw.advance();
      this.maybeSnapshot(node);
    }
  }

  private persist(node: SimNode, rd: Ready): void {
    try {
      node.disk.write(rd);
    } catch (err) {
      throw raftError(node.id, 'persisting a Ready', err);
    }
    this.checker.afterPersist(node, rd.entries);
    this.checker.checkLeaderLog(node);
  }

  /** A crash in the middle of a Ready write: a prefix of the batch is durable, nothing sent. */
  private tornWrite(node: SimNode, rd: Ready): void {
    const records = rd.entries.length + (rd.hardState === undefined ? 0 : 1);
    const kept = node.disk.writeTorn(rd, node.prng.nextInt(records));
    this.checker.afterPersist(node, kept);
    this.stats.tornWrites++;
    this.crash(node, `torn write (${kept.length} of ${records} records durable)`);
  }

  private send(from: SimNode, m: Message): void {
    if (this.options.faults.leaderCuts > 0) this.leaderCuts.beforeSend(from.id, m);
    if (m.type === MessageType.MsgSnap) {
      // The transport reports snapshot delivery, like etcd's snapshot sender.
      const incarnation = from.incarnation;
      this.network.send(m, delivered => {
        if (from.status === 'up' && from.raw !== undefined && from.incarnation === incarnation) {
          from.raw.reportSnapshot(m.to, delivered);
          this.touch(from);
          this.afterEvent(from);
        }
      });
      return;
    }
    if (!this.options.reportLoss) {
      this.network.send(m);
      return;
    }
    const incarnation = from.incarnation;
    this.network.send(m, delivered => {
      if (delivered || from.status !== 'up' || from.incarnation !== incarnation) return;
      from.raw?.reportUnreachable(m.to);
      this.touch(from);
      this.afterEvent(from);
    });
  }

  private apply(node: SimNode, rd: Ready): void {
    const raw = node.raw;
    if (raw === undefined) return;
    if (rd.snapshot !== undefined) {
      const meta = rd.snapshot.metadata;
      node.kv = KvStateMachine.restore(rd.snapshot.data);
      node.confState = meta?.confState ?? {voters: [], learners: []};
      node.appliedIndex = meta?.index ?? 0;
      this.stats.snapshotsInstalled++;
      this.checker.onSnapshotApplied(node.id, rd.snapshot);
      this.note(`node ${node.id} installed snapshot at ${node.appliedIndex}`);
    }
    let removed = false;
    for (const e of rd.committedEntries) {
      if (this.applyEntry(node, raw, e)) removed = true;
    }
    for (const rs of rd.readStates) {
      const req = node.reads.get(decoder.decode(rs.requestCtx));
      if (req !== undefined) req.readIndex = rs.index;
    }
    this.serveReads(node);
    if (removed) {
      this.note(`node ${node.id} applied its own removal and shuts down`);
      if (node.tickTimer !== undefined) this.clock.cancel(node.tickTimer);
      node.dropVolatileState();
      node.status = 'removed';
    }
  }

  /** applyEntry applies one committed entry; returns true if it removed this member. */
  private applyEntry(node: SimNode, raw: RawNode, e: Entry): boolean {
    node.appliedIndex = e.index;
    if (e.type === EntryType.EntryConfChange) {
      this.checker.onApply(node.id, e, undefined);
      if (e.data.length === 0) return false;
      const cc = ConfChange.decode(e.data);
      try {
        node.confState = raw.applyConfChange(cc);
      } catch (err) {
        throw raftError(node.id, `applyConfChange at ${e.index}`, err);
      }
      this.onConfChangeApplied(node, cc, e.index);
      return cc.type === ConfChangeType.ConfChangeRemoveNode && cc.nodeId === node.id;
    }
    if (e.data.length === 0) {
      this.checker.onApply(node.id, e, undefined);
      return false;
    }
    const cmd = decodeKvCommand(e.data);
    this.checker.onApply(node.id, e, cmd.opId);
    const output = node.kv.apply(cmd.input);
    const waiting = node.proposals.get(cmd.opId);
    if (waiting !== undefined) {
      node.proposals.delete(cmd.opId);
      waiting.reply({kind: 'ok', output, index: e.index, term: e.term});
    }
    return false;
  }

  private onConfChangeApplied(node: SimNode, cc: ConfChange, index: number): void {
    if (node.raw?.raft.state === 'leader') {
      this.stats.confChangesApplied++;
      this.note(
        `leader ${node.id} applied ${ConfChangeType[cc.type]} ${cc.nodeId} at ${index}: ` +
          `voters [${node.confState.voters.join(',')}] learners [${node.confState.learners.join(',')}]`,
      );
    }
    if (cc.type === ConfChangeType.ConfChangeAddLearnerNode && !this.nodes.has(cc.nodeId)) {
      // The operator starts the new member once the cluster knows about it, with an empty
      // disk: it catches up from the leader's log or a snapshot.
      const fresh = new SimNode(cc.nodeId, this.prng.fork(`node-${cc.nodeId}`));
      fresh.tickIntervalMs = this.skewedTickMs(fresh);
      this.nodes.set(cc.nodeId, fresh);
      this.start(fresh);
      this.note(`node ${cc.nodeId} started as a new learner`);
    }
  }

  private serveReads(node: SimNode): void {
    for (const [ctx, req] of node.reads) {
      if (req.readIndex !== undefined && node.appliedIndex >= req.readIndex) {
        node.reads.delete(ctx);
        const output = node.kv.apply(req.input);
        req.reply({kind: 'ok', output, index: req.readIndex, term: 0});
      }
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const storage = node.storage;
    const snapIndex = storage.firstIndex() - 1;
    const applied = node.appliedIndex;
    if (applied - snapIndex < this.options.snapshotEveryEntries || applied > storage.lastIndex()) {
      return;
    }
    try {
      storage.createSnapshot(applied, node.confState, node.kv.snapshot());
      const compactTo = applied - this.options.compactionKeepEntries;
      if (compactTo > snapIndex) storage.compact(compactTo);
    } catch (err) {
      throw raftError(node.id, `snapshot at ${applied}`, err);
    }
    this.stats.compactions++;
  }

  /** afterEvent runs the per-event invariants for the member an event touched. */
  private afterEvent(node: SimNode): void {
    this.checker.afterEvent(node);
    const raw = node.raw;
    if (raw?.raft.state === 'leader' && this.leaderSeen.get(raw.raft.term) !== node.id) {
      this.leaderSeen.set(raw.raft.term, node.id);
      this.note(`node ${node.id} leads term ${raw.raft.term}`);
    }
    if (++this.eventsSinceDurabilityCheck >= 20) {
      this.checkDurability();
    }
  }

  /** checkDurability checks acknowledged writes against the newest leader's configuration. */
  checkDurability(): void {
    this.eventsSinceDurabilityCheck = 0;
    const leader = this.leader();
    if (leader?.raw === undefined) return;
    this.checker.checkDurability(this.nodes, leader.raw.raft.trk.confState());
  }

  /** leader returns the running leader of the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      const r = node.raw?.raft;
      if (node.status !== 'up' || r?.state !== 'leader') continue;
      if (best === undefined || r.term > (best.raw?.raft.term ?? 0)) best = node;
    }
    return best;
  }

  // ---- clients --------------------------------------------------------------------------------

  /** addClient starts a client issuing random operations until `stopClients`. */
  addClient(): void {
    const id = this.clients.length + 1;
    const client: SimClient = {
      id,
      prng: this.prng.fork(`client-${id}`),
      timeoutMs: this.options.clientTimeoutMs,
      leaderHint: 0,
      lastSeen: new Map(),
      op: undefined,
      script: undefined,
      stopped: false,
      onIdle: undefined,
    };
    this.clients.push(client);
    this.clock.schedule(client.prng.nextInt(20), () => {
      this.startOp(client);
    });
  }

  /**
   * runScript starts a client that runs `ops` one after the other, then calls `done`. Each
   * operation follows redirects; one that times out after `timeoutMs` is retried as a new
   * operation until it succeeds.
   */
  runScript(ops: KvInput[], timeoutMs: number, done: () => void): void {
    const id = this.clients.length + 1;
    const client: SimClient = {
      id,
      prng: this.prng.fork(`client-${id}`),
      timeoutMs,
      leaderHint: 0,
      lastSeen: new Map(),
      op: undefined,
      script: [...ops],
      stopped: false,
      onIdle: done,
    };
    this.clients.push(client);
    this.startOp(client);
  }

  /** stopClients lets every random client finish its current operation and stop. */
  stopClients(): void {
    for (const c of this.clients) {
      if (c.script === undefined) c.stopped = true;
    }
  }

  /** closeHistory records every operation still in flight as indeterminate. */
  closeHistory(): void {
    for (const c of this.clients) {
      const op = c.op;
      if (op === undefined) continue;
      if (op.timeout !== undefined) this.clock.cancel(op.timeout);
      this.finishOp(c, undefined);
    }
  }

  private nextInput(client: SimClient): KvInput | undefined {
    if (client.script !== undefined) return client.script.shift();
    if (client.stopped) return undefined;
    const key = `k${client.prng.nextInt(this.options.keys)}`;
    const value = `c${client.id}-${this.nextOpId}`;
    const roll = client.prng.nextFloat();
    if (roll < 0.45) return {kind: 'get', key};
    if (roll < 0.8) return {kind: 'put', key, value};
    // Compare against the value this client last saw, so swaps succeed often enough to matter.
    return {kind: 'cas', key, expected: client.lastSeen.get(key), value};
  }

  private startOp(client: SimClient): void {
    const input = this.nextInput(client);
    if (input === undefined) {
      client.op = undefined;
      const idle = client.onIdle;
      client.onIdle = undefined;
      idle?.();
      return;
    }
    this.stats.opsStarted++;
    const op: ClientOp = {
      opId: this.nextOpId++,
      clientId: client.id,
      input,
      callMs: this.clock.nowMs,
      viaReadIndex: input.kind === 'get' && client.prng.chance(this.options.readIndexRatio),
      timeout: undefined,
    };
    client.op = op;
    op.timeout = this.clock.schedule(
      client.timeoutMs,
      () => {
        if (client.op !== op) return;
        op.timeout = undefined;
        this.finishOp(client, undefined);
      },
      'client-timeout',
    );
    this.sendRequest(client, op);
  }

  private sendRequest(client: SimClient, op: ClientOp): void {
    const ids = [...this.nodes.keys()].filter(id => this.nodes.get(id)?.status !== 'removed');
    const hinted = this.nodes.get(client.leaderHint);
    const target =
      hinted !== undefined && hinted.status !== 'removed' ? hinted.id : client.prng.pick(ids);
    this.clock.schedule(
      1 + client.prng.nextInt(3),
      () => {
        const node = this.nodes.get(target);
        if (node === undefined) return;
        this.handleRequest(node, op, r => {
          this.replyLater(client, op, r);
        });
      },
      'client-request',
    );
  }

  private replyLater(client: SimClient, op: ClientOp, r: NodeReply): void {
    this.clock.schedule(
      1 + client.prng.nextInt(3),
      () => {
        if (client.op !== op) return;
        if (r.kind === 'redirect') {
          this.stats.redirects++;
          client.leaderHint = r.leader;
          this.clock.schedule(
            r.leader === 0 ? 5 + client.prng.nextInt(20) : 0,
            () => {
              if (client.op === op) this.sendRequest(client, op);
            },
            'client-retry',
          );
          return;
        }
        if (op.timeout !== undefined) this.clock.cancel(op.timeout);
        if (op.input.kind !== 'get') this.checker.recordAck(op.opId, r.index, r.term);
        this.finishOp(client, r.output);
      },
      'client-reply',
    );
  }

  private finishOp(client: SimClient, output: KvOperation['output']): void {
    const op = client.op;
    if (op === undefined) return;
    client.op = undefined;
    const acked = output !== undefined;
    const input = op.input;
    if (output?.kind === 'get') client.lastSeen.set(input.key, output.value);
    if ((output?.kind === 'cas' && output.ok) || output?.kind === 'put') {
      if (input.kind !== 'get') client.lastSeen.set(input.key, input.value);
    }
    if (acked) this.stats.opsAcked++;
    else this.stats.opsIndeterminate++;
    this.history.push({
      clientId: client.id,
      input: op.input,
      output,
      callMs: op.callMs,
      returnMs: acked ? this.clock.nowMs : Number.POSITIVE_INFINITY,
    });
    if (!acked) {
      client.leaderHint = 0;
      // A scripted client insists: the same request again as a new operation (a write gets a
      // fresh value, so the history can tell the attempts apart).
      const retry: KvInput =
        op.input.kind === 'get' ? op.input : {...op.input, value: `${op.input.value}+`};
      client.script?.unshift(retry);
    }
    this.clock.schedule(
      client.prng.nextInt(10),
      () => {
        if (client.op === undefined) this.startOp(client);
      },
      'client-think',
    );
  }

  /** handleRequest is a member's client API: propose, read via ReadIndex, or redirect. */
  private handleRequest(node: SimNode, op: ClientOp, reply: (r: NodeReply) => void): void {
    const raw = node.raw;
    if (node.status !== 'up' || raw === undefined) return;
    const r = raw.raft;
    const req: PendingRequest = {opId: op.opId, input: op.input, reply};
    if (this.options.bugs.localReads === true && op.input.kind === 'get') {
      // Injected bug: any member answers reads from its own state, without ReadIndex.
      reply({kind: 'ok', output: node.kv.apply(op.input), index: node.appliedIndex, term: 0});
      return;
    }
    if (op.viaReadIndex) {
      if (r.lead === 0) {
        reply({kind: 'redirect', leader: 0});
        return;
      }
      const ctx = `read-${op.opId}`;
      try {
        raw.readIndex(encoder.encode(ctx));
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw raftError(node.id, 'readIndex', err);
        reply({kind: 'redirect', leader: r.lead});
        return;
      }
      node.reads.set(ctx, req);
    } else {
      if (r.state !== 'leader') {
        reply({kind: 'redirect', leader: r.lead === node.id ? 0 : r.lead});
        return;
      }
      try {
        raw.propose(encodeKvCommand({opId: op.opId, clientId: op.clientId, input: op.input}));
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw raftError(node.id, 'propose', err);
        reply({kind: 'redirect', leader: 0});
        return;
      }
      if (this.options.bugs.ackBeforeCommit === true && op.input.kind === 'put') {
        // Injected bug: the write is acknowledged when appended, not when committed.
        reply({kind: 'ok', output: {kind: 'put'}, index: r.raftLog.lastIndex(), term: r.term});
      } else {
        node.proposals.set(op.opId, req);
      }
    }
    this.touch(node);
    this.afterEvent(node);
  }

  // ---- nemesis ------------------------------------------------------------------------------

  /** startNemesis injects faults at random intervals until `stopNemesis`. */
  startNemesis(): void {
    const f = this.options.faults;
    const delay = this.faultPrng.intBetween(f.nemesisIntervalMsMin, f.nemesisIntervalMsMax);
    this.nemesisTimer = this.clock.schedule(
      delay,
      () => {
        this.nemesisStep();
        this.startNemesis();
      },
      'nemesis',
    );
  }

  private faultDurationMs(): number {
    const f = this.options.faults;
    return this.faultPrng.intBetween(f.faultMsMin, f.faultMsMax);
  }

  private later(delayMs: number, fn: () => void): void {
    this.healTimers.push(this.clock.schedule(delayMs, fn, 'heal'));
  }

  private nemesisStep(): void {
    const f = this.options.faults;
    const p = this.faultPrng;
    const live = [...this.nodes.values()].filter(n => n.status === 'up');
    if (p.chance(f.crash) && live.length > 0) {
      const node = p.pick(live);
      this.crash(node);
      this.later(this.faultDurationMs(), () => {
        this.restart(node);
      });
    }
    if (p.chance(f.tornWriteCrash) && live.length > 0) {
      const node = p.pick(live);
      node.tornWriteArmed = true;
      this.later(this.faultDurationMs(), () => {
        this.restart(node);
      });
    }
    if (p.chance(f.crashAll)) {
      for (const node of live) this.crash(node, 'crash (whole cluster)');
      for (const node of live) {
        this.later(this.faultDurationMs(), () => {
          this.restart(node);
        });
      }
    }
    if (p.chance(f.partition)) this.partitionRandomly();
    if (p.chance(f.pause) && live.length > 0) {
      const node = p.pick(live);
      this.pause(node);
      this.later(this.faultDurationMs(), () => {
        this.resume(node);
      });
    }
    if (p.chance(f.membership)) this.changeMembership();
    if (p.chance(f.transferLeader)) this.transferLeadership();
  }

  private partitionRandomly(): void {
    const p = this.faultPrng;
    const ids = [...this.nodes.values()].filter(n => n.status !== 'removed').map(n => n.id);
    if (ids.length < 2) return;
    this.stats.partitions++;
    const mode = p.nextInt(4);
    if (mode === 0) {
      const id = p.pick(ids);
      this.network.isolate(id, ids);
      this.note(`partition: isolate ${id}`);
    } else if (mode === 1) {
      const [a, b] = this.network.randomSplit(ids);
      this.note(`partition: [${a.join(',')}] | [${b.join(',')}]`);
    } else if (mode === 2) {
      const [a, b] = this.network.randomSplit(ids, true);
      this.note(`partition: one way [${a.join(',')}] -> [${b.join(',')}] lost`);
    } else {
      const from = p.pick(ids);
      const to = p.pick(ids.filter(id => id !== from));
      this.network.cutOneWay(from, to);
      this.note(`partition: link ${from} -> ${to} lost`);
    }
    this.later(this.faultDurationMs(), () => {
      this.network.heal();
      this.note('partition healed');
    });
  }

  private changeMembership(): void {
    const leader = this.leader();
    const raw = leader?.raw;
    if (leader === undefined || raw === undefined) return;
    const p = this.faultPrng;
    const status = raw.status();
    const {voters, learners} = status.config;
    let cc: ConfChange | undefined;
    const learner = learners[0];
    if (learner !== undefined) {
      const match = status.progress.get(learner)?.match ?? 0;
      // Promote only a learner that has caught up, as an operator would.
      if (match + 5 >= status.hardState.commit) {
        cc = confChange(ConfChangeType.ConfChangeAddNode, learner);
      }
    } else if (voters.length <= this.options.nodes && (voters.length <= 3 || p.chance(0.5))) {
      cc = confChange(ConfChangeType.ConfChangeAddLearnerNode, this.nextNodeId);
    } else if (voters.length > 3) {
      cc = confChange(ConfChangeType.ConfChangeRemoveNode, p.pick(voters));
    }
    if (cc === undefined) return;
    const lastBefore = raw.raft.raftLog.lastIndex();
    try {
      raw.proposeConfChange(cc);
    } catch (err) {
      if (err instanceof ConfChangeRefusedError || err instanceof ProposalDroppedError) return;
      throw raftError(leader.id, 'proposeConfChange', err);
    }
    if (raw.raft.raftLog.lastIndex() > lastBefore) this.checker.onConfChangeAppended(leader);
    if (cc.type === ConfChangeType.ConfChangeAddLearnerNode) this.nextNodeId++;
    this.stats.confChangesProposed++;
    this.note(`leader ${leader.id} proposes ${ConfChangeType[cc.type]} ${cc.nodeId}`);
    this.touch(leader);
    this.afterEvent(leader);
  }

  private transferLeadership(): void {
    const leader = this.leader();
    const raw = leader?.raw;
    if (leader === undefined || raw === undefined) return;
    const others = raw.status().config.voters.filter(id => id !== leader.id);
    if (others.length === 0) return;
    const to = this.faultPrng.pick(others);
    this.stats.transfers++;
    this.note(`leader ${leader.id} transfers leadership to ${to}`);
    raw.transferLeader(to);
    this.touch(leader);
    this.afterEvent(leader);
  }

  /**
   * healAll ends the fault phase: the nemesis stops, the network heals and stops losing
   * messages, every crashed member restarts and every paused one resumes.
   */
  healAll(): void {
    if (this.nemesisTimer !== undefined) this.clock.cancel(this.nemesisTimer);
    this.leaderCuts.stop();
    this.stats.leaderCuts = this.leaderCuts.cuts;
    for (const t of this.healTimers) this.clock.cancel(t);
    this.network.heal();
    this.network.setOptions({
      ...this.network.currentOptions,
      dropProbability: 0,
      duplicateProbability: 0,
      reorderProbability: 0,
    });
    for (const node of this.nodes.values()) {
      node.tornWriteArmed = false;
      if (node.status === 'down') this.restart(node);
      if (node.status === 'paused') this.resume(node);
    }
    this.note('all faults healed');
  }
}

/** isUp reads a status that callbacks may have changed (no narrowing across calls). */
function isUp(node: SimNode): boolean {
  return node.status === 'up';
}

function confChange(type: ConfChangeType, nodeId: number): ConfChange {
  return {type, nodeId, context: new Uint8Array(0), id: 0};
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

/**
 * copyMessage gives the receiver its own message and entry objects, as decoding from a real
 * wire would; byte payloads are shared because nobody mutates them.
 */
function copyMessage(m: Message): Message {
  return {
    ...m,
    entries: m.entries.map(e => ({...e})),
  };
}

function raftError(id: number, what: string, err: unknown): InvariantViolation {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new InvariantViolation('raft-error', `node ${id} threw during ${what}: ${detail}`);
}
