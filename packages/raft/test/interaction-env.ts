import type {ConfChange, Entry, Message} from '@synod/proto/raftpb';
import {
  ConfChange as ConfChangeCodec,
  ConfChangeType,
  EntryType,
  MessageType,
} from '@synod/proto/raftpb';
import {
  ConfChangeRefusedError,
  ProposalDroppedError,
  StepPeerNotFoundError,
} from '../src/errors.js';
import {MemoryStorage} from '../src/memory-storage.js';
import {RawNode} from '../src/raw-node.js';
import type {Ready} from '../src/ready.js';
import {SeededRng} from '../src/seeded-rng.js';

const dec = new TextDecoder();
const enc = new TextEncoder();

interface EnvNode {
  node: RawNode;
  readonly storage: MemoryStorage;
}

/** One parsed command of an interaction script: `name arg1 key=value key=(1,2)`. */
export interface Command {
  readonly name: string;
  readonly args: readonly string[];
  readonly kv: ReadonlyMap<string, string>;
}

export function parseCommand(line: string): Command {
  const [name = '', ...rest] = line.trim().split(/\s+/);
  const args: string[] = [];
  const kv = new Map<string, string>();
  for (const tok of rest) {
    const eq = tok.indexOf('=');
    if (eq > 0) kv.set(tok.slice(0, eq), tok.slice(eq + 1));
    else args.push(tok);
  }
  return {name, args, kv};
}

function ids(list: string | undefined): number[] {
  if (list === undefined || list === '()') return [];
  return list.replace(/[()]/g, '').split(',').map(Number);
}

function fmtEntry(e: Entry): string {
  if (e.type === EntryType.EntryConfChange) {
    const cc = ConfChangeCodec.decode(e.data);
    const kind = {
      [ConfChangeType.ConfChangeAddNode]: 'v',
      [ConfChangeType.ConfChangeAddLearnerNode]: 'l',
      [ConfChangeType.ConfChangeRemoveNode]: 'r',
      [ConfChangeType.ConfChangeUpdateNode]: 'u',
    }[cc.type as 0 | 1 | 2 | 3];
    return `${e.term}/${e.index} EntryConfChange ${kind}${cc.nodeId}`;
  }
  return `${e.term}/${e.index} EntryNormal "${dec.decode(e.data)}"`;
}

/**
 * Renders a message the way the scripts show it: `1->2 MsgApp Term:1 Log:1/3 Commit:3 ...`;
 * a commit notice (not answered) ends its Commit with ` CommitOnly`.
 */
