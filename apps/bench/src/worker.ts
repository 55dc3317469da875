/**
 * A load-generating worker process, forked by `runBench` for `--workers N`: it sets up its
 * share when asked, says ready, runs on `start`, and sends back what it measured.
 */
import {prepareRun} from './run.js';
import type {FromWorker, PreparedRun, ToWorker} from './run.js';

let prepared: PreparedRun | undefined;

function reply(message: FromWorker): void {
  process.send?.(message);
}

function fail(error: unknown): void {
  reply({type: 'error', message: error instanceof Error ? error.message : String(error)});
  process.disconnect();
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'prepare') {
    prepareRun(message.options, message.share).then(run => {
      prepared = run;
      reply({type: 'ready'});
    }, fail);
  } else if (prepared !== undefined) {
    prepared.start().then(result => {
      reply({type: 'result', result});
      process.disconnect();
    }, fail);
  }
});
