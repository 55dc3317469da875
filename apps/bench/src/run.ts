import {fork} from 'node:child_process';
import {fileURLToPath} from 'node:url';

import {runClosedLoop} from './closed-loop.js';
import type {Operation} from './closed-loop.js';
import {Connections} from './connections.js';
import {operationFor} from './operations.js';
import type {BenchOptions} from './options.js';
import {mergeResults, Recorder} from './result.js';
import type {RunResult} from './result.js';
import {shareOf} from './share.js';
import type {WorkerShare} from './share.js';
import {WatchWorkload} from './watch.js';
import {prepareZkOperation, ZkSessions} from './zk-workload.js';

/** A workload set up (connections open, watchers created) and ready to start. */
export interface PreparedRun {
  start(): Promise<RunResult>;
}

/** Sets up this process's share of the load. */
export async function prepareRun(options: BenchOptions, share: WorkerShare): Promise<PreparedRun> {
  const mine = shareOf(options, share);
  if (mine.workload.startsWith('zk-')) return prepareZkRun(mine, share);
  const cpuBefore = process.cpuUsage();
  const conns = new Connections(mine.endpoints, mine.conns, options.tls);
  const recorder = new Recorder();
  try {
    await conns.connect();
  } catch (error) {
    conns.close();
    throw error;
  }
  let run: () => Promise<number>;
  if (mine.workload === 'watch') {
    const watch = new WatchWorkload(mine, share, conns, recorder);
    try {
      await watch.prepare();
    } catch (error) {
      watch.close();
      conns.close();
      throw error;
    }
    run = () => watch.run();
  } else {
    const operation = operationFor(mine, share, conns, recorder);
    run = () => runClosedLoop(mine, recorder, operation);
  }
  return {
    async start() {
      try {
        const elapsedNs = await run();
        return recorder.toResult(elapsedNs, process.cpuUsage(cpuBefore));
      } finally {
        conns.close();
      }
    },
  };
}

async function prepareZkRun(options: BenchOptions, share: WorkerShare): Promise<PreparedRun> {
  const cpuBefore = process.cpuUsage();
  const sessions = await ZkSessions.open(options);
  const recorder = new Recorder();
  let operation: Operation;
  try {
    operation = await prepareZkOperation(options, share, sessions);
  } catch (error) {
    await sessions.close();
    throw error;
  }
  // Each delete needs a node made beforehand: the run ends when they are all gone.
  const limits =
    options.workload === 'zk-delete'
      ? {...options, total: options.total ?? options.keySpace}
      : options;
  return {
    async start() {
      try {
        const elapsedNs = await runClosedLoop(limits, recorder, operation);
        return recorder.toResult(elapsedNs, process.cpuUsage(cpuBefore));
      } finally {
        await sessions.close();
      }
    },
  };
}

/** Messages between the parent and a worker process. */
export type ToWorker =
  | {readonly type: 'prepare'; readonly options: BenchOptions; readonly share: WorkerShare}
  | {readonly type: 'start'};
export type FromWorker =
  | {readonly type: 'ready'}
  | {readonly type: 'result'; readonly result: RunResult}
  | {readonly type: 'error'; readonly message: string};

/**
 * Runs the workload, in this process or split over `options.workers` processes. Workers all
 * set up first (connections, watchers) and start together; their histograms are merged.
 */
export async function runBench(options: BenchOptions): Promise<RunResult> {
  if (options.workers === 1) {
    const prepared = await prepareRun(options, {index: 0, count: 1});
    return prepared.start();
  }
  return runWorkers(options);
}

async function runWorkers(options: BenchOptions): Promise<RunResult> {
  const cpuBefore = process.cpuUsage();
  const source = fileURLToPath(import.meta.url).endsWith('.ts');
  const entry = fileURLToPath(new URL(source ? './worker.ts' : './worker.js', import.meta.url));
  const execArgv = source ? ['--conditions=@synod/source', '--import', 'tsx'] : [];
  const workers = Array.from({length: options.workers}, () =>
    fork(entry, [], {execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc']}),
  );
  try {
    const next = (index: number, type: FromWorker['type']): Promise<FromWorker> =>
      new Promise((resolve, reject) => {
        const child = workers[index]!;
        const onMessage = (message: FromWorker): void => {
          child.off('exit', onExit);
          if (message.type === 'error') reject(new Error(`worker ${index}: ${message.message}`));
          else if (message.type !== type)
            reject(new Error(`worker ${index}: sent ${message.type}`));
          else resolve(message);
        };
        const onExit = (code: number | null): void => {
          child.off('message', onMessage);
          reject(new Error(`worker ${index} exited (code ${code ?? 'none'}) before ${type}`));
        };
        child.once('message', onMessage);
        child.once('exit', onExit);
      });
    const send = (index: number, message: ToWorker): void => {
      workers[index]!.send(message);
    };
    const ready = workers.map((_, i) => next(i, 'ready'));
    workers.forEach((_, i) => {
      send(i, {type: 'prepare', options, share: {index: i, count: options.workers}});
    });
    await Promise.all(ready);
    const results = workers.map((_, i) => next(i, 'result'));
    workers.forEach((_, i) => {
      send(i, {type: 'start'});
    });
    const merged = mergeResults(
      (await Promise.all(results)).map(m => (m as Extract<FromWorker, {type: 'result'}>).result),
    );
    const parentCpu = process.cpuUsage(cpuBefore);
    return {
      ...merged,
      cpuUserUs: merged.cpuUserUs + parentCpu.user,
      cpuSystemUs: merged.cpuSystemUs + parentCpu.system,
      processes: merged.processes + 1,
    };
  } finally {
    for (const child of workers) {
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    }
  }
}
