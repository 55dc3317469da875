import {bench, describe} from 'vitest';
import {runThroughputBench} from './throughput.js';

/**
 * Committed entries per second of a 3-voter in-memory cluster driven through ready()/advance(),
 * 256-byte entries, proposals batched per turn. Run with `npx vitest bench --run
 * packages/raft/bench`; the entries/s figure is printed per batch size.
 */
describe('raft throughput, 3 voters, 256-byte entries', () => {
  for (const [batch, encodeMessages] of [
    [64, false],
    [128, false],
    [256, false],
    [128, true],
  ] as const) {
    const name = `batch ${batch}${encodeMessages ? ', messages protobuf-encoded' : ''}`;
    bench(
      name,
      () => {
        const r = runThroughputBench({batch, encodeMessages, totalEntries: 200_000});
        console.log(
          `${name}: ${Math.round(r.entriesPerSecond).toLocaleString('en-US')} entries/s ` +
            `(${r.megabytesPerSecond.toFixed(1)} MB/s, ${r.committedEntries} entries in ${r.elapsedMs.toFixed(0)} ms)`,
        );
      },
      {iterations: 3, warmupIterations: 1, time: 0},
    );
  }
});
