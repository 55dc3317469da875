/**
 * Requests waiting for the outcome of something that happens later, keyed by
 * id: a proposal waits for its entry to be applied, a linearizable read for its
 * read index. Each waiter is settled at most once.
 */
export class Waiters<K, T> {
  private readonly pending = new Map<K, {resolve: (v: T) => void; reject: (e: unknown) => void}>();

  /** Registers `id` and returns the promise its outcome will settle. */
  wait(id: K): Promise<T> {
    if (this.pending.has(id)) return Promise.reject(new Error(`duplicate waiter id ${String(id)}`));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {resolve, reject});
    });
  }

  /** Settles `id` with a value; returns false when nobody was waiting (another member's request). */
  resolve(id: K, value: T): boolean {
    const w = this.pending.get(id);
    if (w === undefined) return false;
    this.pending.delete(id);
    w.resolve(value);
    return true;
  }

  reject(id: K, error: unknown): boolean {
    const w = this.pending.get(id);
    if (w === undefined) return false;
    this.pending.delete(id);
    w.reject(error);
    return true;
  }

  /** Fails every pending waiter, e.g. when the member stops. */
  rejectAll(error: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const w of all) w.reject(error);
  }

  get size(): number {
    return this.pending.size;
  }
}
