/**
 * Makes keys `prefix` + a zero-padded index, `keySize` bytes long (longer when the prefix and
 * the index need more). Indexes are drawn at random from `[0, keySpace)`, or walked in order
 * starting at `offset` with step `step` (so that worker processes walk disjoint sequences).
 */
export class KeySource {
  private cursor: number;
  private readonly digits: number;

  constructor(
    private readonly prefix: string,
    keySize: number,
    private readonly keySpace: number,
    private readonly sequential: boolean,
    offset = 0,
    private readonly step = 1,
  ) {
    this.cursor = offset;
    this.digits = Math.max(String(keySpace - 1).length, keySize - Buffer.byteLength(prefix));
  }

  /** The next key index. */
  nextIndex(): number {
    if (!this.sequential) return Math.floor(Math.random() * this.keySpace);
    const index = this.cursor % this.keySpace;
    this.cursor += this.step;
    return index;
  }

  keyOf(index: number): Buffer {
    return Buffer.from(this.prefix + String(index).padStart(this.digits, '0'));
  }

  next(): Buffer {
    return this.keyOf(this.nextIndex());
  }
}

/** The first key after every key that starts with `prefix`, as etcd's `--prefix` computes it. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
