import {readFileSync} from 'node:fs';

const usage = `Usage: synod [flags]

Starts a Synod member that serves the etcd v3 API.

  --help       show this help
  --version    print the version and exit
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs the `synod` command line; returns the process exit code. */
export function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`synod ${version()}\n`);
    return 0;
  }
  process.stderr.write(
    'synod: serving the etcd v3 API is not available in this build yet; see the status table in README.md\n',
  );
  return 2;
}
