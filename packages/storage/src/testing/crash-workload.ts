import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {KvExecutor} from '../mvcc/kv-executor.js';
import type {KvStore} from '../mvcc/kv-store.js';
import {randomInt} from './seeded-random.js';

/**
 * The workload of the kill -9 test, shared by the child that is killed and the parent that
 * checks it: raft-like entries whose data is a put or delete command, and the apply function
 * that turns them into store changes.
 * @internal
 */
export interface Command {
  readonly op: 'put' | 'del';
  readonly key: string;
  readonly value?: string;
}

/** A batch of `count` entries starting at `firstIndex`. @internal */
export function makeBatch(random: () => number, firstIndex: number, count: number): Entry[] {
  return Array.from({length: count}, (_, i) => {
    const cmd: Command =
      random() < 0.85
        ? {
            op: 'put',
            key: `k${randomInt(random, 0, 199)}`,
            value: `v${firstIndex + i}`.padEnd(randomInt(random, 2, 300), '.'),
          }
        : {op: 'del', key: `k${randomInt(random, 0, 199)}`};
    return {
      index: firstIndex + i,
      term: 1,
      type: EntryType.EntryNormal,
      data: Buffer.from(JSON.stringify(cmd)),
    };
  });
}

/**
 * Applies entries above the store's consistent index, recording each index with its changes
 * in the same synchronous run (see KvStore), then commits. @internal
 */
export async function applyEntries(store: KvStore, entries: readonly Entry[]): Promise<void> {
  const exec = new KvExecutor(store);
  for (const e of entries) {
    if (e.index <= store.consistentIndex()) continue;
    const cmd = JSON.parse(Buffer.from(e.data).toString()) as Command;
    if (cmd.op === 'put')
      exec.put({key: Buffer.from(cmd.key), value: Buffer.from(cmd.value ?? '')});
    else exec.deleteRange({key: Buffer.from(cmd.key)});
    store.setConsistentIndex(e.index);
  }
  await store.commit();
}