export function fmtMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.commitOnly) s += ' CommitOnly';
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.context.length > 0) s += ` Context:"${dec.decode(m.context)}"`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(fmtEntry).join(', ')}]`;
  if (m.snapshot !== undefined) {
    const md = m.snapshot.metadata;
    s += ` Snapshot: Index:${md?.index ?? 0} Term:${md?.term ?? 0} ConfState:Voters:[${md?.confState?.voters.join(' ') ?? ''}] Learners:[${md?.confState?.learners.join(' ') ?? ''}]`;
  }
  return s;
}

const roleName = {
  follower: 'StateFollower',
  'pre-candidate': 'StatePreCandidate',
  candidate: 'StateCandidate',
  leader: 'StateLeader',
} as const;

/**
 * InteractionEnv runs interaction scripts: a small language of commands over a cluster of
 * RawNodes whose output (every Ready and message) reads as the story of the scenario.
 */
export class InteractionEnv {
  private readonly nodes = new Map<number, EnvNode>();
  private messages: Message[] = [];
  private readonly isolated = new Set<number>();
  private out: string[] = [];

  handle(cmd: Command): string {
    this.out = [];
    try {
      this.dispatch(cmd);
    } catch (err) {
      if (
        err instanceof ProposalDroppedError ||
        err instanceof ConfChangeRefusedError ||
        err instanceof StepPeerNotFoundError
      ) {
        this.out.push(`error: ${err.message}`);
      } else {
        throw err;
      }
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private node(id: string | number | undefined): EnvNode {
    const n = this.nodes.get(Number(id));
    if (n === undefined) throw new Error(`no node ${String(id)}`);
    return n;
  }

  private dispatch(cmd: Command): void {
    const a0 = cmd.args[0];
    switch (cmd.name) {
      case 'add-nodes':
        this.addNodes(Number(a0), cmd.kv);
        return;
      case 'campaign':
        this.node(a0).node.campaign();
        return;
      case 'propose':
        this.node(a0).node.propose(enc.encode(cmd.args[1] ?? ''));
        return;
      case 'propose-conf-change':
        this.node(a0).node.proposeConfChange(parseConfChange(cmd.args[1] ?? ''));
        return;
      case 'transfer-leadership':
        this.node(cmd.kv.get('from')).node.transferLeader(Number(cmd.kv.get('to')));
        return;
      case 'read-index':
        this.node(a0).node.readIndex(enc.encode(cmd.args[1] ?? ''));
        return;
      case 'tick-election': {
        const r = this.node(a0).node.raft;
        const n =
          r.state === 'leader'
            ? r.electionTimeout
            : r.randomizedElectionTimeout - r.electionElapsed;
        for (let i = 0; i < n; i++) this.node(a0).node.tick();
        return;
      }
      case 'tick-heartbeat': {
        const en = this.node(a0);
        for (let i = 0; i < en.node.raft.heartbeatTimeout; i++) en.node.tick();
        return;
      }
      case 'process-ready':
        for (const id of cmd.args.map(Number)) this.processReady(id);
        return;
      case 'deliver-msgs':
        for (const id of cmd.args.map(Number)) this.deliver(id, cmd.kv.get('drop') === 'true');
        return;
      case 'stabilize':
        this.stabilize();
        return;
      case 'isolate':
        this.isolated.add(Number(a0));
        return;
      case 'recover':
        this.isolated.clear();
        return;
      case 'compact': {
        const en = this.node(a0);
        const i = Number(cmd.args[1]);
        en.storage.createSnapshot(i, en.node.raft.trk.confState(), enc.encode(`snap@${i}`));
        en.storage.compact(i);
        return;
      }
      case 'raft-state':
        for (const [id, en] of this.nodes) {
          const r = en.node.raft;
          const kind = r.isLearner ? 'Learner' : r.trk.voters.has(id) ? 'Voter' : 'Non-Member';
          this.out.push(`${id}: ${roleName[r.state]} (${kind}) Term:${r.term} Lead:${r.lead}`);
        }
        return;
      case 'raft-log': {
        const log = this.node(a0).node.raft.raftLog;
        const ents = log.allEntries();
        if (ents.length === 0)
          this.out.push(
            `log is empty: first index=${log.firstIndex()}, last index=${log.lastIndex()}`,
          );
        for (const e of ents) this.out.push(fmtEntry(e));
        return;
      }
      case 'status': {
        for (const [id, pr] of this.node(a0).node.status().progress) {
          this.out.push(
            `${id}: ${pr.state[0]?.toUpperCase() ?? ''}${pr.state.slice(1)} match=${pr.match} next=${pr.next}` +
              (pr.isLearner ? ' learner' : '') +
              (pr.paused ? ' paused' : '') +
              (pr.pendingSnapshot > 0 ? ` pendingSnap=${pr.pendingSnapshot}` : ''),
          );
        }
        return;
      }
      default:
        throw new Error(`unknown command ${cmd.name}`);
    }
  }

  private addNodes(n: number, kv: ReadonlyMap<string, string>): void {
    const voters = ids(kv.get('voters'));
    const learners = ids(kv.get('learners'));
    const first = this.nodes.size + 1;
    for (let id = first; id < first + n; id++) {
      const storage = new MemoryStorage({voters, learners});
      const node = new RawNode({
        id,
        electionTick: 10,
        heartbeatTick: 1,
        storage,
        rng: new SeededRng(id),
        maxSizePerMsg: Infinity,
        preVote: kv.get('prevote') === 'true',
        checkQuorum: kv.get('checkquorum') === 'true',
      });
      this.nodes.set(id, {node, storage});
    }
  }

  private processReady(id: number): boolean {
    const en = this.node(id);
    if (!en.node.hasReady()) return false;
    const rd = en.node.ready();
    this.out.push(`> ${id} handling Ready`);
    for (const line of describeReady(rd)) this.out.push(`  ${line}`);
    if (rd.snapshot !== undefined) en.storage.applySnapshot(rd.snapshot);
    en.storage.append(rd.entries);
    if (rd.hardState !== undefined) en.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.messages.push(m);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.EntryConfChange) {
        const cs = en.node.applyConfChange(ConfChangeCodec.decode(e.data));
        this.out.push(
          `  INFO ${id} applied conf change, now voters=(${cs.voters.join(' ')}) learners=(${cs.learners.join(' ')})`,
        );
      }
    }
    en.node.advance();
    return true;
  }

  private deliver(id: number, drop: boolean): boolean {
    const mine = this.messages.filter(m => m.to === id);
    if (mine.length === 0) return false;
    this.messages = this.messages.filter(m => m.to !== id);
    for (const m of mine) {
      const cut = this.isolated.has(m.from) || this.isolated.has(m.to);
      if (drop || cut) {
        this.out.push(`dropped: ${fmtMessage(m)}`);
        if (m.type === MessageType.MsgSnap) this.node(m.from).node.reportSnapshot(m.to, false);
        continue;
      }
      this.out.push(`> ${id} receiving messages`);
      this.out.push(`  ${fmtMessage(m)}`);
      try {
        this.node(id).node.step(m);
      } catch (err) {
        if (!(err instanceof StepPeerNotFoundError || err instanceof ProposalDroppedError))
          throw err;
        this.out.push(`  error: ${err.message}`);
      }
      if (m.type === MessageType.MsgSnap) this.node(m.from).node.reportSnapshot(m.to, true);
    }
    return true;
  }

  private stabilize(): void {
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (const id of this.nodes.keys()) busy = this.processReady(id) || busy;
      for (const id of this.nodes.keys()) busy = this.deliver(id, false) || busy;
      if (!busy) return;
    }
    throw new Error('stabilize did not converge');
  }
}

function describeReady(rd: Ready): string[] {
  const lines: string[] = [];
  if (rd.softState !== undefined) {
    lines.push(`Lead:${rd.softState.lead} State:${roleName[rd.softState.raftState]}`);
  }
  if (rd.hardState !== undefined) {
    const hs = rd.hardState;
    lines.push(`HardState Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`);
  }
  if (rd.entries.length > 0) lines.push(`Entries: ${rd.entries.map(fmtEntry).join(', ')}`);
  if (rd.snapshot !== undefined) lines.push(`Snapshot: Index:${rd.snapshot.metadata?.index ?? 0}`);
  if (rd.committedEntries.length > 0) {
    lines.push(`CommittedEntries: ${rd.committedEntries.map(fmtEntry).join(', ')}`);
  }
  for (const m of rd.messages) lines.push(`Message: ${fmtMessage(m)}`);
  for (const rs of rd.readStates) {
    lines.push(`ReadState: Index:${rs.index} Context:"${dec.decode(rs.requestCtx)}"`);
  }
  return lines;
}

function parseConfChange(spec: string): ConfChange {
  const kind = spec[0];
  const nodeId = Number(spec.slice(1));
  const type =
    kind === 'v'
      ? ConfChangeType.ConfChangeAddNode
      : kind === 'l'
        ? ConfChangeType.ConfChangeAddLearnerNode
        : kind === 'r'
          ? ConfChangeType.ConfChangeRemoveNode
          : ConfChangeType.ConfChangeUpdateNode;
  return {type, nodeId, context: new Uint8Array(0), id: 0};
}
