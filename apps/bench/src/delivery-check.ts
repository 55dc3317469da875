import type {Recorder} from './result.js';

/** The value the watch writer puts: its sequence number and send time, padded to `size`. */
export function writerValue(seq: number, sentNs: bigint, size: number): Buffer {
  return Buffer.from(`${seq} ${sentNs}`.padEnd(size, ' '));
}

/** The value of the end marker: how many puts succeeded before it. */
export function endMarkerValue(count: number): Buffer {
  return Buffer.from(`end ${count}`);
}

/**
 * What one watcher checks about the events it receives: revisions strictly increase (nothing
 * out of order, nothing twice), no sequence number arrives twice, and once the end marker
 * arrives, every sequence number it announces arrived. Records put-to-delivery latency under
 * `delivery` and every violation, counted and described, in the recorder.
 */
export class DeliveryCheck {
  private lastRevision = 0n;
  /** seen[seq] is 1 once the event of sequence number seq arrived. */
  private seen = new Uint8Array(1024);
  private distinct = 0;
  private expected: number | undefined;

  constructor(
    private readonly name: string,
    private readonly recorder: Recorder,
  ) {}

  /** Takes one event; returns true if it was the end marker. */
  observe(modRevision: bigint, value: Buffer, nowNs: bigint): boolean {
    this.recorder.count('watchEvents');
    if (modRevision <= this.lastRevision) {
      this.recorder.violation(
        'watchOutOfOrder',
        `${this.name}: revision ${modRevision} arrived after ${this.lastRevision}`,
      );
    }
    this.lastRevision = modRevision;
    const text = value.toString('latin1');
    if (text.startsWith('end ')) {
      this.expected = Number(text.slice(4));
      return true;
    }
    const space = text.indexOf(' ');
    const seq = Number(text.slice(0, space));
    const sentNs = BigInt(text.slice(space + 1).trimEnd());
    this.recorder.histogram('delivery').record(Number(nowNs - sentNs));
    if (seq >= this.seen.length) {
      const grown = new Uint8Array(Math.max(seq + 1, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    if (this.seen[seq] === 1) {
      this.recorder.violation('watchDuplicates', `${this.name}: event ${seq} arrived twice`);
    } else {
      this.seen[seq] = 1;
      this.distinct += 1;
    }
    return false;
  }

  /** Called when the watcher stops: records what never arrived. */
  finish(): void {
    if (this.expected === undefined) {
      this.recorder.violation(
        'watchersIncomplete',
        `${this.name}: the end marker never arrived (${this.distinct} events seen)`,
      );
      return;
    }
    const missing = this.expected - this.distinct;
    if (missing > 0) {
      this.recorder.count('watchMissing', missing - 1);
      this.recorder.violation(
        'watchMissing',
        `${this.name}: ${missing} of ${this.expected} events never arrived`,
      );
    }
  }
}
