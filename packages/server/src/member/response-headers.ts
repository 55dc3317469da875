import type {ResponseHeader} from '@synod/proto';

/**
 * The header etcd puts on every response: cluster id, member id, revision and raft term.
 * The last one made is reused while its revision and term hold, and frozen: one header goes
 * out in many responses (every watcher of a revision, say).
 */
export class ResponseHeaders {
  /** The header made last, with the revision and term it was made for. */
  private last: {revision: number; term: number; header: ResponseHeader} | undefined;

  constructor(
    private readonly clusterId: number,
    private readonly memberId: number,
    /** The raft term now. */
    private readonly term: () => number,
  ) {}

  /** The header for a response at `revision`. */
  at(revision: number): ResponseHeader {
    const term = this.term();
    const last = this.last;
    if (last !== undefined && last.revision === revision && last.term === term) {
      return last.header;
    }
    const header = Object.freeze({
      clusterId: BigInt(this.clusterId),
      memberId: BigInt(this.memberId),
      revision: BigInt(revision),
      raftTerm: BigInt(term),
    });
    this.last = {revision, term, header};
    return header;
  }
}
