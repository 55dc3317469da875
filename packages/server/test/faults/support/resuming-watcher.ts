import {Event_EventType, WatchDefinition} from '@synod/proto';
import type {WatchRequest} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';

/** One event as a watcher saw it. */
export interface SeenEvent {
  readonly revision: bigint;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string;
}

/** The end of the range of keys that start with `prefix`. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end.at(-1) ?? 0) + 1;
  return end;
}

function toSeen(event: {
  type: Event_EventType;
  kv?: {key: Buffer; value: Buffer; modRevision: bigint};
}): SeenEvent {
  const kv = event.kv;
  if (kv === undefined) throw new Error('watch event without a key-value');
  return {
    revision: kv.modRevision,
    type: event.type === Event_EventType.DELETE ? 'delete' : 'put',
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
  };
}

/**
 * A watcher of a prefix that, whenever its stream breaks (the member died) or stalls for
 * `stallMs` (the member is stopped), opens a new watch on the next member from its last
 * seen revision + 1, the way a client must resume without gaps or repeats. It talks gRPC
 * directly so that the resuming is the test's and not a client library's.
 */
export class ResumingWatcher {
  readonly events: SeenEvent[] = [];
  /** Problems the server reported on a watch (cancel, compaction): each one a failure. */
  readonly errors: string[] = [];
  reconnects = 0;
  private nextRevision: bigint;
  private running = true;
  private current: AbortController | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly addresses: readonly string[],
    private readonly prefix: string,
    startRevision: bigint,
    private readonly stallMs = 1500,
    firstMember = 0,
  ) {
    this.nextRevision = startRevision;
    this.loop = this.run(firstMember);
  }

  /** The revision of the last event seen, or 0n. */
  get lastRevision(): bigint {
    return this.nextRevision - 1n;
  }

  /** Waits until the watcher has seen `revision`; throws after `timeoutMs`. */
  async waitForRevision(revision: bigint, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.lastRevision < revision) {
      if (performance.now() > deadline) {
        throw new Error(
          `watcher reached revision ${this.lastRevision}, not ${revision}, in ${timeoutMs} ms`,
        );
      }
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.current?.abort();
    await this.loop;
  }

  private isRunning(): boolean {
    return this.running;
  }

  private async run(firstMember: number): Promise<void> {
    let member = firstMember;
    while (this.isRunning()) {
      await this.watchOnce(this.addresses[member % this.addresses.length] ?? '');
      if (!this.isRunning()) return;
      this.reconnects++;
      member++;
      await new Promise(resolve => setTimeout(resolve, 50));
    }
  }

  private async watchOnce(address: string): Promise<void> {
    const abort = new AbortController();
    this.current = abort;
    const channel = createChannel(address);
    let lastActivityMs = performance.now();
    const watchdog = setInterval(() => {
      if (performance.now() - lastActivityMs > this.stallMs) abort.abort();
    }, 100);
    const create: WatchRequest = {
      requestUnion: {
        $case: 'createRequest',
        value: {
          key: Buffer.from(this.prefix),
          rangeEnd: prefixEnd(this.prefix),
          startRevision: this.nextRevision,
          progressNotify: false,
          filters: [],
          prevKv: false,
          watchId: 0n,
          fragment: false,
        },
      },
    };
    async function* requests(): AsyncGenerator<WatchRequest> {
      yield create;
      // Keep the request stream open until the watch is abandoned.
      await new Promise(resolve => {
        abort.signal.addEventListener('abort', resolve);
      });
    }
    try {
      const client = createClient(WatchDefinition, channel);
      for await (const response of client.watch(requests(), {signal: abort.signal})) {
        lastActivityMs = performance.now();
        if (response.canceled || response.compactRevision > 0n) {
          this.errors.push(
            `watch on ${address} from ${this.nextRevision} canceled: ${response.cancelReason} ` +
              `(compact revision ${response.compactRevision})`,
          );
          return;
        }
        for (const event of response.events) {
          const seen = toSeen(event);
          this.events.push(seen);
          this.nextRevision = seen.revision + 1n;
        }
      }
    } catch {
      // The member died or stalled: resume elsewhere.
    } finally {
      clearInterval(watchdog);
      abort.abort();
      channel.close();
    }
  }

  /**
   * Every event of the prefix from `fromRevision` through `toRevision`, read by one watch on
   * one healthy member: the reference a resumed watcher's events are compared with.
   */
  static async replay(
    address: string,
    prefix: string,
    fromRevision: bigint,
    toRevision: bigint,
    timeoutMs = 10_000,
  ): Promise<SeenEvent[]> {
    const watcher = new ResumingWatcher([address], prefix, fromRevision, timeoutMs);
    try {
      await watcher.waitForRevision(toRevision, timeoutMs);
    } finally {
      await watcher.stop();
    }
    if (watcher.reconnects > 0 || watcher.errors.length > 0) {
      throw new Error(`the reference watch on ${address} broke: ${watcher.errors.join('; ')}`);
    }
    return watcher.events.filter(e => e.revision <= toRevision);
  }
}
