import {Connections} from './connections.js';
import {checkPerfLoad, judgeCheckPerf} from './check-perf.js';
import type {CheckPerfVerdict} from './check-perf.js';
import {prefixEnd} from './key-source.js';
import {parseOptions, usage, UsageError} from './options.js';
import type {BenchOptions} from './options.js';
import {formatTable, summarise} from './report.js';
import type {Summary} from './report.js';
import {runBench} from './run.js';

/** What a check-perf run found. */
export interface CheckPerfOutcome {
  readonly summary: Summary;
  readonly verdict: CheckPerfVerdict;
}

/**
 * `etcdctl check perf` against `options.endpoints`: refuses to run on a non-empty prefix,
 * runs the load model's clients (one connection each) at its rate, deletes the prefix, then
 * judges by etcdctl's rules.
 */
export async function runCheckPerf(options: BenchOptions): Promise<CheckPerfOutcome> {
  const load = checkPerfLoad(options.load);
  if (load === undefined) throw new UsageError(`unknown load option ${options.load}`);
  const run: BenchOptions = {
    ...options,
    clients: load.clients,
    conns: load.clients,
    rate: load.limit,
    total: undefined,
  };
  const admin = new Connections(options.endpoints, 1, options.tls);
  try {
    const prefix = Buffer.from(options.prefix);
    const existing = await admin
      .of(0)
      .kv.range({key: prefix, rangeEnd: prefixEnd(prefix), limit: 1n, keysOnly: true});
    if (existing.kvs.length > 0) {
      throw new UsageError(
        `prefix "${options.prefix}" has keys. Delete with etcdctl del --prefix ${options.prefix} first`,
      );
    }
    const result = await runBench(run);
    await admin.of(0).kv.deleteRange({key: prefix, rangeEnd: prefixEnd(prefix)});
    const summary = summarise(run, result);
    const put = summary.latencyMs.put;
    const verdict = judgeCheckPerf(load, {
      writesPerSecond: summary.qps,
      slowestMs: put?.max ?? 0,
      stddevMs: put?.stddev ?? 0,
      errors: summary.errors,
    });
    return {summary, verdict};
  } finally {
    admin.close();
  }
}

/** Runs the `synod-bench` command line; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return argv.length === 0 ? 2 : 0;
  }
  try {
    const options = parseOptions(argv);
    if (options.workload === 'check-perf') {
      const {summary, verdict} = await runCheckPerf(options);
      if (options.json) {
        process.stdout.write(JSON.stringify({...summary, checkPerf: verdict}, null, 2) + '\n');
      } else {
        process.stdout.write(formatTable(summary) + verdict.lines.join('\n') + '\n');
      }
      return verdict.pass ? 0 : 1;
    }
    const summary = summarise(options, await runBench(options));
    process.stdout.write(
      options.json ? JSON.stringify(summary, null, 2) + '\n' : formatTable(summary),
    );
    return summary.violations.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`synod-bench: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(
      `synod-bench: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}
