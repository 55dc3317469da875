/** A live session as applied: its negotiated timeout and the member that owns it. */
export interface CachedSession {
  readonly timeoutMs: number;
  /** 0 for a session written before owners were recorded: any member may write. */
  readonly owner: bigint;
}

/** The last txn applied for a session: its connection and number, and its `meta` key. */
export interface CachedTurn {
  readonly connectionId: bigint;
  readonly seq: number;
  readonly key: Buffer;
}

/**
 * What the ZooKeeper state machine has already decoded of the sessions, so that a write checks
 * its session and its turn from memory rather than through the MVCC store and the backend's
 * `meta` bucket: each live session's timeout and owner, and each session's last turn. Every
 * session write the state machine makes is written here as it is written to the store, so the
 * two agree; whatever else changes a session's key is not seen here: an etcd client writing
 * under `__synod/zk/` (which is not supported) or a lease revoked without the state machine
 * (which does not happen: the applier hands it every revoke). A member that installs a
 * snapshot opens a new state machine, and so a new, empty cache.
 *
 * Example: session 0x1a's first write reads its key (timeout 4000 ms, owner member 2) and its
 * turn once; its next writes find both here, and each write's turn is written here and to the
 * `meta` bucket. Znodes are not kept: a cache of 10,000 decoded znodes made a member's setData
 * with 64 sessions cost 1.12 to 1.21 times as much CPU (the records it kept outlived the young
 * generation), more than the store reads it saved.
 */
export class ZkAppliedCache {
  private readonly sessions = new Map<bigint, CachedSession>();
  private readonly turns = new Map<bigint, CachedTurn>();

  session(id: bigint): CachedSession | undefined {
    return this.sessions.get(id);
  }

  setSession(id: bigint, session: CachedSession): void {
    this.sessions.set(id, session);
  }

  turn(id: bigint): CachedTurn | undefined {
    return this.turns.get(id);
  }

  setTurn(id: bigint, turn: CachedTurn): void {
    this.turns.set(id, turn);
  }

  /** The session ended: its record and its turn are gone. */
  sessionEnded(id: bigint): void {
    this.sessions.delete(id);
    this.turns.delete(id);
  }
}
