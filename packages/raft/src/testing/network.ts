import type {ConfState, Entry, Message} from '@synod/proto/raftpb';
import {ConfChange, EntryType, MessageType} from '@synod/proto/raftpb';
import type {Config} from '../config.js';
import {ProposalDroppedError, StepPeerNotFoundError} from '../errors.js';
import {MemoryStorage} from '../memory-storage.js';
import {RawNode} from '../raw-node.js';
import type {ReadState} from '../read-only.js';
import type {Ready} from '../ready.js';
import {SeededRng} from '../seeded-rng.js';

/** Options of a test {@link Network}. */
export interface NetworkOptions {
  /** Voter ids of the initial configuration. */
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  /** Ids to create nodes for (default: voters and learners). Extra ids start unconfigured. */
  readonly nodes?: readonly number[];
  /** Seed of the PRNGs (each node gets its own stream derived from it). */
  readonly seed?: number;
  /**
   * Start every node with `RawNode.bootstrap(voters)` (the configuration lives in the log, so
   * a node added later learns it by replaying the log) instead of seeding each storage with
   * the configuration (then a node added later must receive a snapshot). Learners are not
   * supported with bootstrap.
   */
  readonly bootstrap?: boolean;
  /** Config fields applied to every node. */
  readonly config?: Partial<Omit<Config, 'id' | 'storage' | 'rng'>>;
}

/** One node's state in the network: its RawNode, storage and what it applied. */
export interface NetworkNode {
  node: RawNode;
  readonly storage: MemoryStorage;
  /** Every committed entry applied, in order (including empty and conf change entries). */
  readonly applied: Entry[];
  /** ReadIndex answers received, in order. */
  readonly readStates: ReadState[];
  /** The configuration after the last applied conf change. */
  confState: ConfState | undefined;
  /** Every Ready processed, oldest first (kept only when `recordReadies` is on). */
  readonly readies: Ready[];
}

/**
 * Network is an in-memory, synchronous cluster of RawNodes for tests: it processes each
 * node's Ready like a server would (persist to MemoryStorage, send, apply, advance) and
 * delivers messages in FIFO order, with links that can be cut and nodes that can be isolated.
 *
 * @internal Test helper; also meant for the simulator.
 */
export class Network {
  readonly peers = new Map<number, NetworkNode>();
  /** Directed links "from->to" that drop every message. */
  private readonly cutLinks = new Set<string>();
  private readonly ignoredTypes = new Set<MessageType>();
  private queue: Message[] = [];
  /** Called for every message about to be delivered; return false to drop it. */
  msgHook: ((m: Message) => boolean) | undefined;
  /** Keep every processed Ready in `NetworkNode.readies`. */
  recordReadies = false;
  private readonly opts: NetworkOptions;

  constructor(opts: NetworkOptions) {
    this.opts = opts;
    const ids = opts.nodes ?? [...opts.voters, ...(opts.learners ?? [])];
    for (const id of ids) {
      const storage =
        opts.bootstrap === true
          ? new MemoryStorage()
          : new MemoryStorage({voters: [...opts.voters], learners: [...(opts.learners ?? [])]});
      const node = this.newNode(id, storage, 0);
      if (opts.bootstrap === true) {
        node.bootstrap(opts.voters.map(v => ({id: v})));
      }
      this.peers.set(id, {
        node,
        storage,
        applied: [],
        readStates: [],
        confState: undefined,
        readies: [],
      });
    }
    if (opts.bootstrap === true) {
      // Persist and apply the bootstrap entries, as a server does before its first tick.
      this.stabilize();
    }
  }

  private newNode(id: number, storage: MemoryStorage, applied: number): RawNode {
    return new RawNode({
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: Infinity,
      maxInflightMsgs: 256,
      ...this.opts.config,
      id,
      storage,
      applied,
      rng: new SeededRng(((this.opts.seed ?? 1) * 1000003 + id) | 0),
    });
  }

  /** Adds a node with an empty configuration (to join through a conf change or snapshot). */
  addNode(id: number): NetworkNode {
    const storage = new MemoryStorage();
    const n: NetworkNode = {
      node: this.newNode(id, storage, 0),
      storage,
      applied: [],
      readStates: [],
      confState: undefined,
      readies: [],
    };
    this.peers.set(id, n);
    return n;
  }

  /**
   * restart replaces a node with a fresh RawNode over the same storage, as after a crash that
   * lost nothing durable. Messages in flight to it are kept.
   */
  restart(id: number): RawNode {
    const p = this.peer(id);
    const applied = p.applied[p.applied.length - 1]?.index ?? 0;
    p.node = this.newNode(id, p.storage, Math.max(applied, p.storage.firstIndex() - 1));
    return p.node;
  }

  peer(id: number): NetworkNode {
    const p = this.peers.get(id);
    if (p === undefined) {
      throw new Error(`no node ${id} in the network`);
    }
    return p;
  }

