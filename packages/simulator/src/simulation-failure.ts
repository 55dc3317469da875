import type {SimResult} from './run-simulation.js';

/**
 * SimulationFailure carries a failed run's result; its message names the seed, the command
 * that replays it, the options and the tail of the trace.
 */
export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
  constructor(readonly result: SimResult) {
    super(describeFailure(result));
  }
}

/** describeFailure formats a failed run for a human: what broke, and how to replay it. */
export function describeFailure(result: SimResult, traceLines = 40): string {
  const f = result.failure;
  if (f === undefined) return `seed ${result.seed}: passed`;
  const tail = result.trace.slice(-traceLines);
  return [
    `SEED=${result.seed}: ${f.invariant} violated in the ${f.phase} phase at ${f.atMs}ms`,
    `  ${f.detail}`,
    `  replay: node --conditions=@synod/source --import tsx tools/sim.ts --raft-only --seed ${result.seed}` +
      " (with the same option flags), or exactly: tools/sim.ts --raft-only --options '<options below>'",
    `  options: ${JSON.stringify(result.options)}`,
    `  last ${tail.length} trace lines:`,
    ...tail.map(l => `    ${l}`),
  ].join('\n');
}
