import {readFileSync} from 'node:fs';

import {ConfigError, resolveMemberConfig, startMember} from '@synod/server';
import type {Member} from '@synod/server';
import {pino} from 'pino';

import {parseCommandLine, UsageError, usage} from './flags.js';
import {runSkipEntryCommand} from './skip-entry-command.js';
import {runSnapshotCommand} from './snapshot-command.js';
import {runZkCommand} from './zk-command.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Runs the `synod` command line. Resolves with the process exit code once the
 * member has stopped (after SIGTERM or SIGINT), or at once for `--help`,
 * `--version` and bad flags.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (argv[0] === 'snapshot') return runSnapshotCommand(argv.slice(1));
  if (argv[0] === 'skip-entry') return runSkipEntryCommand(argv.slice(1));
  if (argv[0] === 'zk') return runZkCommand(argv.slice(1));
  let member: Member;
  try {
    const command = parseCommandLine(argv, env);
    if (command.kind === 'help') {
      process.stdout.write(usage());
      return 0;
    }
    if (command.kind === 'version') {
      process.stdout.write(`synod ${version()}\n`);
      return 0;
    }
    for (const warning of command.warnings ?? []) process.stderr.write(`synod: ${warning}\n`);
    const config = resolveMemberConfig(command.config);
    const logger = pino({level: config.logLevel, base: {member: config.name}});
    member = await startMember(config, {logger});
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`synod: ${err.message}\nRun synod --help for the flags.\n`);
      return 2;
    }
    process.stderr.write(`synod: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return new Promise<number>(resolve => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`synod: ${signal} received, stopping\n`);
      member.close().then(
        () => {
          resolve(0);
        },
        (error: unknown) => {
          process.stderr.write(`synod: error while stopping: ${String(error)}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // A member that stops on its own (a failed fsync, its removal from the
    // cluster) ends the process, as etcd does, so a supervisor sees it.
    void member.failed.then(error => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(
        `synod: member stopped: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      resolve(1);
    });
  });
}
