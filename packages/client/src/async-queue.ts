/**
 * An unbounded queue read as an async iterable: the request side of a bidi stream. Items
 * pushed before anyone reads are kept; `end()` finishes the iteration once the queue is
 * drained.
 */
export class AsyncQueue<T extends object> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>(resolve => {
        this.wake = resolve;
      });
    }
  }
}
