/**
 * `@synod/bench`: the load generator behind the `synod-bench` command, for tools that run
 * workloads programmatically (such as the etcd/Synod comparison).
 */
export {main, runCheckPerf} from './main.js';
export type {CheckPerfOutcome} from './main.js';
export {parseOptions, parseDurationMs, usage, UsageError, workloads} from './options.js';
export type {BenchOptions, Workload} from './options.js';
export {prepareRun, runBench} from './run.js';
export type {PreparedRun} from './run.js';
export type {RunResult} from './result.js';
export {formatTable, summarise} from './report.js';
export type {LatencySummary, Summary} from './report.js';
export {Histogram} from './histogram.js';
export type {HistogramData} from './histogram.js';
export {checkPerfLoad, checkPerfLoads, judgeCheckPerf} from './check-perf.js';
export type {CheckPerfLoad, CheckPerfMeasurement, CheckPerfVerdict} from './check-perf.js';
export {ZkReplyError, ZkSession} from './zk-session.js';
