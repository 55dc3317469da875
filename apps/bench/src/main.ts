const usage = `Usage: synod-bench <workload> [flags]

A load generator for any etcd v3 endpoint. The workloads land with the
benchmark issue.
`;

/** Runs the `synod-bench` command line; returns the process exit code. */
export function main(argv: readonly string[]): number {
  if (argv.length === 0 || argv.includes('--help')) {
    process.stdout.write(usage);
    return argv.length === 0 ? 2 : 0;
  }
  process.stderr.write(`synod-bench: unknown workload ${argv[0] ?? ''}\n`);
  return 2;
}
