import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** A free TCP port on 127.0.0.1, so a server can be restarted on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A server running as a process of its own. */
export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
}

export interface SpawnOptions {
  /** How long it may take to listen (ms). */
  timeoutMs?: number;
  /** 'pipe' keeps its stderr for the error when it fails to start; 'inherit' shows it as it comes. */
  stderr?: 'pipe' | 'inherit';
}

/**
 * Runs `node …args` and resolves once it logs its `listening` line (JSON
 * with the url it listens on): Livetable from source or built, or the
 * bench's bare broadcaster. One that exits first, or does not listen within
 * the timeout, rejects, and is killed if still running.
 */
export function spawnServer(
  args: string[],
  { timeoutMs = 30_000, stderr = 'pipe' }: SpawnOptions = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', stderr] });
  const logs: Record<string, unknown>[] = [];
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not listen within ${timeoutMs / 1000} s: ${errors}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${errors}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return; // not a log line
      }
      logs.push(entry);
      if (entry.msg === 'listening' && typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve({ url: entry.url, port: Number(new URL(entry.url).port), child, exited, logs });
      }
    });
  });
}

/** Starts Livetable from its sources (`server/main.ts`), Node's options in `nodeArgs`. */
export function startChildServer(args: string[], nodeArgs: string[] = []): Promise<ServerProcess> {
  return spawnServer([...nodeArgs, '--import', 'tsx', 'server/main.ts', ...args], { timeoutMs: 20_000 });
}

/** Starts the built Livetable (`npm run build` first) serving the built page. */
export function startBuiltServer(args: string[], options?: SpawnOptions): Promise<ServerProcess> {
  return spawnServer(['dist/server/main.js', '--static-dir', 'dist/web', ...args], options);
}

/**
 * Options for the built Livetable seeded with `rows` rows (room for as many
 * again), in memory, on a free port; `more` is appended.
 */
export function seededServerArgs(rows: number, more: string[] = []): string[] {
  return ['--port', '0', '--store', 'memory', '--seed-rows', String(rows), '--max-records', String(2 * rows), ...more];
}
