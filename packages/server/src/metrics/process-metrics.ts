import {readdirSync, readFileSync} from 'node:fs';

import type {Registry} from 'prom-client';
import {collectDefaultMetrics, Gauge} from 'prom-client';

/**
 * How often the event-loop delay histogram (`nodejs_eventloop_lag_*`) samples the loop.
 * prom-client's 10 ms is a timer waking the process 100 times a second: 5 ms of CPU a second
 * on an idle member here (150 ms over 30 s, against 20 ms at 100 ms and none without the
 * histogram), most of an idle member's cost beside etcd's 5 to 8 ms a second. At 100 ms a
 * stall still shows when it spans a sample, so long ones are all seen and short ones in
 * proportion to their length.
 */
const eventLoopSampleMs = 100;

/**
 * The process's metrics: prom-client's defaults, which are the Prometheus client's standard
 * `process_*` (CPU seconds, resident and virtual memory, open and maximum file descriptors,
 * start time) and Node's runtime under `nodejs_*` (event-loop lag, heap spaces, GC durations,
 * active handles); plus what Go's client adds and etcd therefore exports: the address-space
 * limit, and etcd's own `os_fd_used` / `os_fd_limit`. The last three read `/proc`, so on other
 * systems they are left out.
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({register: registry, eventLoopMonitoringPrecision: eventLoopSampleMs});
  if (!hasProc()) return;
  const registers = [registry];
  new Gauge({
    name: 'process_virtual_memory_max_bytes',
    help: 'Maximum amount of virtual memory available in bytes.',
    registers,
    collect() {
      this.set(limitOf('Max address space'));
    },
  });
  new Gauge({
    name: 'os_fd_used',
    help: 'The number of used file descriptors.',
    registers,
    collect() {
      this.set(openFds());
    },
  });
  new Gauge({
    name: 'os_fd_limit',
    help: 'The file descriptor limit.',
    registers,
    collect() {
      this.set(limitOf('Max open files'));
    },
  });
}

function hasProc(): boolean {
  try {
    readFileSync('/proc/self/limits', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** Go's client reports an unlimited limit as the largest uint64. */
const unlimited = 2 ** 64;

/** The soft limit on one line of `/proc/self/limits`, e.g. `Max open files  1024  4096  files`. */
function limitOf(name: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find(l => l.startsWith(name));
  const soft = line?.slice(name.length).trim().split(/\s+/)[0];
  if (soft === undefined) return 0;
  return soft === 'unlimited' ? unlimited : Number(soft);
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}
