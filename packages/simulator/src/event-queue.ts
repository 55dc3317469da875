/** One scheduled event. Events are ordered by `(timeMs, seq)`. */
export interface QueuedEvent<T> {
  readonly timeMs: number;
  /** Insertion sequence number: equal times run in the order they were scheduled. */
  readonly seq: number;
  readonly value: T;
}

/**
 * EventQueue is a binary min-heap keyed by `(timeMs, seq)`. The sequence number makes the
 * order of simultaneous events a function of the order they were scheduled, never of the heap's
 * internal layout, so a run replays exactly.
 */
export class EventQueue<T> {
  private readonly heap: QueuedEvent<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** push schedules `value` at `timeMs` and returns the event (its `seq` identifies it). */
  push(timeMs: number, value: T): QueuedEvent<T> {
    const event = {timeMs, seq: this.nextSeq++, value};
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as QueuedEvent<T>;
      if (!before(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
    return event;
  }

  /** peek returns the earliest event without removing it. */
  peek(): QueuedEvent<T> | undefined {
    return this.heap[0];
  }

  /** pop removes and returns the earliest event. */
  pop(): QueuedEvent<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) {
      return top;
    }
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(heap[r] as QueuedEvent<T>, heap[l] as QueuedEvent<T>)) child = r;
      const c = heap[child] as QueuedEvent<T>;
      if (!before(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before<T>(a: QueuedEvent<T>, b: QueuedEvent<T>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
