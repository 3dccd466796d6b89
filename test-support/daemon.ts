import { type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What the tests' own servers (Redis, haproxy) share: finding their binary,
 * waiting for their exit, and cleaning up whatever a test leaves running or
 * on disk when the test process ends, also when its runner ends it with
 * SIGTERM, as vitest does with its workers.
 */
export const running = new Set<ChildProcess>();
export const madeDirs = new Set<string>();

function cleanUp(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
}
process.once('exit', cleanUp);
process.once('SIGTERM', () => {
  cleanUp();
  // Then die of the signal as if nobody had listened, unless another listener handles it.
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
});

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary `name`: from env `envVar`, else on PATH, else at `fallback`; throws with `hint` when absent. */
export function findBinary(name: string, envVar: string, fallback: string, hint: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(`${envVar}=${fromEnv} is not an executable file. ${hint}`);
  }
  const candidates = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name));
  const found = [...candidates, fallback].find(executable);
  if (found === undefined) throw new Error(`${name} not found on PATH. ${hint}`);
  return found;
}

/** Resolves once `child` has exited (at once if it has). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // A process that never started reports an error and may never report an exit.
    child.once('error', () => child.pid === undefined && resolve());
  });
}
