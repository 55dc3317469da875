import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';

/** One acknowledged put: its key, value and when it was called and acknowledged. */
export interface AckedPut {
  readonly key: string;
  readonly value: string;
  readonly callMs: number;
  readonly ackMs: number;
}

/** One failed put, with the error's message. */
export interface FailedPut {
  /** The only endpoint of a pinned writer, or undefined for a roaming one. */
  readonly pinnedTo: string | undefined;
  readonly key: string;
  readonly callMs: number;
  readonly message: string;
}

/** Options of {@link AckedWrites.start}. */
export interface AckedWritesOptions {
  readonly endpoints: readonly string[];
  /** Every key written lives under this prefix. */
  readonly prefix: string;
  /** Writers that fail over across members. */
  readonly roamingWriters: number;
  readonly callTimeoutMs: number;
}

/**
 * Writers of keys that are each written once, so that every acknowledged write can be
 * looked for afterwards. One writer is pinned to each member (so a deposed leader that
 * acknowledges a write it cannot commit is caught) and `roamingWriters` more fail over
 * across all members. Times are `performance.now()` milliseconds.
 */
export class AckedWrites {
  readonly acked: AckedPut[] = [];
  readonly failed: FailedPut[] = [];
  private readonly clients: Etcd[] = [];
  private readonly loops: Promise<void>[] = [];
  private running = true;

  private constructor(private readonly options: AckedWritesOptions) {}

  static start(options: AckedWritesOptions): AckedWrites {
    const writes = new AckedWrites(options);
    options.endpoints.forEach((endpoint, m) => {
      writes.runWriter(`pinned-${m}`, [endpoint], endpoint);
    });
    for (let w = 0; w < options.roamingWriters; w++) {
      const {endpoints} = options;
      const rotated = endpoints.map((_, i) => endpoints[(w + i) % endpoints.length] ?? '');
      writes.runWriter(`roaming-${w}`, rotated, undefined);
    }
    return writes;
  }

  /** Acknowledged puts called at or after `sinceMs`. */
  ackedSince(sinceMs: number): AckedPut[] {
    return this.acked.filter(p => p.callMs >= sinceMs);
  }

  /** Waits until `count` more puts than now are acknowledged; throws after `timeoutMs`. */
  async waitForMoreAcks(count: number, timeoutMs: number): Promise<void> {
    const target = this.acked.length + count;
    const deadline = performance.now() + timeoutMs;
    while (this.acked.length < target) {
      if (performance.now() > deadline) {
        throw new Error(`fewer than ${count} writes were acknowledged in ${timeoutMs} ms`);
      }
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients) client.close();
  }

  private runWriter(name: string, endpoints: string[], pinnedTo: string | undefined): void {
    const client = createClient({
      endpoints,
      defaultTimeoutMs: this.options.callTimeoutMs,
      dialTimeoutMs: 500,
      retry: {maxAttempts: 1},
    });
    this.clients.push(client);
    this.loops.push(
      (async () => {
        for (let i = 0; this.running; i++) {
          const key = `${this.options.prefix}/${name}/${i}`;
          const value = `${name}-${i}-${Math.random().toString(36).slice(2, 8)}`;
          const callMs = performance.now();
          try {
            await client.kv.put(key, value);
            this.acked.push({key, value, callMs, ackMs: performance.now()});
            await new Promise(resolve => setTimeout(resolve, 50));
          } catch (error) {
            this.failed.push({pinnedTo, key, callMs, message: String(error)});
            await new Promise(resolve => setTimeout(resolve, 100));
          }
        }
      })(),
    );
  }
}
