import {execFile} from 'node:child_process';

import {synodEntry} from './etcd-process.js';

/** What one run of a `synod` subcommand printed, and how it exited. */
export interface SynodCommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the `synod` command line from the TypeScript sources (as `startSynod` runs members)
 * with `args`, for the operator subcommands: `snapshot ...`, `skip-entry ...`.
 */
export async function runSynodCommand(
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<SynodCommandResult> {
  return new Promise(resolve => {
    execFile(
      process.execPath,
      ['--conditions=@synod/source', '--import', 'tsx', synodEntry, ...args],
      {timeout: timeoutMs, encoding: 'utf8'},
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({code, stdout, stderr});
      },
    );
  });
}
