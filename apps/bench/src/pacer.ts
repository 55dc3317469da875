/**
 * Spaces operations `1e9 / rate` nanoseconds apart over all the clients that share it: each
 * `next()` resolves at the next free slot. A pacer that fell behind (the server was slower
 * than the rate) does not burst to catch up: slots older than one interval are dropped.
 */
export class Pacer {
  private readonly intervalNs: bigint;
  private nextSlotNs = 0n;

  /** `rate` operations per second; 0 means no limit. */
  constructor(readonly rate: number) {
    this.intervalNs = rate > 0 ? BigInt(Math.round(1e9 / rate)) : 0n;
  }

  async next(): Promise<void> {
    if (this.intervalNs === 0n) return;
    const now = process.hrtime.bigint();
    if (this.nextSlotNs < now - this.intervalNs) this.nextSlotNs = now;
    const slot = this.nextSlotNs;
    this.nextSlotNs += this.intervalNs;
    const waitMs = Number(slot - now) / 1e6;
    if (waitMs >= 1) await new Promise(resolve => setTimeout(resolve, Math.floor(waitMs)));
  }
}
