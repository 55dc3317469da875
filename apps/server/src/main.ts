import {readFileSync} from 'node:fs';

import {ConfigError, resolveMemberConfig} from '@synod/server';

import {parseCommandLine, UsageError, usage} from './flags.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs the `synod` command line; returns the process exit code. */
export function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
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
    resolveMemberConfig(command.config);
    process.stderr.write(
      'synod: the configuration is valid, but serving the etcd v3 API is not in this build yet; see the status table in README.md\n',
    );
    return 2;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`synod: ${err.message}\nRun synod --help for the flags.\n`);
      return 2;
    }
    throw err;
  }
}
