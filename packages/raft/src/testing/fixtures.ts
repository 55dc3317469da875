import type {Entry, Message} from '@synod/proto/raftpb';
import {ConfChange, EntryType, MessageType} from '@synod/proto/raftpb';
import type {Config} from '../config.js';
import {MemoryStorage} from '../memory-storage.js';
import {newMessage} from '../raft.js';
import {RawNode} from '../raw-node.js';
import type {Ready} from '../ready.js';
import {SeededRng} from '../seeded-rng.js';

/** A single RawNode with its storage, for tests that drive messages by hand. */
export interface TestNode {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  /** Committed entries applied so far. */
  readonly applied: Entry[];
}

/** Entries with indexes from `start` and the given terms. */
export function entries(terms: readonly number[], start = 1): Entry[] {
  return terms.map((term, i) => ({
    term,
    index: start + i,
    type: EntryType.EntryNormal,
    data: new Uint8Array(0),
  }));
}

/** Builds a message with defaults for every field not given. */
export function msg(type: MessageType, fields: Partial<Message> = {}): Message {
  return newMessage(type, fields);
}

/**
 * newTestNode makes a RawNode over a MemoryStorage preloaded with `log` and a hard state.
 *
 * @internal Test helper.
 */
export function newTestNode(opts: {
  id: number;
  voters: readonly number[];
  learners?: readonly number[];
  log?: readonly Entry[];
  term?: number;
  vote?: number;
  commit?: number;
  seed?: number;
  config?: Partial<Omit<Config, 'id' | 'storage' | 'rng'>>;
}): TestNode {
  const storage = new MemoryStorage({
    voters: [...opts.voters],
    learners: [...(opts.learners ?? [])],
  });
  storage.append(opts.log ?? []);
  storage.setHardState({term: opts.term ?? 0, vote: opts.vote ?? 0, commit: opts.commit ?? 0});
  const node = new RawNode({
    electionTick: 10,
    heartbeatTick: 1,
    maxSizePerMsg: Infinity,
    maxInflightMsgs: 256,
    ...opts.config,
    id: opts.id,
    storage,
    rng: new SeededRng(opts.seed ?? opts.id),
  });
  return {node, storage, applied: []};
}

/**
 * drain handles every pending Ready of a test node like a server (persist, apply, advance)
 * and returns the messages it would send, in order.
 */
export function drain(t: TestNode): Message[] {
  const out: Message[] = [];
  while (t.node.hasReady()) {
    const rd = handleReady(t, t.node.ready());
    for (const m of rd.messages) out.push(m);
  }
  return out;
}

/** handleReady persists and applies one Ready, then advances; returns it. */
export function handleReady(t: TestNode, rd: Ready): Ready {
  if (rd.snapshot !== undefined) t.storage.applySnapshot(rd.snapshot);
  t.storage.append(rd.entries);
  if (rd.hardState !== undefined) t.storage.setHardState(rd.hardState);
  for (const e of rd.committedEntries) {
    t.applied.push(e);
    if (e.type === EntryType.EntryConfChange) {
      t.node.applyConfChange(ConfChange.decode(e.data));
    }
  }
  t.node.advance();
  return rd;
}

/** Ticks a node `n` times. */
export function tickN(t: TestNode, n: number): void {
  for (let i = 0; i < n; i++) t.node.tick();
}

/** The (type, to) pairs of messages, for compact assertions. */
export function summarize(ms: readonly Message[]): string[] {
  return ms.map(m => `${MessageType[m.type]}->${m.to}`);
}
