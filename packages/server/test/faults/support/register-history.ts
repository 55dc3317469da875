import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {checkLinearizability, kvModel} from '@synod/simulator';
import type {KvOperation, LinearizabilityResult, KvInput, KvOutput} from '@synod/simulator';

/** Options of {@link RegisterHistory.start}. */
export interface RegisterHistoryOptions {
  /** Client URLs of the members. */
  readonly endpoints: readonly string[];
  /** Every key of the history lives under this prefix. */
  readonly prefix: string;
  /** Number of registers (keys) the clients share; few keys mean real contention. */
  readonly keys: number;
  /** Clients that put and get through failover across all members. */
  readonly roamingClients: number;
  /** Deadline of one call, after which a put's outcome is unknown. */
  readonly callTimeoutMs: number;
}

/**
 * Clients reading and writing a few shared registers while faults happen, recording every
 * call with its invocation and response time for the linearizability checker.
 *
 * Two kinds of client run: roaming clients (one per `roamingClients`) that put and get
 * through `@synod/client`'s failover, and one pinned reader per member that gets from that
 * member only, without retries, so a member that serves a stale linearizable read (an old
 * leader that has not noticed it was deposed, say) shows up in the history.
 *
 * Every put writes a value no other put writes. A put that fails has an unknown outcome:
 * it may have been applied at any time after its call, so it is recorded with no output and
 * an infinite return time. A get that fails is recorded the same way and dropped by the
 * model, as it has no effect.
 */
export class RegisterHistory {
  private readonly operations: KvOperation[] = [];
  private readonly clients: Etcd[] = [];
  private readonly loops: Promise<void>[] = [];
  private running = true;

  private constructor(private readonly options: RegisterHistoryOptions) {}

  static start(options: RegisterHistoryOptions): RegisterHistory {
    const history = new RegisterHistory(options);
    const {endpoints} = options;
    for (let c = 0; c < options.roamingClients; c++) {
      // Start each roaming client on a different member so the load spreads.
      const rotated = endpoints.map((_, i) => endpoints[(c + i) % endpoints.length] ?? '');
      history.runClient(c, rotated, 'roaming');
    }
    endpoints.forEach((endpoint, m) => {
      history.runClient(options.roamingClients + m, [endpoint], 'pinned-reader');
    });
    return history;
  }

  /** The recorded operations so far. */
  get history(): readonly KvOperation[] {
    return this.operations;
  }

  /** Number of puts that a member acknowledged. */
  get acknowledgedPuts(): number {
    return this.operations.filter(op => op.input.kind === 'put' && op.output !== undefined).length;
  }

  /**
   * Successful gets that the pinned reader of member `memberIndex` called at or after
   * `sinceMs`.
   */
  pinnedReadsSince(memberIndex: number, sinceMs: number): number {
    const clientId = this.options.roamingClients + memberIndex;
    return this.operations.filter(
      op =>
        op.clientId === clientId &&
        op.input.kind === 'get' &&
        op.output !== undefined &&
        op.callMs >= sinceMs,
    ).length;
  }

  /** Stops every client after its call in flight ends. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients) client.close();
  }

  /** Runs the Wing–Gong–Lowe checker on the history, one partition per key. */
  check(): LinearizabilityResult<KvInput, KvOutput> {
    return checkLinearizability(kvModel, this.operations, {maxSteps: 20_000_000});
  }

  /** A readable account of a failed check: the operations of the key without a linearization. */
  describe(result: LinearizabilityResult<KvInput, KvOutput>): string {
    const describe = (op: KvOperation): string =>
      kvModel.describeOperation?.(op) ?? JSON.stringify(op.input);
    const lines = (result.failedPartition ?? []).map(op => describe(op));
    const prefix = (result.longestLinearizedPrefix ?? []).map(op => describe(op));
    return [
      `verdict ${result.verdict} after ${result.steps} steps; history of the key:`,
      ...lines,
      'longest linearizable prefix:',
      ...prefix,
    ].join('\n');
  }

  private runClient(
    clientId: number,
    endpoints: string[],
    role: 'roaming' | 'pinned-reader',
  ): void {
    const client = createClient({
      endpoints,
      defaultTimeoutMs: this.options.callTimeoutMs,
      dialTimeoutMs: 500,
      retry: role === 'roaming' ? {maxAttempts: 3, maxBackoffMs: 200} : {maxAttempts: 1},
    });
    this.clients.push(client);
    this.loops.push(
      (async () => {
        for (let i = 0; this.running; i++) {
          const key = `${this.options.prefix}/${Math.floor(Math.random() * this.options.keys)}`;
          const write = role === 'roaming' && Math.random() < 0.5;
          const ok = write
            ? await this.put(client, clientId, key, `c${clientId}-${i}`)
            : await this.get(client, clientId, key);
          await new Promise(resolve => setTimeout(resolve, ok ? 50 : 100));
        }
      })(),
    );
  }

  /** Times are `performance.now()` milliseconds, comparable with the test's own. */
  private now(): number {
    return performance.now();
  }

  private async put(client: Etcd, clientId: number, key: string, value: string): Promise<boolean> {
    const callMs = this.now();
    try {
      await client.kv.put(key, value);
      this.record({clientId, input: {kind: 'put', key, value}, output: {kind: 'put'}, callMs});
      return true;
    } catch {
      this.operations.push({
        clientId,
        input: {kind: 'put', key, value},
        output: undefined,
        callMs,
        returnMs: Infinity,
      });
      return false;
    }
  }

  private async get(client: Etcd, clientId: number, key: string): Promise<boolean> {
    const callMs = this.now();
    try {
      const value = await client.kv.getString(key);
      this.record({clientId, input: {kind: 'get', key}, output: {kind: 'get', value}, callMs});
      return true;
    } catch {
      return false;
    }
  }

  private record(op: Omit<KvOperation, 'returnMs'>): void {
    this.operations.push({...op, returnMs: this.now()});
  }
}
