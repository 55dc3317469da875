import {Message} from '@synod/proto/raftpb';
import {MemoryStorage} from '../src/memory-storage.js';
import {RawNode} from '../src/raw-node.js';
import {SeededRng} from '../src/seeded-rng.js';

/** Options of {@link runThroughputBench}. */
export interface ThroughputOptions {
  /** Voters in the cluster. */
  readonly voters?: number;
  /** Payload bytes per entry. */
  readonly entryBytes?: number;
  /** Proposals per event-loop turn (one Ready cycle per turn). */
  readonly batch?: number;
  /** Entries to commit in total. */
  readonly totalEntries?: number;
  /**
   * Round-trip every message through its protobuf encoding, as a peer transport would
   * (followers then hold decoded copies, not the leader's objects).
   */
  readonly encodeMessages?: boolean;
}

/** Figures of one run. */
export interface ThroughputResult {
  readonly committedEntries: number;
  readonly elapsedMs: number;
  readonly entriesPerSecond: number;
  readonly megabytesPerSecond: number;
}

interface Member {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  applied: number;
}

/**
 * Drives an in-memory cluster through ready()/advance() as a server would (persist to
 * MemoryStorage, deliver messages, apply) and measures committed entries per second at the
 * leader. Every turn the leader takes `batch` proposals; then every member handles its Readies
 * and messages are delivered until the cluster is idle.
 */
export function runThroughputBench(opts: ThroughputOptions = {}): ThroughputResult {
  const voters = opts.voters ?? 3;
  const entryBytes = opts.entryBytes ?? 256;
  const batch = opts.batch ?? 128;
  const total = opts.totalEntries ?? 200_000;
  const encode = opts.encodeMessages ?? false;
  const ids = Array.from({length: voters}, (_, i) => i + 1);
  const members = new Map<number, Member>();
  for (const id of ids) {
    const storage = new MemoryStorage({voters: ids, learners: []});
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      rng: new SeededRng(id),
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
    });
    members.set(id, {node, storage, applied: 0});
  }
  const leaderId = 1;
  const leader = members.get(leaderId)!;
  let queue: Message[] = [];

  const handle = (m: Member): boolean => {
    if (!m.node.hasReady()) return false;
    const rd = m.node.ready();
    if (rd.snapshot !== undefined) m.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    for (const msg of rd.messages) queue.push(msg);
    const ce = rd.committedEntries;
    if (ce.length > 0) m.applied = ce[ce.length - 1]!.index;
    m.node.advance();
    return true;
  };
  const settle = (): void => {
    for (;;) {
      let busy = false;
      for (const m of members.values()) {
        while (handle(m)) busy = true;
      }
      if (queue.length === 0 && !busy) return;
      const q = queue;
      queue = [];
      for (const msg of q) {
        const delivered = encode ? Message.decode(Message.encode(msg).finish()) : msg;
        members.get(msg.to)!.node.step(delivered);
      }
    }
  };

  leader.node.campaign();
  settle();
  const data = new Uint8Array(entryBytes).fill(7);
  const startApplied = leader.applied;
  const start = performance.now();
  let proposed = 0;
  let turns = 0;
  while (leader.applied - startApplied < total) {
    const n = Math.min(batch, total - proposed);
    for (let i = 0; i < n; i++) leader.node.propose(data);
    proposed += n;
    settle();
    // Keep memory flat, as a server compacting after snapshots would.
    if (++turns % 64 === 0) {
      for (const m of members.values()) {
        const keep = m.applied - 1000;
        if (keep > m.storage.firstIndex()) m.storage.compact(keep);
      }
    }
  }
  const elapsedMs = performance.now() - start;
  const committedEntries = leader.applied - startApplied;
  return {
    committedEntries,
    elapsedMs,
    entriesPerSecond: (committedEntries / elapsedMs) * 1000,
    megabytesPerSecond: ((committedEntries * entryBytes) / elapsedMs / 1e6) * 1000,
  };
}
