import type {Entry, HardState} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {CrashFileSystem} from '../fs/crash-file-system.js';
import {randomInt, seededRandom} from '../testing/seeded-random.js';
import type {SnapshotMarker, WalReplay} from './wal.js';
import {Wal} from './wal.js';

/** What the log must contain, given the batches whose save() returned. */
interface Model {
  entries: Entry[];
  hardState: HardState | undefined;
  snapshot: SnapshotMarker;
}

type Op =
  | {kind: 'save'; hardState: HardState | undefined; entries: Entry[]}
  | {kind: 'snapshot'; marker: SnapshotMarker};

function applyOp(m: Model, op: Op): Model {
  if (op.kind === 'snapshot') {
    return {...m, snapshot: op.marker, entries: m.entries.filter(e => e.index > op.marker.index)};
  }
  let entries = m.entries;
  const first = op.entries[0];
  if (first !== undefined) entries = [...entries.filter(e => e.index < first.index), ...op.entries];
  return {entries, hardState: op.hardState ?? m.hardState, snapshot: m.snapshot};
}

function nextOp(random: () => number, m: Model, term: number): Op {
  const last = m.entries[m.entries.length - 1]?.index ?? m.snapshot.index;
  if (random() < 0.1 && last > m.snapshot.index) {
    const index = randomInt(random, m.snapshot.index + 1, last);
    return {kind: 'snapshot', marker: {index, term}};
  }
  // Raft appends after the last entry or rewrites an uncommitted suffix.
  const from = Math.max(m.snapshot.index + 1, last + 1 - randomInt(random, 0, 3));
  const count = randomInt(random, 0, 12);
  const entries = Array.from({length: count}, (_, i) => {
    const data = Buffer.alloc(randomInt(random, 0, 700));
    data.fill(from + i);
    return {index: from + i, term, type: EntryType.EntryNormal, data};
  });
  const hardState = random() < 0.7 ? {term, vote: 1, commit: Math.max(0, from - 1)} : undefined;
  return {kind: 'save', hardState, entries};
}

const entryKey = (e: Entry): string =>
  `${e.index}/${e.term}/${e.type}/${Buffer.from(e.data).toString('hex')}`;
const hardStateKey = (h: HardState | undefined): string =>
  h === undefined ? '-' : `${h.term}/${h.vote}/${h.commit}`;

function matches(replay: WalReplay, m: Model): boolean {
  return (
    replay.entries.map(entryKey).join() === m.entries.map(entryKey).join() &&
    hardStateKey(replay.hardState) === hardStateKey(m.hardState) &&
    replay.snapshot.index === m.snapshot.index &&
    replay.snapshot.term === m.snapshot.term
  );
}

/**
 * Saves random batches until one fails (the injected fsync failure) or, with `saveAsync`, until
 * a random batch is left with its fsync in flight for the power cut to hit; returns the state.
 */
async function driveUntilCrash(
  wal: Wal,
  random: () => number,
  start: Model,
  term: number,
  mode: 'sync' | 'async',
): Promise<{acked: Model; inFlight: Model; unsettled?: Promise<void>}> {
  let acked = start;
  for (;;) {
    const op = nextOp(random, acked, term);
    const after = applyOp(acked, op);
    try {
      if (op.kind === 'save' && mode === 'async') {
        const saved = wal.saveAsync(op.hardState, op.entries);
        if (random() < 0.1) return {acked, inFlight: after, unsettled: saved};
        await saved;
      } else if (op.kind === 'save') wal.save(op.hardState, op.entries);
      else {
        wal.saveSnapshotMarker(op.marker);
        if (random() < 0.5) wal.releaseTo(op.marker.index);
      }
    } catch {
      return {acked, inFlight: after};
    }
    acked = after;
  }
}

/**
 * Runs random batches against a WAL on a CrashFileSystem, making a random fsync fail (the
 * crash point) or cutting power while a `saveAsync` fsync is in flight, then reopens. After
 * every cut the log must open and hold exactly the acknowledged batches, or those plus the one
 * in flight, never a part of it.
 */
async function runScenario(seed: number, mode: 'sync' | 'async'): Promise<void> {
  const random = seededRandom(seed);
  const fsys = new CrashFileSystem();
  const opts = {fs: fsys, segmentBytes: 4096};
  let wal = Wal.create('/data/wal', Buffer.from('m'), opts);
  let model: Model = {entries: [], hardState: undefined, snapshot: {index: 0, term: 0}};
  let term = 1;
  for (let cycle = 0; cycle < 4; cycle++) {
    fsys.syncsUntilFailure = randomInt(random, 0, 25);
    const run = await driveUntilCrash(wal, random, model, term, mode);
    model = run.acked;
    fsys.syncsUntilFailure = undefined;
    const tear = (['none', 'sector', 'byte'] as const)[randomInt(random, 0, 2)] ?? 'none';
    const note = fsys.crash({random, tear});
    // A save the cut interrupted fails; one that resolves anyway (nothing to sync) must hold.
    const durable = await run.unsettled?.then(
      () => true,
      () => false,
    );
    const opened = Wal.open('/data/wal', opts);
    const {inFlight} = run;
    const ok =
      matches(opened.replay, inFlight) || (durable !== true && matches(opened.replay, model));
    if (!ok) {
      throw new Error(
        `seed ${seed} (${mode}) cycle ${cycle}: replay differs from acknowledged state (${note}); ` +
          `got ${opened.replay.entries.length} entries to ${opened.replay.entries.at(-1)?.index}, ` +
          `expected ${model.entries.length} to ${model.entries.at(-1)?.index}; ` +
          `hard state ${JSON.stringify(opened.replay.hardState)} vs ${JSON.stringify(model.hardState)}; ` +
          `snapshot ${JSON.stringify(opened.replay.snapshot)} vs ${JSON.stringify(model.snapshot)}`,
      );
    }
    if (matches(opened.replay, inFlight)) model = inFlight;
    wal = opened.wal;
    term++;
  }
  wal.close();
}

describe('Wal under power cuts (CrashFileSystem)', () => {
  const runs = Number(process.env['SYNOD_WAL_CRASH_RUNS'] ?? 150);
  it(`keeps every acknowledged batch and never a partial one (${runs} seeds)`, async () => {
    const base = Number(process.env['SYNOD_SEED'] ?? 1);
    for (let s = base; s < base + runs; s++) await runScenario(s, 'sync');
  });

  it(`does the same with saveAsync, cut also while an fsync is in flight (${runs} seeds)`, async () => {
    const base = Number(process.env['SYNOD_SEED'] ?? 1);
    for (let s = base; s < base + runs; s++) await runScenario(s, 'async');
  });

  it('survives a power cut right after create (the segment rename was made durable)', () => {
    const fsys = new CrashFileSystem();
    Wal.create('/w', Buffer.from('m'), {fs: fsys, segmentBytes: 65536});
    fsys.crash({random: () => 0, tear: 'none'});
    const {replay} = Wal.open('/w', {fs: fsys});
    expect(replay.entries).toEqual([]);
    expect(replay.metadata).toEqual(Buffer.from('m'));
  });
});
