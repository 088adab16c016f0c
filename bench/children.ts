import type { ChildProcess } from 'node:child_process';

/**
 * Every child process the bench starts is registered here, so that no exit path — success, a
 * thrown error, Ctrl-C, SIGTERM from a CI timeout, the watchdog — leaves a Tollgate running.
 */

const running = new Set<ChildProcess>();
let installed = false;

export function trackChild(child: ChildProcess): void {
  installCleanup();
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** SIGKILL, because this runs from `process.on('exit')` where nothing asynchronous can wait for a graceful stop. */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal} received, stopping child processes`);
      killAllChildren();
      process.exit(130);
    });
  }
}

/**
 * Ends the run if it overruns its time budget (a hung server or a stuck socket must not keep
 * CI waiting); `unref` so the timer itself never keeps the process alive.
 */
export function startWatchdog(limitMs: number): void {
  installCleanup();
  setTimeout(() => {
    console.error(`bench: still running after ${limitMs / 1000} s, aborting`);
    killAllChildren();
    process.exit(1);
  }, limitMs).unref();
}
