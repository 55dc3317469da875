import {join} from 'node:path';

import {KVDefinition} from '@synod/proto';
import {EntryType} from '@synod/proto/raftpb';
import {Wal} from '@synod/storage';
import {runSynodCommand, startSynod} from '@synod/testing';
import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/**
 * A committed entry that no version of the state machine can apply (here: bytes that are
 * not a request, as a damaged or foreign log could hold). The member must stop with one
 * line naming the entry, change nothing, stop the same way on every restart, and start
 * again once an operator skips the entry.
 */
describe('a committed entry the member cannot apply', () => {
  let cluster: EtcdCluster;
  let member: EtcdMember;

  beforeAll(async () => {
    cluster = await startSynod();
    const first = cluster.members[0];
    if (first === undefined) throw new Error('no member');
    member = first;
  });

  afterAll(async () => {
    await cluster.stop();
  });

  const kvOf = () => {
    const channel = createChannel(member.clientAddress);
    return {
      kv: createClient(KVDefinition, channel),
      close: () => {
        channel.close();
      },
    };
  };

  /** Appends a committed entry holding `data` to the stopped member's WAL; returns its index. */
  function appendCommitted(data: Uint8Array): number {
    const {wal, replay} = Wal.open(join(member.dataDir, 'member', 'wal'));
    try {
      const last = replay.entries[replay.entries.length - 1];
      const hs = replay.hardState;
      if (last === undefined || hs === undefined) throw new Error('empty WAL');
      const index = last.index + 1;
      wal.save({...hs, commit: index}, [{term: hs.term, index, type: EntryType.EntryNormal, data}]);
      return index;
    } finally {
      wal.close();
    }
  }

  it('stops with one line naming the entry, every time, until the entry is skipped', async () => {
    const {kv, close} = kvOf();
    await kv.put({key: Buffer.from('before'), value: Buffer.from('kept')});
    close();
    await member.kill('SIGTERM');
    const index = appendCommitted(Buffer.from([0xff, 0xff, 0xff, 0xff]));

    for (let attempt = 0; attempt < 2; attempt++) {
      const start = member.restart();
      await expect(start).rejects.toThrow(
        `cannot apply raft entry ${index} (undecodable request): `,
      );
      const output = member.output;
      expect(output).toContain(`synod skip-entry --data-dir <dir> --index ${index}`);
      // One line for the operator, no library stack trace.
      expect(output).not.toMatch(/\n\s+at /);
      expect(member.running).toBe(false);
    }

    const skipped = await runSynodCommand([
      'skip-entry',
      '--data-dir',
      member.dataDir,
      '--index',
      String(index),
    ]);
    expect(skipped.stderr).toBe('');
    expect(skipped.stdout).toMatch(
      new RegExp(`^entry ${index} \\(undecodable request: .*\\) of .* will not be applied\\n$`),
    );
    expect(skipped.code).toBe(0);

    await member.restart();
    const after = kvOf();
    try {
      const got = await after.kv.range({key: Buffer.from('before')});
      expect(got.kvs[0]?.value.toString()).toBe('kept');
      await after.kv.put({key: Buffer.from('after'), value: Buffer.from('written')});
      expect((await after.kv.range({key: Buffer.from('after')})).count).toBe(1n);
    } finally {
      after.close();
    }
    await member.kill('SIGTERM');
    const again = await runSynodCommand([
      'skip-entry',
      '--data-dir',
      member.dataDir,
      '--index',
      String(index),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^Error: entry ${index} is already applied in `));
    await member.restart();
  }, 60_000);

  it('refuses to skip what is not a pending entry, naming the reason', async () => {
    const missing = await runSynodCommand([
      'skip-entry',
      '--data-dir',
      member.dataDir,
      '--index',
      '999999',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^Error: entry 999999 is not in the WAL of .* \(it holds entries \d+ to \d+\)\n$/,
    );
    const usage = await runSynodCommand(['skip-entry', '--index', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--data-dir is required');
  });
});
