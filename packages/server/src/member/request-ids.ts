/**
 * Issues ids for the requests a member proposes. An id is unique across the
 * cluster and across restarts of the member: its high 16 bits come from the
 * member id, its low 48 bits from a counter that starts at the time of start-up
 * in milliseconds and counts up by one per request. A member would have to issue
 * more than one id per millisecond for its whole lifetime, on average, before a
 * restarted member could repeat an id.
 */
export class RequestIds {
  private static readonly counterBits = 48n;
  private static readonly counterMask = (1n << RequestIds.counterBits) - 1n;
  private readonly prefix: bigint;
  private counter: bigint;

  constructor(memberId: number, startMs: number) {
    this.prefix = (BigInt(memberId) & 0xffffn) << RequestIds.counterBits;
    this.counter = BigInt(startMs) & RequestIds.counterMask;
  }

  next(): bigint {
    this.counter = (this.counter + 1n) & RequestIds.counterMask;
    return this.prefix | this.counter;
  }
}
