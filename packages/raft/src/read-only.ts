import type {Message} from '@synod/proto/raftpb';

/**
 * ReadState is the answer to a ReadIndex request: once the application has applied up to
 * `index`, a read made now observes every write committed before the request was made.
 */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/** A ReadIndex request waiting for a quorum of heartbeat acknowledgements. */
interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Map<number, boolean>;
}

/** ctxKey turns a request context into a Map key. */
function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) {
    s += String.fromCharCode(b);
  }
  return s;
}

/**
 * ReadOnly tracks ReadIndex requests on a leader (Raft thesis §6.4, the "safe" option): each
 * request records the commit index when it arrived and is answered once a quorum has
 * acknowledged a heartbeat carrying its context, proving the leader was still the leader.
 *
 * Requests are answered in arrival order; an ack for a later request also confirms every
 * earlier one.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** addRequest queues a request (its context in `m.context`) at commit index `index`. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.context);
    if (this.pending.has(key)) {
      return;
    }
    this.pending.set(key, {req: m, index, acks: new Map()});
    this.queue.push(key);
  }

  /** recvAck records `id`'s heartbeat acknowledgement of `ctx`; returns the acks so far. */
  recvAck(id: number, ctx: Uint8Array): ReadonlyMap<number, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (rs === undefined) {
      return undefined;
    }
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * advance removes and returns every request up to and including the one with context `ctx`,
   * all of which are now confirmed.
   */
  advance(ctx: Uint8Array): {req: Message; index: number}[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) {
      return [];
    }
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: {req: Message; index: number}[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      if (rs !== undefined) {
        out.push({req: rs.req, index: rs.index});
        this.pending.delete(k);
      }
    }
    return out;
  }

  /** The context of the newest pending request, carried by the next heartbeats. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.context;
  }

  get size(): number {
    return this.queue.length;
  }
}
