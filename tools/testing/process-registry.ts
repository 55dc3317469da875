/**
 * The processes and directories the test helpers started (etcd, Synod and ZooKeeper
 * servers, their data dirs), so that a test process that ends, by an exit or by a signal,
 * leaves none of them behind.
 */
import type {ChildProcess} from 'node:child_process';
import {rmSync} from 'node:fs';

/** @internal Children still running: a helper adds each it spawns and deletes it on exit. */
export const liveChildren = new Set<ChildProcess>();
/** @internal Data dirs to remove: a helper adds each it makes and deletes it once removed. */
export const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** Kills every member still running and removes the data dirs; synchronous. */
function killAll(): void {
  for (const child of liveChildren) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) rmSync(dir, {recursive: true, force: true});
  tempDirs.clear();
}

/** @internal Kills tracked children when the test process ends. */
export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  // A signal ends the process without 'exit' handlers: clean up, then die of the same
  // signal as if nobody had listened.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
