/**
 * Inflights bounds the MsgApp messages a leader has sent to one follower but not yet seen
 * acknowledged. Each slot holds the last index a message carried and its payload bytes; an ack
 * for index i frees every slot at or below i. The window is full when it holds `capacity`
 * messages or `maxBytes` bytes (0 = no byte limit).
 *
 * It is a ring buffer: sending and acknowledging allocate nothing.
 */
export class Inflights {
  /** Invariant: indexes in the ring are strictly increasing from `start`. */
  private readonly indexes: Float64Array;
  private readonly sizes: Float64Array;
  private start = 0;
  private countValue = 0;
  private bytesValue = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes = 0,
  ) {
    this.indexes = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** The number of messages in flight. */
  get count(): number {
    return this.countValue;
  }

  /** The payload bytes in flight. */
  get bytes(): number {
    return this.bytesValue;
  }

  /** add records a message whose last entry is `index`, carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.full()) {
      throw new Error('cannot add into a full inflights window');
    }
    let next = this.start + this.countValue;
    if (next >= this.capacity) {
      next -= this.capacity;
    }
    this.indexes[next] = index;
    this.sizes[next] = bytes;
    this.countValue++;
    this.bytesValue += bytes;
  }

  /** freeLE frees every message whose last index is at or below `to`. */
  freeLE(to: number): void {
    if (this.countValue === 0 || to < (this.indexes[this.start] ?? 0)) {
      return;
    }
    let idx = this.start;
    let i = 0;
    let freedBytes = 0;
    for (; i < this.countValue; i++) {
      if (to < (this.indexes[idx] ?? 0)) {
        break;
      }
      freedBytes += this.sizes[idx] ?? 0;
      idx++;
      if (idx >= this.capacity) {
        idx -= this.capacity;
      }
    }
    this.countValue -= i;
    this.bytesValue -= freedBytes;
    this.start = this.countValue === 0 ? 0 : idx;
  }

  /** freeFirstOne frees the oldest message in flight. */
  freeFirstOne(): void {
    if (this.countValue > 0) {
      this.freeLE(this.indexes[this.start] ?? 0);
    }
  }

  /** full reports whether no further message may be sent. */
  full(): boolean {
    return (
      this.countValue === this.capacity || (this.maxBytes > 0 && this.bytesValue >= this.maxBytes)
    );
  }

  /** reset empties the window. */
  reset(): void {
    this.start = 0;
    this.countValue = 0;
    this.bytesValue = 0;
  }
}
