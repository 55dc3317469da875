import type {ConfState, Entry, HardState, Snapshot} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import type {MemoryStorage, RawNode} from '@synod/raft';
import {InvariantViolation} from './invariant-violation.js';

/** What the checker may look at of one simulated member. */
export interface CheckedNode {
  readonly id: number;
  /** Running (possibly paused); a crashed member has no raft state, only its disk. */
  readonly raw: RawNode | undefined;
  /** The member's durable image: what survives a crash. */
  readonly storage: MemoryStorage;
}

interface CommittedEntry {
  readonly term: number;
  readonly hash: number;
}

interface AckedEntry {
  readonly opId: number;
  readonly index: number;
  readonly term: number;
}

/** Which invariants to enforce; all on by default. Tests turn some off to isolate others. */
export interface CheckerToggles {
  readonly durability?: boolean;
  readonly stateMachineSafety?: boolean;
  readonly logMatching?: boolean;
  readonly leaderCompleteness?: boolean;
}

/**
 * InvariantChecker watches a whole simulated cluster and throws {@link InvariantViolation} the
 * moment any of Raft's safety properties breaks:
 *
 * - election safety: at most one leader per term, ever;
 * - log matching: an entry with a given (index, term) always has the same content and the same
 *   predecessor term, so equal (index, term) implies equal prefixes (by induction);
 * - leader completeness: a leader of term T holds every entry committed in a term before T;
 * - state machine safety: no two members apply different entries at one index, and each member
 *   applies indexes in order, each once; an operation id is applied at one index only;
 * - durability: every acknowledged write stays on enough durable disks that every quorum of the
 *   current configuration intersects them, and no disk overwrites a committed entry;
 * - persisted state: a durable term never decreases and a durable vote never changes in a term;
 * - at most one uncommitted configuration change in a leader's log, and none appended before
 *   the leader committed an entry of its own term.
 */
