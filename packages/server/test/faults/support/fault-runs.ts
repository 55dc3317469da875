/**
 * How many times each fault scenario runs: `SYNOD_FAULT_RUNS=N` repeats them to shake out
 * rare interleavings; once by default.
 */
export function faultRuns(): number[] {
  const raw = process.env.SYNOD_FAULT_RUNS ?? '1';
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`SYNOD_FAULT_RUNS must be a positive integer, not "${raw}"`);
  }
  return Array.from({length: runs}, (_, i) => i + 1);
}

/** A test name with its run number when scenarios repeat. */
export function runName(name: string, run: number, runs: number): string {
  return runs === 1 ? name : `${name} (run ${run}/${runs})`;
}
