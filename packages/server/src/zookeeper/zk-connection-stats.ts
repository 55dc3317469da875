/**
 * One connection's figures as ZooKeeper's `ServerCnxn` keeps them, for `cons`, `stat` and
 * `crst`: packets each way, and of its last answered request the op, xid, zxid, time and
 * latency, with the latencies' min, mean and max in whole milliseconds.
 *
 * ZooKeeper's own quirks are kept, since tools compare against them: the minimum starts at 0,
 * so it stays 0 until the first `crst` (which sets it to "none yet"); the mean is a
 * truncated integer; a reset sets the last zxid to -1 (`lzxid=0xffffffffffffffff`) and
 * forgets the last xid, which `cons` then leaves out.
 */
export class ZkConnectionStats {
  received = 0;
  sent = 0;
  lastOp = 'NA';
  /** The xid of the last request with an xid of its own (pings and the handshake's -2/0 kept out). */
  lastCxid = -1;
  lastZxid = 0;
  /** When the last answer went out, on the member's monotonic clock (ZooKeeper's `lresp`). */
  lastResponseMs = 0;
  lastLatencyMs = 0;
  /** Undefined: nothing answered since the last reset (0 is printed). */
  private minLatencyMs: number | undefined = 0;
  private maxLatencyMs = 0;
  private totalLatencyMs = 0;
  private answered = 0;

  /**
   * A request answered: `xid` below 0 (a ping) does not move `lastCxid`. Its reply's zxid is
   * set in {@link lastZxid} as the reply is written.
   */
  responded(op: string, xid: number, receivedMs: number, nowMs: number): void {
    if (xid >= 0) this.lastCxid = xid;
    this.lastOp = op;
    this.lastResponseMs = Math.floor(nowMs);
    const latencyMs = Math.max(0, Math.floor(nowMs) - Math.floor(receivedMs));
    this.lastLatencyMs = latencyMs;
    if (this.minLatencyMs === undefined || latencyMs < this.minLatencyMs) {
      this.minLatencyMs = latencyMs;
    }
    if (latencyMs > this.maxLatencyMs) this.maxLatencyMs = latencyMs;
    this.totalLatencyMs += latencyMs;
    this.answered++;
  }

  /** `crst`: as ZooKeeper's `ServerCnxn.resetStats`. */
  reset(): void {
    this.received = 0;
    this.sent = 0;
    this.lastOp = 'NA';
    this.lastCxid = -1;
    this.lastZxid = -1;
    this.lastResponseMs = 0;
    this.lastLatencyMs = 0;
    this.minLatencyMs = undefined;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.answered = 0;
  }

  /** 0 until something is answered after a reset; ZooKeeper's 0 before any reset. */
  get minLatency(): number {
    return this.minLatencyMs ?? 0;
  }

  get maxLatency(): number {
    return this.maxLatencyMs;
  }

  /** The mean, truncated to an integer as ZooKeeper's `long` division truncates it. */
  get meanLatency(): number {
    return this.answered === 0 ? 0 : Math.trunc(this.totalLatencyMs / this.answered);
  }
}