  node(id: number): RawNode {
    return this.peer(id).node;
  }

  /** The id of the node every live node agrees leads, or 0. */
  leader(): number {
    for (const [id, p] of this.peers) {
      if (p.node.raft.state === 'leader') {
        return id;
      }
    }
    return 0;
  }

  cut(a: number, b: number): void {
    this.cutLinks.add(`${a}->${b}`);
    this.cutLinks.add(`${b}->${a}`);
  }

  /** isolate cuts every link to and from `id`. */
  isolate(id: number): void {
    for (const other of this.peers.keys()) {
      if (other !== id) {
        this.cut(id, other);
      }
    }
  }

  /** ignore drops every message of type `t`. */
  ignore(t: MessageType): void {
    this.ignoredTypes.add(t);
  }

  /** recover heals every cut link and stops ignoring message types. */
  recover(): void {
    this.cutLinks.clear();
    this.ignoredTypes.clear();
  }

  private dropped(m: Message): boolean {
    if (this.cutLinks.has(`${m.from}->${m.to}`) || this.ignoredTypes.has(m.type)) {
      return true;
    }
    if (!this.peers.has(m.to)) {
      return true;
    }
    return this.msgHook !== undefined && !this.msgHook(m);
  }

  /**
   * processReady handles one Ready of node `id` as a server would and queues its messages.
   * Returns the Ready (or undefined when there was none).
   */
  processReady(id: number): Ready | undefined {
    const p = this.peer(id);
    if (!p.node.hasReady()) {
      return undefined;
    }
    const rd = p.node.ready();
    if (this.recordReadies) {
      p.readies.push(rd);
    }
    // 1. Persist.
    if (rd.snapshot !== undefined) {
      p.storage.applySnapshot(rd.snapshot);
    }
    p.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      p.storage.setHardState(rd.hardState);
    }
    // 2. Send.
    for (const m of rd.messages) {
      this.queue.push(m);
    }
    // 3. Apply.
    if (rd.snapshot !== undefined) {
      p.confState = rd.snapshot.metadata?.confState;
    }
    for (const e of rd.committedEntries) {
      p.applied.push(e);
      if (e.type === EntryType.EntryConfChange) {
        p.confState = p.node.applyConfChange(ConfChange.decode(e.data));
      }
    }
    for (const rs of rd.readStates) {
      p.readStates.push(rs);
    }
    p.node.advance();
    return rd;
  }

  /** deliver steps one message into its target, honouring cuts, ignores and the hook. */
  deliver(m: Message): void {
    const dropped = this.dropped(m);
    if (m.type === MessageType.MsgSnap) {
      // The transport reports the snapshot's fate back to the leader.
      const sender = this.peers.get(m.from);
      if (dropped) {
        sender?.node.reportSnapshot(m.to, false);
        return;
      }
      this.step(m);
      sender?.node.reportSnapshot(m.to, true);
      return;
    }
    if (!dropped) {
      this.step(m);
    }
  }

  private step(m: Message): void {
    try {
      this.peer(m.to).node.step(m);
    } catch (err) {
      // A real transport drops these too: a message from a removed peer, or a forwarded
      // proposal with nowhere to go.
      if (err instanceof StepPeerNotFoundError || err instanceof ProposalDroppedError) {
        return;
      }
      throw err;
    }
  }

  /** Takes (and removes) the queued messages, e.g. to inspect or reorder them. */
  takeMessages(): Message[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  /**
   * stabilize processes Readies and delivers messages until no node has anything to do.
   * Throws if that takes more than `maxRounds` rounds (a livelock in a test).
   */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const id of this.peers.keys()) {
        while (this.processReady(id) !== undefined) {
          progressed = true;
        }
      }
      const q = this.takeMessages();
      for (const m of q) {
        this.deliver(m);
      }
      if (!progressed && q.length === 0) {
        return;
      }
    }
    throw new Error(`network did not stabilize within ${maxRounds} rounds`);
  }

  /** send delivers `m` and stabilizes. */
  send(m: Message): void {
    this.deliver(m);
    this.stabilize();
  }

  /** tick ticks node `id` `n` times, stabilizing after each tick. */
  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.stabilize();
    }
  }

  /** tickAll ticks every node `n` times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const p of this.peers.values()) {
        p.node.tick();
      }
      this.stabilize();
    }
  }

  /** campaign makes `id` campaign and stabilizes. */
  campaign(id: number): void {
    this.node(id).campaign();
    this.stabilize();
  }

  /** propose proposes `data` at `id` and stabilizes. */
  propose(id: number, data: Uint8Array): void {
    this.node(id).propose(data);
    this.stabilize();
  }

  /** The data of the normal, non-empty entries node `id` applied, decoded as UTF-8. */
  appliedData(id: number): string[] {
    const dec = new TextDecoder();
    return this.peer(id)
      .applied.filter(e => e.type === EntryType.EntryNormal && e.data.length > 0)
      .map(e => dec.decode(e.data));
  }
}
