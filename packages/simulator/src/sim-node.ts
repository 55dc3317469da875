import type {ConfState, Message} from '@synod/proto/raftpb';
import type {MemoryStorage, RawNode} from '@synod/raft';
import type {CheckedNode} from './checkers/invariant-checker.js';
import type {KvInput, KvOutput} from './checkers/kv-model.js';
import {KvStateMachine} from './kv-state-machine.js';
import type {Prng} from './prng.js';
import {SimDisk} from './sim-disk.js';
import type {TimerHandle} from './sim-clock.js';

/**
 * up: running. paused: alive but frozen (no ticks, messages queue up). down: crashed, only
 * its disk remains. removed: applied its own removal and shut down for good.
 */
export type SimNodeStatus = 'up' | 'paused' | 'down' | 'removed';

/** What a member tells a client. */
export type NodeReply =
  | {readonly kind: 'ok'; readonly output: KvOutput; readonly index: number; readonly term: number}
  | {readonly kind: 'redirect'; readonly leader: number};

/** A client request waiting on a member for its entry to apply or its read to be served. */
export interface PendingRequest {
  readonly opId: number;
  readonly input: KvInput;
  readonly reply: (r: NodeReply) => void;
  /** For a ReadIndex read: the index to wait for once the read state arrived. */
  readIndex?: number;
}

/**
 * SimNode is one simulated member: its {@link SimDisk} (exactly what was persisted, so what
 * survives a crash) and, while it runs, its volatile state: the
 * raft node, the applied key-value map and the requests waiting on it.
 */
export class SimNode implements CheckedNode {
  status: SimNodeStatus = 'down';
  raw: RawNode | undefined;
  kv = new KvStateMachine();
  /** The configuration as of `appliedIndex`, stored with snapshots. */
  confState: ConfState = {voters: [], learners: []};
  appliedIndex = 0;
  /** Incremented on every restart; forks the raft PRNG so restarts draw fresh jitter. */
  incarnation = 0;
  readonly proposals = new Map<number, PendingRequest>();
  /** ReadIndex reads by request context. */
  readonly reads = new Map<string, PendingRequest>();
  /** Messages that arrived while paused, delivered on resume (like a socket buffer). */
  inbox: Message[] = [];
  tickTimer: TimerHandle | undefined;
  /** This member's tick interval: the configured one, skewed per member. */
  tickIntervalMs = 10;
  readyTimer: TimerHandle | undefined;
  /** The next Ready write is torn: only a prefix reaches the disk, then the member crashes. */
  tornWriteArmed = false;

  /** What survives a crash. */
  readonly disk = new SimDisk();

  constructor(
    readonly id: number,
    readonly prng: Prng,
  ) {}

  /** The durable log raft reads (the disk's current storage). */
  get storage(): MemoryStorage {
    return this.disk.storage;
  }

  /** dropVolatileState forgets everything a crash loses. The disk is untouched. */
  dropVolatileState(): void {
    this.raw = undefined;
    this.kv = new KvStateMachine();
    this.proposals.clear();
    this.reads.clear();
    this.inbox = [];
    this.tornWriteArmed = false;
  }
}
