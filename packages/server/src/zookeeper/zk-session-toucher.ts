/**
 * Keeps the sessions of a member's connections alive as ZooKeeper's learners do: every packet
 * a client sends touches its session, and a touched session is renewed (by the leader itself; a
 * follower forwards the renewal to it) at once if it was not renewed in the last half tick, or
 * else at the end of that half tick, with the others touched meanwhile, as a ZooKeeper follower
 * reports the sessions it touched to the leader with each ping, twice a tick.
 *
 * A renewal therefore comes after a client's last packet, by at most half a tick, so a
 * session's lease can be exactly its timeout long: the session ends no sooner than the timeout
 * after the client's last word, and at most half a tick (plus the leader's expiry sweep) later.
 * ZooKeeper's own bound is a whole tick, its expiry buckets.
 *
 * Example (tick 2 s): a session renewed at 10.0 s is touched at 10.2 s, and its client dies;
 * it is renewed again at 11.0 s, the end of the half tick, and with a 4 s timeout its lease
 * ends at 15.0 s, 4.8 s after the last word. A client that pings every 1.3 s has each ping
 * renew its session at once.
 */
export class ZkSessionToucher {
  /** When each session was last renewed here; entries older than a round are dropped. */
  private readonly renewedMs = new Map<bigint, number>();
  /** Touched within a round of their last renewal: renewed when the round ends. */
  private deferred = new Set<bigint>();
  private timer: NodeJS.Timeout | undefined;
  private prunedMs = 0;

  constructor(
    private readonly renew: (sessionId: bigint) => Promise<void>,
    private readonly roundMs: number,
    private readonly warn: (message: string, detail: object) => void,
  ) {}

  /** A packet of the session arrived: it is renewed now or within half a tick. */
  touch(sessionId: bigint): void {
    const now = performance.now();
    const last = this.renewedMs.get(sessionId);
    if (last === undefined || now - last >= this.roundMs) {
      this.prune(now);
      this.deferred.delete(sessionId);
      this.renewedMs.set(sessionId, now);
      this.renewOne(sessionId);
      return;
    }
    this.deferred.add(sessionId);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.flush();
    }, this.roundMs);
    this.timer.unref();
  }

  /**
   * Renews a session at once: for a session its client resumes, which may have little of its
   * timeout left.
   */
  renewNow(sessionId: bigint): void {
    this.deferred.delete(sessionId);
    this.renewedMs.set(sessionId, performance.now());
    this.renewOne(sessionId);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.deferred.clear();
    this.renewedMs.clear();
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    const round = this.deferred;
    this.deferred = new Set();
    for (const id of round) {
      this.renewedMs.set(id, now);
      this.renewOne(id);
    }
  }

  /** Forgets renewals older than a round, once a round, so ended sessions leave no entry. */
  private prune(now: number): void {
    if (now - this.prunedMs < this.roundMs) return;
    this.prunedMs = now;
    for (const [id, at] of this.renewedMs) {
      if (now - at >= this.roundMs) this.renewedMs.delete(id);
    }
  }

  private renewOne(sessionId: bigint): void {
    this.renew(sessionId).catch((error: unknown) => {
      this.warn('could not renew a ZooKeeper session', {
        session: sessionId.toString(16),
        error: String(error),
      });
    });
  }
}
