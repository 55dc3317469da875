import type {Operation} from './closed-loop.js';
import type {BenchOptions} from './options.js';
import type {WorkerShare} from './share.js';
import {ZK_NODE_EXISTS, ZkReplyError, ZkSession} from './zk-session.js';

/** `--conns` ZooKeeper sessions spread round-robin over the endpoints; client i uses i % n. */
export class ZkSessions {
  private constructor(readonly all: readonly ZkSession[]) {}

  static async open(options: BenchOptions): Promise<ZkSessions> {
    const opened = await Promise.allSettled(
      Array.from({length: options.conns}, (_, i) =>
        ZkSession.connect(options.endpoints[i % options.endpoints.length]!),
      ),
    );
    const sessions = opened.flatMap(o => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find(o => o.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(sessions.map(s => s.close()));
      throw failed.reason;
    }
    return new ZkSessions(sessions);
  }

  of(client: number): ZkSession {
    return this.all[client % this.all.length]!;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map(s => s.close()));
  }
}

/**
 * The request loop body of the ZooKeeper workloads, after creating what they need:
 * `zk-create` creates new nodes under `--prefix`; `zk-get` and `zk-set` read and write
 * `--key-space` nodes made beforehand; `zk-delete` deletes nodes made beforehand (one per
 * operation: `--total`, or `--key-space` when no total is given) and stops when none is left.
 * Node paths are `<prefix><worker>-<n>`, so workers never collide.
 */
export async function prepareZkOperation(
  options: BenchOptions,
  share: WorkerShare,
  sessions: ZkSessions,
): Promise<Operation> {
  const parent = options.prefix.replace(/\/+$/, '') || '/synod-bench';
  const base = `${parent}/${share.index}-`;
  const value = Buffer.alloc(options.valSize, 'v');
  const first = sessions.of(0);
  await first.create(parent, Buffer.alloc(0)).catch(ignoreNodeExists);
  const existing = options.workload === 'zk-delete' ? (options.total ?? options.keySpace) : 0;
  const needed = options.workload === 'zk-create' ? 0 : Math.max(existing, options.keySpace);
  // Made in pipelined batches over every session before the clock starts.
  for (let i = 0; i < needed; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(needed, i + 1000); j++) {
      batch.push(sessions.of(j).create(`${base}${j}`, value).catch(ignoreNodeExists));
    }
    await Promise.all(batch);
  }
  let next = 0;
  const random = (): string => `${base}${Math.floor(Math.random() * options.keySpace)}`;
  switch (options.workload) {
    case 'zk-create':
      return async client => {
        await sessions.of(client).create(`${base}c${next++}`, value);
        return 'create';
      };
    case 'zk-get':
      return async client => {
        await sessions.of(client).getData(random());
        return 'getData';
      };
    case 'zk-set':
      return async client => {
        await sessions.of(client).setData(random(), value);
        return 'setData';
      };
    case 'zk-delete':
      return async client => {
        if (next >= needed) throw new Error('zk-delete: no node left to delete');
        await sessions.of(client).delete(`${base}${next++}`);
        return 'delete';
      };
    default:
      throw new Error(`${options.workload} is not a ZooKeeper workload`);
  }
}

function ignoreNodeExists(error: unknown): void {
  if (!(error instanceof ZkReplyError && error.code === ZK_NODE_EXISTS)) throw error;
}
