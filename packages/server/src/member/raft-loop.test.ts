import {EntryType} from '@synod/proto/raftpb';
import {MemoryStorage, RawNode, SeededRng} from '@synod/raft';
import {CrashFileSystem, Wal} from '@synod/storage';
import {waitFor} from '@synod/testing';
import {describe, expect, it} from 'vitest';

import {nodeClock} from '../util/node-clock.js';
import {RaftLoop} from './raft-loop.js';

/**
 * A single-voter member whose WAL fsync the test holds open: `release()` lets the oldest
 * held fsync finish. Persist is the member's (WAL write, awaited fsync, raft storage).
 */
function singleMember() {
  const fs = new CrashFileSystem();
  const wal = Wal.create('/wal', Buffer.from('m'), {fs});
  const storage = new MemoryStorage();
  const node = new RawNode({
    id: 1,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    rng: new SeededRng(7),
  });
  node.bootstrap([{id: 1}]);
  const held: (() => void)[] = [];
  const persisted: number[][] = [];
  const applied: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const loop = new RaftLoop(
    node,
    {
      async persist(rd) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        persisted.push(rd.entries.map(e => e.index));
        const written = wal.saveAsync(rd.hardState, rd.entries, rd.mustSync);
        await new Promise<void>(resolve => held.push(resolve));
        await written;
        if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
        storage.append(rd.entries);
        inFlight--;
      },
      send() {
        // A single voter has no peers.
      },
      apply(_snapshot, entries) {
        for (const e of entries) if (e.type === EntryType.EntryNormal) applied.push(e.index);
      },
      onSoftState() {
        // Not needed here.
      },
      onFatal(error) {
        throw error;
      },
    },
    10,
    nodeClock,
  );
  const release = () => {
    held.shift()?.();
  };
  return {fs, wal, loop, node, held, persisted, applied, release, maxInFlight: () => maxInFlight};
}

describe('RaftLoop with an asynchronous WAL fsync', () => {
  it('takes no second Ready while the first fsync runs, then writes everything that arrived meanwhile as one batch', async () => {
    const m = singleMember();
    m.node.campaign();
    m.loop.start();
    try {
      // Let the election settle: every held fsync is released as it comes.
      await waitFor(() => {
        m.release();
        return m.loop.isLeader && m.held.length === 0 && !m.node.hasReady();
      });
      m.persisted.length = 0;

      m.loop.propose(Buffer.from('a'));
      await waitFor(() => m.held.length === 1);
      // The fsync of the first batch is held; these arrive during it.
      for (const v of ['b', 'c', 'd']) m.loop.propose(Buffer.from(v));
      await new Promise(resolve => setTimeout(resolve, 50));
      expect(m.persisted).toHaveLength(1);
      expect(m.held).toHaveLength(1);

      m.release();
      await waitFor(() => m.held.length === 1 && m.persisted.length === 2);
      const [first, second] = m.persisted as [number[], number[]];
      expect(first).toHaveLength(1);
      // One write for all three proposals that came in during the first fsync.
      expect(second).toHaveLength(3);
      expect(second[0]).toBe((first[0] ?? 0) + 1);
      expect(m.maxInFlight()).toBe(1);

      m.release();
      await waitFor(() => {
        m.release();
        return m.applied.length >= 4;
      });
      expect(m.applied.slice(-4)).toEqual([...first, ...second]);
    } finally {
      m.loop.stop();
      for (const resolve of m.held) resolve();
      m.wal.close();
    }
  });
});
