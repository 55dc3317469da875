import {parseArgs} from 'node:util';

import {SkipEntryError, skipEntry} from '@synod/server';

import {UsageError} from './flags.js';

export function skipEntryUsage(): string {
  return [
    'Usage: synod skip-entry --data-dir <dir> --index <n>',
    '',
    'Marks raft entry <n> of a stopped member so that the member applies nothing of it,',
    'for a member that stopped with "cannot apply raft entry <n>". The entry stays in the',
    'log and counts as applied; its request has no effect. Every member stops at the same',
    'entry: run this on every member before restarting any (see docs/operations.md).',
    '',
    `  ${'--data-dir <value>'.padEnd(24)} the stopped member's data directory`,
    `  ${'--index <value>'.padEnd(24)} the raft index the member named when it stopped`,
    '',
  ].join('\n');
}

/**
 * Runs `synod skip-entry ...`; resolves with the exit code: 0 done, 1 the entry cannot be
 * skipped here (`Error: ...`), 2 a command line that cannot be understood.
 */
export async function runSkipEntryCommand(argv: readonly string[]): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(skipEntryUsage());
      return 0;
    }
    const {dataDir, index} = parse(argv);
    const result = await skipEntry(dataDir, index);
    process.stdout.write(
      result.added
        ? `entry ${index} (${result.request}) of ${dataDir} will not be applied\n`
        : `entry ${index} (${result.request}) of ${dataDir} was already marked skipped\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`synod: ${err.message}\nRun synod skip-entry --help for the flags.\n`);
      return 2;
    }
    if (err instanceof SkipEntryError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function parse(argv: readonly string[]): {dataDir: string; index: number} {
  let values: {'data-dir'?: string; index?: string};
  try {
    ({values} = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {'data-dir': {type: 'string'}, index: {type: 'string'}},
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const dataDir = values['data-dir'];
  const rawIndex = values.index;
  if (dataDir === undefined || dataDir === '') throw new UsageError('--data-dir is required');
  if (rawIndex === undefined) throw new UsageError('--index is required');
  if (!/^[1-9][0-9]*$/.test(rawIndex)) {
    throw new UsageError(`--index must be a positive integer, not ${JSON.stringify(rawIndex)}`);
  }
  return {dataDir, index: Number(rawIndex)};
}