export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  /** index -> the entry applied there (by whichever member applied it first). */
  private readonly committed = new Map<number, CommittedEntry>();
  /** (index, term) -> content hash and predecessor term, for log matching. */
  private readonly logEntries = new Map<string, {hash: number; prevTerm: number}>();
  private readonly opIndex = new Map<number, number>();
  private readonly lastApplied = new Map<number, number>();
  private readonly wasLeaderAtTerm = new Map<number, number>();
  /**
   * index -> the entry's term and the lowest term of a leader seen holding it committed: the
   * term it was committed in. Leader completeness only speaks of leaders of later terms.
   */
  private readonly commitRecords = new Map<number, {entryTerm: number; commitTerm: number}>();
  /** Per member, the commit index last recorded while it led, and in which term. */
  private readonly leaderCommitSeen = new Map<number, {term: number; commit: number}>();
  private readonly acked: AckedEntry[] = [];
  private readonly toggles: Required<CheckerToggles>;

  constructor(toggles: CheckerToggles = {}) {
    this.toggles = {
      durability: toggles.durability ?? true,
      stateMachineSafety: toggles.stateMachineSafety ?? true,
      logMatching: toggles.logMatching ?? true,
      leaderCompleteness: toggles.leaderCompleteness ?? true,
    };
  }

  /** Number of distinct indexes applied anywhere. */
  get committedCount(): number {
    return this.committed.size;
  }

  get ackedCount(): number {
    return this.acked.length;
  }

  /** leaders returns term -> leader id for every term that had a leader. */
  leaders(): ReadonlyMap<number, number> {
    return this.leaderOfTerm;
  }

  /**
   * afterEvent runs after every simulated event that touched `node`: election safety, leader
   * completeness at the moment a member wins, and `applied <= committed <= lastIndex`.
   */
  afterEvent(node: CheckedNode): void {
    const raw = node.raw;
    if (raw === undefined) return;
    const r = raw.raft;
    const log = r.raftLog;
    if (!(log.applied <= log.committed && log.committed <= log.lastIndex())) {
      throw new InvariantViolation(
        'applied-order',
        `node ${node.id}: applied ${log.applied}, committed ${log.committed}, last ${log.lastIndex()}`,
      );
    }
    if (r.state !== 'leader') return;
    const known = this.leaderOfTerm.get(r.term);
    if (known === undefined) {
      this.leaderOfTerm.set(r.term, node.id);
    } else if (known !== node.id) {
      throw new InvariantViolation(
        'election-safety',
        `term ${r.term} has two leaders: ${known} and ${node.id}`,
      );
    }
    if (this.wasLeaderAtTerm.get(node.id) !== r.term) {
      this.wasLeaderAtTerm.set(node.id, r.term);
      if (this.toggles.leaderCompleteness) this.checkLeaderCompleteness(node.id, raw);
    }
    this.recordLeaderCommits(node.id, raw);
  }

  /** recordLeaderCommits notes, for each index a leader newly holds committed, its term. */
  private recordLeaderCommits(id: number, raw: RawNode): void {
    const r = raw.raft;
    const log = r.raftLog;
    const seen = this.leaderCommitSeen.get(id);
    let from = seen !== undefined && seen.term === r.term ? seen.commit + 1 : log.firstIndex();
    from = Math.max(from, log.firstIndex());
    for (let i = from; i <= log.committed; i++) {
      const rec = this.commitRecords.get(i);
      if (rec === undefined) {
        this.commitRecords.set(i, {entryTerm: log.term(i), commitTerm: r.term});
      } else if (r.term < rec.commitTerm) {
        this.commitRecords.set(i, {entryTerm: rec.entryTerm, commitTerm: r.term});
      }
    }
    this.leaderCommitSeen.set(id, {term: r.term, commit: log.committed});
  }

  /**
   * checkLeaderCompleteness runs the moment a member wins term T: it must hold every entry
   * committed in a term before T (Raft's Leader Completeness Property).
   */
  private checkLeaderCompleteness(id: number, raw: RawNode): void {
    const log = raw.raft.raftLog;
    const term = raw.raft.term;
    const compactedBelow = log.firstIndex() - 1;
    for (const [index, rec] of this.commitRecords) {
      if (rec.commitTerm >= term || index <= compactedBelow) continue;
      const has = index <= log.lastIndex() ? log.term(index) : 0;
      if (has !== rec.entryTerm) {
        throw new InvariantViolation(
          'leader-completeness',
          `node ${id} became leader of term ${term} without entry ${index} (term ` +
            `${rec.entryTerm}) committed in term ${rec.commitTerm}; its log has term ${has} ` +
            `there, last index ${log.lastIndex()}`,
        );
      }
    }
  }

  /**
   * beforePersist runs before a member writes a Ready to its disk: a committed entry must
   * never be overwritten, and the durable term and vote must only move forward.
   */
  beforePersist(
    node: CheckedNode,
    entries: readonly Entry[],
    hardState: HardState | undefined,
  ): void {
    const storage = node.storage;
    const last = storage.lastIndex();
    const first = storage.firstIndex();
    for (const e of entries) {
      if (e.index > last || e.index < first) continue;
      const old = storage.term(e.index);
      const c = this.committed.get(e.index);
      if (c !== undefined && old === c.term && e.term !== old) {
        throw new InvariantViolation(
          'durability',
          `node ${node.id} overwrote committed entry ${e.index} (term ${old}) with term ${e.term}`,
        );
      }
    }
    if (hardState !== undefined) {
      const prev = storage.initialState().hardState;
      if (hardState.term < prev.term) {
        throw new InvariantViolation(
          'persisted-state',
          `node ${node.id} persisted term ${hardState.term} after term ${prev.term}`,
        );
      }
      if (hardState.term === prev.term && prev.vote !== 0 && hardState.vote !== prev.vote) {
        throw new InvariantViolation(
          'persisted-state',
          `node ${node.id} changed its vote in term ${prev.term} from ${prev.vote} to ${hardState.vote}`,
        );
      }
    }
  }

  /** afterPersist checks log matching for the entries just written. */
  afterPersist(node: CheckedNode, entries: readonly Entry[]): void {
    if (!this.toggles.logMatching) return;
    const storage = node.storage;
    for (const e of entries) {
      if (e.index < storage.firstIndex()) continue;
      const prevTerm = storage.term(e.index - 1);
      const key = `${e.index}/${e.term}`;
      const hash = entryHash(e);
      const seen = this.logEntries.get(key);
      if (seen === undefined) {
        this.logEntries.set(key, {hash, prevTerm});
      } else if (seen.hash !== hash || seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log-matching',
          `node ${node.id} has entry ${e.index} term ${e.term} with ` +
            (seen.hash !== hash
              ? 'different content'
              : `predecessor term ${prevTerm} (was ${seen.prevTerm})`) +
            ' than another member',
        );
      }
    }
  }

  /**
   * checkLeaderLog runs after a leader persists: at most one configuration change may sit in
   * its log above the commit index.
   */
  checkLeaderLog(node: CheckedNode): void {
    const raw = node.raw;
    if (raw?.raft.state !== 'leader') return;
    const log = raw.raft.raftLog;
    if (log.lastIndex() <= log.committed) return;
    const tail = log.slice(log.committed + 1, log.lastIndex() + 1, Number.POSITIVE_INFINITY);
    const pending = tail.filter(e => e.type === EntryType.EntryConfChange && e.data.length > 0);
    if (pending.length > 1) {
      throw new InvariantViolation(
        'single-conf-change',
        `leader ${node.id} has ${pending.length} uncommitted conf changes at ` +
          pending.map(e => e.index).join(', '),
      );
    }
  }

  /**
   * onConfChangeAppended runs right after a leader accepted a configuration change: it must
   * already have committed an entry of its own term (the single-server change fix, raft-dev
   * 2015), else two competing changes across leader changes can form disjoint majorities.
   */
  onConfChangeAppended(node: CheckedNode): void {
    const r = node.raw?.raft;
    if (r === undefined) return;
    const log = r.raftLog;
    if (log.committed < log.firstIndex() - 1 || log.term(log.committed) !== r.term) {
      throw new InvariantViolation(
        'single-conf-change',
        `leader ${node.id} appended a conf change in term ${r.term} before committing an entry ` +
          `of that term (commit ${log.committed})`,
      );
    }
  }

  /** onRestart resets a member's apply cursor to what it restored from its disk. */
  onRestart(id: number, appliedIndex: number): void {
    this.lastApplied.set(id, appliedIndex);
    this.wasLeaderAtTerm.delete(id);
  }

  /** onSnapshotApplied: a member replaced its state with a snapshot from the leader. */
  onSnapshotApplied(id: number, snapshot: Snapshot): void {
    const index = snapshot.metadata?.index ?? 0;
    const c = this.committed.get(index);
    if (
      this.toggles.stateMachineSafety &&
      c !== undefined &&
      c.term !== (snapshot.metadata?.term ?? 0)
    ) {
      throw new InvariantViolation(
        'state-machine-safety',
        `node ${id} installed a snapshot at ${index} term ${snapshot.metadata?.term ?? 0}, ` +
          `but term ${c.term} was applied there`,
      );
    }
    this.lastApplied.set(id, Math.max(this.lastApplied.get(id) ?? 0, index));
  }

  /** onApply runs for every committed entry a member applies, in order. */
  onApply(id: number, entry: Entry, opId: number | undefined): void {
    const last = this.lastApplied.get(id) ?? 0;
    if (entry.index !== last + 1) {
      throw new InvariantViolation(
        'applied-order',
        `node ${id} applied index ${entry.index} after ${last}`,
      );
    }
    this.lastApplied.set(id, entry.index);
    if (!this.toggles.stateMachineSafety) return;
    const hash = entryHash(entry);
    const c = this.committed.get(entry.index);
    if (c === undefined) {
      this.committed.set(entry.index, {term: entry.term, hash});
    } else if (c.term !== entry.term || c.hash !== hash) {
      throw new InvariantViolation(
        'state-machine-safety',
        `node ${id} applied entry ${entry.index} term ${entry.term}, another member applied term ${c.term} there`,
      );
    }
    if (opId !== undefined) {
      const at = this.opIndex.get(opId);
      if (at === undefined) {
        this.opIndex.set(opId, entry.index);
      } else if (at !== entry.index) {
        throw new InvariantViolation(
          'state-machine-safety',
          `operation ${opId} applied at two indexes: ${at} and ${entry.index}`,
        );
      }
    }
  }

  /** recordAck notes a write the client was told succeeded, at the entry it was told about. */
  recordAck(opId: number, index: number, term: number): void {
    this.acked.push({opId, index, term});
  }

  /**
   * checkDurability verifies every acknowledged write is on the disks of enough voters of
   * `config` that every quorum of it includes one: then no leader can be elected without it,
   * whichever members crash and restart.
   */
  checkDurability(nodes: ReadonlyMap<number, CheckedNode>, config: ConfState): void {
    if (!this.toggles.durability) return;
    const voters = config.voters;
    if (voters.length === 0) return;
    const quorum = Math.floor(voters.length / 2) + 1;
    const needed = voters.length - quorum + 1;
    for (const ack of this.acked) {
      let holders = 0;
      for (const v of voters) {
        const storage = nodes.get(v)?.storage;
        if (storage !== undefined && holds(storage, ack.index, ack.term)) holders++;
      }
      if (holders < needed) {
        throw new InvariantViolation(
          'durability',
          `acknowledged op ${ack.opId} (entry ${ack.index}, term ${ack.term}) is durable on ` +
            `${holders} of voters [${voters.join(',')}]; every quorum needs one of ${needed}`,
        );
      }
    }
  }
}

function holds(storage: MemoryStorage, index: number, term: number): boolean {
  const snapIndex = storage.firstIndex() - 1;
  if (index <= snapIndex) {
    // Compacted into a snapshot, which only ever covers committed entries.
    return true;
  }
  return index <= storage.lastIndex() && storage.term(index) === term;
}

/** entryHash is FNV-1a over the entry's type and data: enough to tell entries apart. */
function entryHash(e: Entry): number {
  let h = 0x811c9dc5 ^ e.type;
  for (const b of e.data) {
    h = Math.imul(h ^ b, 0x01000193);
  }
  return (h ^ e.data.length) >>> 0;
}
